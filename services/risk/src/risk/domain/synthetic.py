"""A documented synthetic portfolio: accounts, their facts over time, and who went bad when.

Each account has a habitual payment delay (most pay within a few days of the due date, some
are chronically late but never default), a monthly ordering volume and a credit limit of 2.5
months of orders. A share of accounts becomes *distressed* at a random month: from then on
its lateness grows every month, its orders shrink, it asks for longer credit terms, breaks
promises, pays in part, and news or bureau downgrades appear; 2 to 4 months later it stops
paying, and it is *bad* once an invoice is 61 days overdue. Some healthy accounts have one
invoice held up in a dispute (overdue for a while, then paid), which fools a naive
"currently overdue" rule. Everything is drawn from one seed, so a portfolio is reproducible.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from risk.domain import facts as f
from risk.domain.state import BAD_OVERDUE_DAYS, AccountState, apply

START = dt.date(2024, 1, 1).toordinal()
MONTHS = 18
SNAPSHOT_DAY = START + 365
HORIZON_DAYS = 90
TERMS_DAYS = 30
DISTRESS_RATE = 0.18
DISPUTE_RATE = 0.12
CHRONIC_RATE = 0.15


@dataclass(frozen=True)
class SyntheticAccount:
    """One account: its facts in date order and the day it went bad, if it did."""

    account_id: str
    facts: tuple[tuple[int, f.Fact], ...]
    bad_on: int | None


@dataclass
class _Profile:
    delay: float
    monthly_orders: float
    value: int
    distress_month: int | None
    default_month: int | None
    disputed_month: int | None


def _profile(rng: random.Random) -> _Profile:
    chronic = rng.random() < CHRONIC_RATE
    delay = rng.uniform(8, 20) if chronic else rng.gauss(1.0, 3.0)
    distress = rng.randint(6, 15) if rng.random() < DISTRESS_RATE else None
    default = distress + rng.randint(2, 4) if distress is not None else None
    disputed = rng.randint(10, 12) if distress is None and rng.random() < DISPUTE_RATE else None
    return _Profile(
        delay, rng.uniform(1, 4), int(rng.lognormvariate(8, 0.8)) * 100, distress, default, disputed
    )


def _account(index: int, rng: random.Random) -> SyntheticAccount:
    p = _profile(rng)
    account_id = f"syn-{index:06d}"
    limit = int(p.monthly_orders * p.value * 2.5)
    timeline: list[tuple[int, f.Fact]] = [(START, f.Registered(f"ERP-{index}", "EUR", limit))]
    bad_on: int | None = None
    serial = 0
    for month in range(MONTHS):
        distressed = p.distress_month is not None and month >= p.distress_month
        months_in = month - p.distress_month + 1 if distressed and p.distress_month else 0
        orders = p.monthly_orders * (0.55**months_in)
        for _ in range(_poisson(rng, orders)):
            serial += 1
            issue = START + month * 30 + rng.randint(0, 29)
            due = issue + TERMS_DAYS
            invoice_id = f"{account_id}-i{serial}"
            total = max(100, int(p.value * rng.uniform(0.5, 1.5)))
            timeline.append((issue, f.Invoiced(invoice_id, total, issue, due)))
            defaulted = p.default_month is not None and month >= p.default_month - 1
            if defaulted:
                bad = due + BAD_OVERDUE_DAYS
                bad_on = bad if bad_on is None else min(bad_on, bad)
                _overdue_marks(timeline, invoice_id, due, total, paid_on=None)
                continue
            delay = p.delay + rng.gauss(0, 2) + 9 * months_in
            if p.disputed_month == month and rng.random() < 0.7:
                delay += rng.uniform(25, 55)
                timeline.append((due + 2, f.Disputed(f"{invoice_id}-d", due + 2)))
                timeline.append(
                    (due + int(delay), f.DisputeClosed(f"{invoice_id}-d", due + int(delay)))
                )
            paid_on = max(issue, due + round(delay))
            if distressed and rng.random() < 0.5:
                part = total // 2
                timeline.append((due, f.Paid(f"{invoice_id}-p0", ((invoice_id, part),), due)))
                timeline.append(
                    (paid_on, f.Paid(f"{invoice_id}-p1", ((invoice_id, total - part),), paid_on))
                )
            else:
                timeline.append(
                    (paid_on, f.Paid(f"{invoice_id}-p", ((invoice_id, total),), paid_on))
                )
            timeline.append((paid_on, f.Settled(invoice_id, paid_on, paid_on - due)))
            _overdue_marks(timeline, invoice_id, due, total, paid_on=paid_on)
        if distressed:
            _distress_signals(timeline, rng, account_id, month, months_in)
    timeline.sort(key=lambda item: item[0])
    return SyntheticAccount(account_id, tuple(timeline), bad_on)


def _overdue_marks(
    timeline: list[tuple[int, f.Fact]],
    invoice_id: str,
    due: int,
    total: int,
    *,
    paid_on: int | None,
) -> None:
    for threshold in (1, 31, 61, 91):
        day = due + threshold
        if paid_on is None or paid_on > day:
            timeline.append((day, f.Overdue(day, ((invoice_id, due, total),))))


def _distress_signals(
    timeline: list[tuple[int, f.Fact]],
    rng: random.Random,
    account_id: str,
    month: int,
    months_in: int,
) -> None:
    day = START + month * 30 + rng.randint(0, 29)
    tag = f"{account_id}-m{month}"
    if months_in == 1 and rng.random() < 0.6:
        timeline.append((day, f.Signal(f"{tag}-terms", "credit_terms_request", 2, day, 60)))
    if rng.random() < 0.3:
        kind = rng.choice(["negative_news", "bureau_downgrade"])
        timeline.append((day, f.Signal(f"{tag}-ext", kind, rng.randint(2, 4), day)))
    if months_in >= 2 and rng.random() < 0.4:
        timeline.append((day, f.PromiseBroken(f"{tag}-promise", day)))


def _poisson(rng: random.Random, lam: float) -> int:
    count, threshold, product = 0, pow(2.718281828459045, -lam), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def portfolio(accounts: int, *, seed: int = 7) -> list[SyntheticAccount]:
    """A reproducible synthetic portfolio."""
    rng = random.Random(seed)
    return [_account(i, rng) for i in range(accounts)]


def state_at(account: SyntheticAccount, day: int) -> AccountState:
    """The account's state built from every fact dated on or before `day`."""
    state = AccountState()
    for on, fact in account.facts:
        if on > day:
            break
        apply(state, fact)
    return state


def label(account: SyntheticAccount, day: int, horizon: int = HORIZON_DAYS) -> int | None:
    """1 if the account goes bad within the horizon after `day`; None if it was bad already."""
    if account.bad_on is not None and account.bad_on <= day:
        return None
    return int(account.bad_on is not None and account.bad_on <= day + horizon)
