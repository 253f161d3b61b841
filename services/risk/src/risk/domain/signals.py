"""The raw value of every early-warning signal of an account, as of a date."""

from __future__ import annotations

from collections.abc import Collection

from risk.domain.state import AccountState, month_of

RECENT_SETTLEMENTS = 5
MIN_SETTLEMENTS_FOR_SHARE = 3
MIN_SETTLEMENTS_FOR_TREND = 8
TERMS_WINDOW_DAYS = 180
EVENT_WINDOW_DAYS = 365
DISPUTE_WINDOW_DAYS = 180
NEWS_HALF_LIFE_DAYS = 90.0
INSOLVENCY_HALF_LIFE_DAYS = 365.0
ORDER_RECENT_MONTHS = 3
ORDER_BASELINE_MONTHS = 6
NEGATIVE_KINDS = ("negative_news", "other")

Measures = dict[str, float]


def _avg_late(days: list[int]) -> float:
    return sum(max(0, d) for d in days) / len(days) if days else 0.0


def _decayed(state: AccountState, as_of: int) -> tuple[float, float, float, float, int]:
    """Decayed severities (news, downgrades, upgrades, insolvency) and recent terms requests,
    in one pass over the signals (each kind's terms summed in the same order as one by one)."""
    news = downgrade = upgrade = insolvency = 0.0
    terms = 0
    for kind, severity, on, _ in state.signals.values():
        age = as_of - on
        if kind == "credit_terms_request":
            if on and 0 <= age <= TERMS_WINDOW_DAYS:
                terms += 1
        elif 0 <= age <= EVENT_WINDOW_DAYS * 2:
            if kind in NEGATIVE_KINDS:
                news += severity / 5 * 0.5 ** (age / NEWS_HALF_LIFE_DAYS)
            elif kind == "bureau_downgrade":
                downgrade += severity / 5 * 0.5 ** (age / NEWS_HALF_LIFE_DAYS)
            elif kind == "bureau_upgrade":
                upgrade += severity / 5 * 0.5 ** (age / NEWS_HALF_LIFE_DAYS)
            elif kind == "insolvency_notice":
                insolvency += severity / 5 * 0.5 ** (age / INSOLVENCY_HALF_LIFE_DAYS)
    return news, downgrade, upgrade, insolvency, terms


def _within(dates: Collection[int], as_of: int, days: int) -> int:
    if not dates:  # most accounts: nothing broken, missed, disputed or reversed
        return 0
    return sum(1 for on in dates if on and 0 <= as_of - on <= days)


def late_payment(state: AccountState) -> tuple[float, float, float]:
    """Share paid late, average days late, and the recent window's trend against history."""
    count = state.settled_count
    share = state.late_count / count if count >= MIN_SETTLEMENTS_FOR_SHARE else 0.0
    average = state.days_late_sum / count if count else 0.0
    trend = 0.0
    if count >= MIN_SETTLEMENTS_FOR_TREND:
        recent = [s[1] for s in state.settlements[-RECENT_SETTLEMENTS:]]
        recent_sum = sum(max(0, d) for d in recent)
        history = (state.days_late_sum - recent_sum) / (count - len(recent))
        trend = _avg_late(recent) - history
    return share, average, trend


_NO_MONTH = (0, 0)


def ordering_change(state: AccountState, as_of: int) -> float:
    """Invoiced value of the last 3 complete months over the 6 before; 1.0 = as usual."""
    monthly = state.monthly
    if not monthly or not as_of:
        return 1.0
    current = month_of(as_of)  # still running: it counts from next month on
    recent = 0
    for i in range(1, ORDER_RECENT_MONTHS + 1):
        recent += monthly.get(current - i, _NO_MONTH)[1]
    baseline = active = 0
    for i in range(ORDER_RECENT_MONTHS + 1, ORDER_RECENT_MONTHS + ORDER_BASELINE_MONTHS + 1):
        value = monthly.get(current - i, _NO_MONTH)[1]
        baseline += value
        active += value > 0
    if active < 3:
        return 1.0  # too little history to know the account's usual pattern
    return recent / (baseline * ORDER_RECENT_MONTHS / ORDER_BASELINE_MONTHS)


def exposure(state: AccountState, as_of: int) -> tuple[float, float, float, int]:
    """Credit-limit utilisation, overdue share of the open balance, oldest overdue age, partials."""
    open_balance = overdue = partial = 0
    oldest_due: int | None = None
    for invoice in state.invoices.values():
        if invoice.total is None:
            continue
        balance = invoice.balance
        open_balance += balance
        if 0 < invoice.paid < invoice.total:
            partial += 1
        if balance > 0 and invoice.due < as_of:
            overdue += balance
            oldest_due = invoice.due if oldest_due is None else min(oldest_due, invoice.due)
    limit = state.credit_limit
    utilisation = open_balance / limit if limit else 0.0
    share = overdue / open_balance if open_balance else 0.0
    days = as_of - oldest_due if oldest_due is not None else 0
    return utilisation, share, float(days), partial


def measure(state: AccountState, as_of: int | None = None) -> Measures:
    """Every signal's raw value; as_of defaults to the account's latest business date."""
    day = max(state.as_of, as_of or 0)
    share, average, trend = late_payment(state)
    utilisation, overdue_share, overdue_days, partial = exposure(state, day)
    news, downgrade, upgrade, insolvency, terms = _decayed(state, day)
    ratio = ordering_change(state, day)
    return {
        "LATE_SHARE": share,
        "AVG_DAYS_LATE": average,
        "LATE_TREND": trend,
        "CREDIT_TERMS_REQUESTS": float(terms),
        "ORDER_DROP": max(0.0, 1.0 - ratio),
        "ORDER_SPIKE": ratio,
        "NEGATIVE_NEWS": news,
        "BUREAU_DOWNGRADE": downgrade,
        "BUREAU_UPGRADE": upgrade,
        "INSOLVENCY_NOTICE": insolvency,
        "BROKEN_PROMISES": float(_within(state.broken.values(), day, EVENT_WINDOW_DAYS)),
        "DISPUTES_OPENED": float(
            _within([d[0] for d in state.disputes.values()], day, DISPUTE_WINDOW_DAYS)
        ),
        "PARTIAL_PAYMENTS": float(partial),
        "MISSED_INSTALLMENTS": float(_within(state.missed.values(), day, EVENT_WINDOW_DAYS)),
        "PAYMENT_REVERSALS": float(_within(state.reversals.values(), day, DISPUTE_WINDOW_DAYS)),
        "CREDIT_UTILISATION": utilisation,
        "OVERDUE_DAYS": overdue_days,
        "OVERDUE_SHARE": overdue_share,
        "AGENCY_HANDOFF": 1.0 if state.agency_on and day - state.agency_on <= 365 else 0.0,
    }
