"""One account's signal features, kept incrementally: each fact is applied once, in any order."""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from typing import Any

from risk.domain import facts as f

SETTLEMENTS_KEPT = 24
MONTHS_KEPT = 18
SIGNALS_KEPT = 30
DATED_KEPT = 40
BAD_OVERDUE_DAYS = 61


@dataclass(slots=True)
class OpenInvoice:
    """An unpaid invoice; total is None while only a payment for it has been seen."""

    total: int | None
    paid: int
    issue: int
    due: int

    @property
    def balance(self) -> int:
        """What is still owed (0 for an invoice not issued yet)."""
        return max(0, (self.total or 0) - self.paid)


@dataclass(slots=True)
class AccountState:
    """Everything the signals are computed from; dates are proleptic ordinals."""

    registered: bool = False
    external_id: str | None = None
    currency: str = ""
    credit_limit: int | None = None
    # The IANA zone of the account's calendar, from its registration; "UTC" until then and for
    # states stored before the zone was kept. The translation dates timestamps with it.
    time_zone: str = "UTC"
    as_of: int = 0
    invoices: dict[str, OpenInvoice] = field(default_factory=dict)
    settled_count: int = 0
    late_count: int = 0
    days_late_sum: int = 0
    # (settled_on, days_late, invoice_id, issue counted 0/1), oldest first: the most recent
    # SETTLEMENTS_KEPT; the flag lets an InvoiceIssued seen after its settlement count once.
    settlements: list[tuple[int, int, str, int]] = field(default_factory=list)
    # Month index (year * 12 + month - 1) -> [invoice count, invoiced minor units].
    monthly: dict[int, list[int]] = field(default_factory=dict)
    # signal_id -> (kind, severity, observed_on, requested_days or 0)
    signals: dict[str, tuple[str, int, int, int]] = field(default_factory=dict)
    broken: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    # dispute_id -> [opened_on, resolved_on]; 0 when not seen (yet)
    disputes: dict[str, list[int]] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)
    reversals: dict[str, int] = field(default_factory=dict)
    agency_on: int | None = None
    bad_on: int | None = None

    def to_json(self) -> dict[str, Any]:
        """What is stored in the accounts row, for json.dumps (shares the state's lists)."""
        return {
            "r": self.registered,
            "x": self.external_id,
            "c": self.currency,
            "l": self.credit_limit,
            "tz": self.time_zone,
            "a": self.as_of,
            "i": {k: [v.total, v.paid, v.issue, v.due] for k, v in self.invoices.items()},
            "sc": [self.settled_count, self.late_count, self.days_late_sum],
            # Tuples and int keys encode as JSON arrays and string keys: no copies needed.
            "s": self.settlements,
            "m": self.monthly,
            "g": self.signals,
            "b": self.broken,
            "k": self.kept,
            "d": self.disputes,
            "ms": self.missed,
            "rv": self.reversals,
            "ag": self.agency_on,
            "bad": self.bad_on,
        }

    @classmethod
    def loads(cls, text: str) -> AccountState:
        """Rebuild a state from its stored text."""
        return cls.from_json(json.loads(text))

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> AccountState:
        """Rebuild a state stored by to_json."""
        count, late, days = raw["sc"]
        return cls(
            registered=raw["r"],
            external_id=raw["x"],
            currency=raw["c"],
            credit_limit=raw["l"],
            time_zone=raw.get("tz", "UTC"),  # absent from states stored before it was kept
            as_of=raw["a"],
            invoices={k: OpenInvoice(*v) for k, v in raw["i"].items()},
            settled_count=count,
            late_count=late,
            days_late_sum=days,
            settlements=list(map(tuple, raw["s"])),
            monthly={int(k): v for k, v in raw["m"].items()},
            signals=dict(zip(raw["g"], map(tuple, raw["g"].values()), strict=True)),
            broken=raw["b"],
            kept=raw["k"],
            disputes=raw["d"],
            missed=raw["ms"],
            reversals=raw["rv"],
            agency_on=raw["ag"],
            bad_on=raw["bad"],
        )


@functools.lru_cache(maxsize=4096)
def month_of(ordinal: int) -> int:
    """The month index of a date ordinal (cached: a rescoring asks for one day 100k times)."""
    day = dt.date.fromordinal(ordinal)
    return day.year * 12 + day.month - 1


def _newest(items: dict[str, Any], keep: int, date_of: Any) -> None:
    if len(items) > keep:
        for key in sorted(items, key=lambda k: (date_of(items[k]), k))[: len(items) - keep]:
            del items[key]


def _mark_bad(state: AccountState, on: int) -> None:
    state.bad_on = on if state.bad_on is None else min(state.bad_on, on)


def _settled_ids(state: AccountState) -> set[str]:
    return {s[2] for s in state.settlements}


def apply(state: AccountState, fact: f.Fact) -> None:
    """Fold one fact into the state (idempotent per fact id)."""
    on = _date_of(fact)
    if on:
        state.as_of = max(state.as_of, on)
    match fact:
        case f.Registered():
            state.registered = True
            state.external_id = fact.external_id
            state.currency = fact.currency
            state.credit_limit = fact.credit_limit_minor
            state.time_zone = fact.time_zone
        case f.Invoiced():
            _invoiced(state, fact)
        case f.Adjusted():
            invoice = state.invoices.get(fact.invoice_id)
            if invoice is not None and fact.closed:
                del state.invoices[fact.invoice_id]
            elif invoice is not None:
                invoice.total, invoice.due = fact.total_minor, fact.due
        case f.Paid() | f.Reversed():
            _allocate(state, fact)
        case f.Settled():
            _settled(state, fact)
        case f.Overdue():
            _overdue(state, fact)
        case f.Disputed():
            state.disputes.setdefault(fact.dispute_id, [0, 0])[0] = fact.on
            _newest(state.disputes, DATED_KEPT, lambda v: max(v))
        case f.DisputeClosed():
            state.disputes.setdefault(fact.dispute_id, [0, 0])[1] = fact.on
            _newest(state.disputes, DATED_KEPT, lambda v: max(v))
        case f.PromiseBroken():
            state.broken[fact.promise_id] = fact.on
            _newest(state.broken, DATED_KEPT, lambda v: v)
        case f.PromiseKept():
            state.kept[fact.promise_id] = fact.on
            _newest(state.kept, DATED_KEPT, lambda v: v)
        case f.InstallmentMissed():
            state.missed[fact.key] = fact.on
            _newest(state.missed, DATED_KEPT, lambda v: v)
        case f.HandedToAgency():
            state.agency_on = fact.on if state.agency_on is None else min(state.agency_on, fact.on)
            _mark_bad(state, fact.on)
        case f.Signal():
            days = fact.requested_days or 0
            state.signals[fact.signal_id] = (fact.kind, fact.severity, fact.on, days)
            _newest(state.signals, SIGNALS_KEPT, lambda v: v[2])
            if fact.kind == "insolvency_notice":
                _mark_bad(state, fact.on)


def _date_of(fact: f.Fact) -> int:
    match fact:
        case f.Registered():
            return 0
        case f.Invoiced():
            return fact.issue
        case f.Settled():
            return fact.settled
        case _:
            return fact.on


def _invoiced(state: AccountState, fact: f.Invoiced) -> None:
    known = state.invoices.get(fact.invoice_id)
    if known is not None and known.total is not None:
        return
    for i, (on, days, invoice_id, counted) in enumerate(state.settlements):
        if invoice_id == fact.invoice_id:
            if counted:
                return
            state.settlements[i] = (on, days, invoice_id, 1)
            _count_order(state, fact)
            return
    if known is None:
        state.invoices[fact.invoice_id] = OpenInvoice(fact.total_minor, 0, fact.issue, fact.due)
    else:  # a payment for it came first, through another topic
        known.total, known.issue, known.due = fact.total_minor, fact.issue, fact.due
    _count_order(state, fact)


def _count_order(state: AccountState, fact: f.Invoiced) -> None:
    month = state.monthly.setdefault(month_of(fact.issue), [0, 0])
    month[0] += 1
    month[1] += fact.total_minor
    if len(state.monthly) > MONTHS_KEPT:
        for key in sorted(state.monthly)[: len(state.monthly) - MONTHS_KEPT]:
            del state.monthly[key]


def _allocate(state: AccountState, fact: f.Paid | f.Reversed) -> None:
    sign = 1 if isinstance(fact, f.Paid) else -1
    if isinstance(fact, f.Reversed):
        state.reversals[fact.reversal_id] = fact.on
        _newest(state.reversals, DATED_KEPT, lambda v: v)
    settled = _settled_ids(state)
    for invoice_id, amount in fact.allocations:
        invoice = state.invoices.get(invoice_id)
        if invoice is None:
            if invoice_id in settled or sign < 0:
                continue
            invoice = state.invoices[invoice_id] = OpenInvoice(None, 0, fact.on, fact.on)
        invoice.paid = max(0, invoice.paid + sign * amount)


def _settled(state: AccountState, fact: f.Settled) -> None:
    invoice = state.invoices.pop(fact.invoice_id, None)
    if fact.invoice_id in _settled_ids(state):
        return
    counted = int(invoice is not None and invoice.total is not None)
    state.settled_count += 1
    if fact.days_late > 0:
        state.late_count += 1
        state.days_late_sum += fact.days_late
    state.settlements.append((fact.settled, fact.days_late, fact.invoice_id, counted))
    state.settlements.sort()
    del state.settlements[:-SETTLEMENTS_KEPT]


def _overdue(state: AccountState, fact: f.Overdue) -> None:
    settled = _settled_ids(state)
    for invoice_id, due, balance in fact.invoices:
        if invoice_id not in state.invoices and invoice_id not in settled:
            state.invoices[invoice_id] = OpenInvoice(balance, 0, due, due)
        if fact.on - due >= BAD_OVERDUE_DAYS:
            _mark_bad(state, due + BAD_OVERDUE_DAYS)
