"""Liveness, readiness and Prometheus metrics endpoints (unauthenticated, for probes)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from dunlin_platform.http.problems import ProblemError, problem_response

Check = Callable[[], Awaitable[None]]

READINESS_TIMEOUT_SECONDS = 2.0

log = logging.getLogger(__name__)


class NotReady(Exception):
    """A check's own explanation, written to be shown on the unauthenticated probe."""


async def _run_check(name: str, check: Check, limit: float) -> str:
    try:
        await asyncio.wait_for(check(), limit)
    except TimeoutError:
        return f"timed out after {limit:g}s"
    except NotReady as exc:
        return str(exc)[:300]
    except Exception as exc:  # readiness reports any failure instead of crashing the probe
        # The probe is unauthenticated: the body names the error's type only, while the
        # message (hosts, ports, user names) goes to the service's own log.
        log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
        return f"failed: {type(exc).__name__}"
    return "ok"


def health_router(
    checks: Mapping[str, Check], *, timeout: float = READINESS_TIMEOUT_SECONDS
) -> APIRouter:
    """Build /healthz, /readyz (runs every check concurrently) and /metrics."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz", response_model=None)
    async def readyz(request: Request) -> dict[str, object] | JSONResponse:
        """Every dependency (database, broker, ...) answers within the timeout."""
        names = list(checks)
        outcomes = await asyncio.gather(*(_run_check(n, checks[n], timeout) for n in names))
        results = dict(zip(names, outcomes, strict=True))
        failed = sorted(name for name, outcome in results.items() if outcome != "ok")
        if failed:
            error = ProblemError(
                503,
                "Service Unavailable",
                f"Not ready: {', '.join(failed)} failed.",
                slug="not-ready",
                checks=results,
            )
            return problem_response(request, error)
        return {"status": "ok", "checks": results}

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus exposition of the default registry (OpenMetrics if the scraper asks)."""
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(REGISTRY), headers={"Content-Type": content_type})

    return router
