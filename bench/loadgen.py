"""A small closed-loop HTTP/1.1 load generator on raw asyncio streams (keep-alive, no pipelining).

A full HTTP client costs more CPU per request than the server under test on a 2-core
machine; this one only writes prebuilt bytes and reads the status line and body.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadStats:
    """Throughput and latency of one load run."""

    requests: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    statuses: dict[int, int]
    server_cpu_s: float = 0.0  # filled in by callers that watch the server process

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of one keep-alive POST with a JSON body."""
    head = [f"POST {path} HTTP/1.1", "Host: bench", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def run_load(
    host: str, port: int, request: Callable[[int], bytes], *, total: int, concurrency: int
) -> LoadStats:
    """Send `total` requests over `concurrency` connections; each waits for its answer."""
    counter = itertools.count()
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (i := next(counter)) < total:
                started = time.perf_counter()
                writer.write(request(i))
                status = await _read_response(reader)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return LoadStats(total, time.perf_counter() - started, latencies, statuses)
