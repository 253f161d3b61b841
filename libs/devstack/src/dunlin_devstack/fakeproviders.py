"""Local fakes of the HTTP providers: Twilio-style SMS and calls, print-and-mail, an agency.

Each honours idempotency keys (the same key answers the same message, nothing new is made)
and keeps what it received, so a newcomer and the tests can see every message.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

HOST = "127.0.0.1"


@dataclass
class Received:
    """Everything the fakes were sent, by kind (sms, call, letter, case)."""

    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: int = 0

    def of(self, kind: str) -> list[dict[str, Any]]:
        """What arrived of one kind, oldest first."""
        return self.items.setdefault(kind, [])


def create_fake_app(received: Received, *, folder: Path | None = None) -> FastAPI:
    """The fake providers' app; `folder` keeps posted letters as PDFs and cases as JSON."""
    app = FastAPI(title="Dunlin fake providers")

    def remember(kind: str, key: str | None, make: dict[str, Any]) -> dict[str, Any]:
        if key and key in received.by_key:
            received.duplicates += 1
            return received.by_key[key]
        received.of(kind).append(make)
        if key:
            received.by_key[key] = make
        return make

    async def twilio(request: Request, kind: str, prefix: str) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        key = request.headers.get("I-Twilio-Idempotency-Token")
        if form.get("To", "").endswith("0000"):
            return JSONResponse({"code": 21211, "message": "invalid 'To' number"}, 400)
        item = remember(
            kind, key, {"sid": f"{prefix}{uuid.uuid4().hex}", "status": "queued", **form}
        )
        return JSONResponse({"sid": item["sid"], "status": "queued"}, 201)

    @app.post("/twilio/2010-04-01/Accounts/{sid}/Messages.json")
    async def sms(request: Request, sid: str) -> JSONResponse:
        return await twilio(request, "sms", "SM")

    @app.post("/twilio/2010-04-01/Accounts/{sid}/Calls.json")
    async def call(request: Request, sid: str) -> JSONResponse:
        return await twilio(request, "call", "CA")

    @app.post("/print/letters")
    async def letter(request: Request) -> JSONResponse:
        body = await request.json()
        key = request.headers.get("Idempotency-Key")
        item = remember("letter", key, {"id": f"LTR{uuid.uuid4().hex[:12]}", **body})
        if folder is not None and item is received.of("letter")[-1]:
            pdf = base64.b64decode(body["document"])
            await asyncio.to_thread(_write, folder / "print" / f"{item['id']}.pdf", pdf)
        return JSONResponse({"id": item["id"], "status": "accepted"}, 201)

    @app.post("/agency/cases")
    async def case(request: Request) -> JSONResponse:
        raw = await request.body()
        key = request.headers.get("Idempotency-Key")
        made = {
            "reference": f"AG-{uuid.uuid4().hex[:10]}",
            "signature": request.headers.get("X-Dunlin-Signature"),
            "timestamp": request.headers.get("X-Dunlin-Timestamp"),
            "raw": raw.decode(),
            **json.loads(raw),
        }
        item = remember("case", key, made)
        if folder is not None and item is made:
            await asyncio.to_thread(_write, folder / "agency" / f"{item['reference']}.json", raw)
        return JSONResponse({"reference": item["reference"], "acknowledged": True}, 202)

    @app.get("/received")
    async def listing() -> dict[str, Any]:
        return {kind: len(items) for kind, items in received.items.items()}

    return app


@dataclass
class FakeProviders:
    """The fakes served by uvicorn inside the caller's event loop."""

    folder: Path | None = None
    port: int = 0
    received: Received = field(default_factory=Received)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def sms_api_url(self) -> str:
        """Twilio-style account URL; Messages.json and Calls.json hang below it."""
        return f"{self.base_url}/twilio/2010-04-01/Accounts/AC_dev"

    @property
    def print_api_url(self) -> str:
        return f"{self.base_url}/print"

    @property
    def agency_api_url(self) -> str:
        return f"{self.base_url}/agency"

    async def start(self) -> None:
        """Serve on HOST:port (0 picks a free port)."""
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_fake_app(self.received, folder=self.folder), log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)
        self._server = self._task = None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
