"""`python -m risk model train|evaluate|activate|list|backtest` and `python -m risk rescore`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform.clock import SystemClock
from risk import learning, repository
from risk.config import RiskSettings
from risk.db import ModelRow
from risk.domain import synthetic
from risk.registry import ModelRegistry, load_model
from risk.rescoring import rescore_all
from risk.runtime import RiskRuntime

COMMANDS = ("model", "rescore")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m risk")
    sub = parser.add_subparsers(dest="command", required=True)
    model = sub.add_parser("model", help="learned model versions").add_subparsers(
        dest="action", required=True
    )
    train = model.add_parser("train", help="train (platform history or synthetic) and store it")
    train.add_argument(
        "--source",
        choices=("synthetic", "platform"),
        default="synthetic",
        help="platform: the service's own invoices and the signals of their accounts at issue",
    )
    train.add_argument("--kind", choices=("logistic", "gbm"), default="logistic")
    train.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=None,
        help="platform: the day outcomes are known by (default: today)",
    )
    train.add_argument("--accounts", type=int, default=4000)
    train.add_argument("--seed", type=int, default=7)
    train.add_argument("--version", default=None)
    train.add_argument("--activate", action="store_true")
    evaluate = model.add_parser("evaluate", help="backtest a stored version on fresh accounts")
    evaluate.add_argument("version")
    evaluate.add_argument("--accounts", type=int, default=4000)
    evaluate.add_argument("--seed", type=int, default=1001)
    activate = model.add_parser("activate", help="score with this version (or 'transparent')")
    activate.add_argument("version")
    model.add_parser("list", help="stored versions")
    backtest = model.add_parser("backtest", help="train and test on synthetic portfolios")
    backtest.add_argument("--accounts", type=int, default=4000)
    backtest.add_argument("--seed", type=int, default=7)
    backtest.add_argument("--kind", choices=("logistic", "gbm"), default="logistic")
    rescore = sub.add_parser("rescore", help="rescore every account with the active model")
    rescore.add_argument("--as-of", type=dt.date.fromisoformat, default=None)
    return parser


async def _platform_data(
    runtime: RiskRuntime, reference: dt.date
) -> tuple[learning.Dataset, str | None]:
    async with runtime.sessionmaker() as session:
        rows = await repository.invoice_outcomes(session=session, reference=reference)
    data = learning.platform_dataset(
        (learning.InvoiceOutcome(*row) for row in rows), reference=reference
    )
    return data, learning.too_little(data)


async def _train(runtime: RiskRuntime, args: argparse.Namespace) -> str:
    prefix = "gbm" if args.kind == "gbm" else "lr"
    version = args.version or f"{prefix}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}"
    notes: list[str] = []
    data: learning.Dataset | None = None
    if args.source == "platform":
        reference = args.as_of or runtime.clock.now().date()
        data, problem = await _platform_data(runtime, reference)
        if problem:
            notes.append(f"{problem}; training on the synthetic portfolio instead")
            data = None
    if data is not None:
        model, evaluations = await asyncio.to_thread(
            learning.platform_backtest, data, kind=args.kind, version=version
        )
        trained_on = (
            f"platform history to {reference}: {len(data.labels)} invoices"
            f" ({sum(data.labels)} bad: paid > {learning.LATE_DAYS} days late or unpaid"
            f" {learning.UNPAID_DAYS} days after due), newest 25 % held out"
        )
    else:
        model, evaluations = await asyncio.to_thread(
            learning.synthetic_backtest, args.accounts, seed=args.seed, kind=args.kind
        )
        trained_on = f"synthetic portfolio, {args.accounts} accounts, seed {args.seed}"
    params = model.to_params()
    load_model(version, params)  # what is stored must load
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            ModelRow(
                version=version,
                kind=args.kind,
                params=params,
                metrics={"backtest": learning.as_json(evaluations)},
                trained_on=trained_on,
                active=False,
                created_at=now,
            )
        )
    report = learning.render(evaluations)
    if args.activate:
        report += "\n" + await _activate(runtime.sessionmaker, version, now)
    return "\n".join([*notes, f"stored {version} ({trained_on})", report])


async def _activate(
    sessionmaker: async_sessionmaker[AsyncSession], version: str, now: dt.datetime
) -> str:
    async with sessionmaker() as session, session.begin():
        await session.execute(update(ModelRow).where(ModelRow.active).values(active=False))
        if version != "transparent":
            row = await session.get(ModelRow, version)
            if row is None:
                raise SystemExit(f"no model version {version}")
            registry = ModelRegistry()
            registry.use(row.version, row.params)
            if registry.load_error:
                raise SystemExit(registry.load_error)
            row.active, row.activated_at = True, now
    return f"active: {version} (run `python -m risk rescore` to rescore every account now)"


async def _evaluate(runtime: RiskRuntime, args: argparse.Namespace) -> str:
    async with runtime.sessionmaker() as session:
        row = await session.get(ModelRow, args.version)
    if row is None:
        raise SystemExit(f"no model version {args.version}")
    model = load_model(row.version, row.params)
    accounts = synthetic.portfolio(args.accounts, seed=args.seed)
    data = learning.synthetic_dataset(accounts, synthetic.SNAPSHOT_DAY)
    return learning.render(learning.evaluate(model, data), examples=len(data.labels))


async def _list(runtime: RiskRuntime) -> str:
    async with runtime.sessionmaker() as session:
        rows = (await session.scalars(select(ModelRow).order_by(ModelRow.created_at))).all()
    lines = [f"{'*' if r.active else ' '} {r.version}  {r.kind}  {r.trained_on}" for r in rows]
    return "\n".join(lines or ["no stored models: the transparent points card scores"])


async def _run(args: argparse.Namespace) -> str:
    if args.command == "model" and args.action == "backtest":
        _, evaluations = learning.synthetic_backtest(args.accounts, seed=args.seed, kind=args.kind)
        return learning.render(evaluations)
    runtime = RiskRuntime(RiskSettings(), clock=SystemClock())
    try:
        if args.command == "rescore":
            await runtime.registry.refresh(runtime.sessionmaker)
            report = await rescore_all(
                sessionmaker=runtime.sessionmaker,
                outbox=runtime.outbox,
                scorer=runtime.registry.current,
                now=runtime.clock.now(),
                as_of=args.as_of,
                chunk=runtime.settings.rescore_chunk_size,
                processes=runtime.settings.rescore_processes,
                settings=runtime.settings,
            )
            return json.dumps({"accounts": report.accounts, "published": report.published})
        match args.action:
            case "train":
                return await _train(runtime, args)
            case "evaluate":
                return await _evaluate(runtime, args)
            case "activate":
                return await _activate(runtime.sessionmaker, args.version, runtime.clock.now())
            case _:
                return await _list(runtime)
    finally:
        await runtime.engine.dispose()


def main(argv: Sequence[str]) -> int:
    """Run one model or rescoring command and print its report."""
    print(asyncio.run(_run(_parser().parse_args(argv))))
    return 0
