"""`python -m bench [--only NAME] [--events N]`: run the benchmarks, print one table."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence

try:
    import uvloop
except ImportError:  # not on Windows; the services then run on asyncio's loop too
    uvloop = None  # type: ignore[assignment]

from bench import consumer, dunning, http_api, ledger, memory, notifications, relay, risk
from bench.infra import servers
from bench.results import Result, render, write_json

BENCHMARKS = (
    "memory",
    "consumer",
    "relay",
    "http",
    "ledger",
    "dunning",
    "notifications",
    "risk",
    "erp",
)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="repeatable")
    parser.add_argument("--events", type=int, default=100_000, help="events per pipeline test")
    parser.add_argument("--naive-events", type=int, default=10_000, help="naive consumer sample")
    parser.add_argument("--batch-size", type=int, default=1_000, help="consumer batch size")
    parser.add_argument("--outbox-batch-size", type=int, default=2_000, help="relay batch size")
    parser.add_argument("--requests", type=int, default=5_000, help="measured HTTP requests")
    parser.add_argument(
        "--erp-invoices", type=int, default=20_000, help="ERP invoices of `--only erp`"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile pipeline and relay")
    parser.add_argument(
        "--repeats", type=int, default=3, help="repetitions of consumer b and c (best reported)"
    )
    parser.add_argument(
        "--lanes",
        type=_positive,
        default=consumer.DEFAULT_LANES,
        help="consumer c lanes and b concurrent inserters (the 1-lane pair is kept as reference)",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop" if uvloop is not None else "asyncio",
        help="event loop (services run under uvicorn, which picks uvloop when installed)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def _positive(value: str) -> int:
    """An argparse type: an integer of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


async def main(args: argparse.Namespace) -> list[Result]:
    """Run the chosen benchmarks against one set of servers, cleaned up afterwards."""
    chosen = args.only or list(BENCHMARKS)
    results: list[Result] = []
    async with servers() as infra:
        print(f"bench: {infra.origin}; database {infra.database_url}; broker {infra.bootstrap}")
        # First, while the database and the topics are still empty: every later benchmark
        # leaves work behind (the ledger one 100,000 AccountOverdue outbox rows, the HTTP one
        # InvoiceIssued events on the topics) that services started afterwards would relay and
        # consume, which is not idle.
        if "memory" in chosen:
            say("idle memory ...")
            results += await memory.run(infra)
        if "consumer" in chosen:
            say("consumer pipeline ...")
            opts = consumer.Options(
                events=args.events,
                naive_events=min(args.naive_events, args.events),
                batch_size=args.batch_size,
                profile=args.profile,
                repeats=args.repeats,
                lanes=args.lanes,
            )
            results += await consumer.run(infra, opts)
        if "relay" in chosen:
            say("outbox relay ...")
            results += await relay.run(infra, args.events, args.outbox_batch_size, args.profile)
        if "http" in chosen:
            say("HTTP POST /invoices and ERP ingestion ...")
            results += await http_api.run(infra, http_api.Options(requests=args.requests))
        if "ledger" in chosen:
            say("ledger: overdue sweep and aging report over 1,000,000 invoices ...")
            results += await ledger.run(infra)
        if "dunning" in chosen:
            say("dunning: event handling, due sweep, idle sweep ...")
            results += await dunning.run(infra)
        if "notifications" in chosen:
            say("notifications: e-mails, letters, memory over many deliveries ...")
            results += await notifications.run(infra)
        if "risk" in chosen:
            say("risk: incremental scoring, full rescoring ...")
            results += await risk.run(infra)
        if "erp" in chosen and args.only:  # ERP ingestion alone; `http` measures it too
            say("ERP ingestion alone ...")
            results += await http_api.erp_only(infra, args.erp_invoices)
    return results


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


def cli(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    # The platform logs every consumer join and relay start; the table is what matters here.
    logging.basicConfig(level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"))
    started = time.monotonic()
    if args.loop == "uvloop" and uvloop is None:
        raise SystemExit("bench: --loop uvloop, but uvloop is not installed")
    loop_factory = uvloop.new_event_loop if args.loop == "uvloop" and uvloop else None
    print(f"bench: event loop {args.loop}", flush=True)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        results = runner.run(main(args))
    print()
    print(render(results))
    path = write_json(results, {"args": vars(args), "seconds": round(time.monotonic() - started)})
    print(f"\nbench: done in {time.monotonic() - started:.0f}s; wrote {path}")
    # Not failing by default: shared 2-core machines are noisy; CI opts in with --strict.
    return 1 if args.strict and any(r.verdict == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(cli())
