"""Small factories for unit tests: an account fed with events, stepped on a clock."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from dunlin_events import Event
from dunlin_events.testing import (
    account_registered,
    invoice_disputed,
    invoice_issued,
    payment_received,
)
from dunning.domain.assignment import PolicyBook
from dunning.domain.case import Effects, advance
from dunning.domain.facts import apply
from dunning.domain.state import AccountState

START = dt.datetime(2025, 1, 6, 8, 0, tzinfo=dt.UTC)  # a Monday


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Account:
    """One account's state, fed with events and advanced on a clock of its own."""

    def __init__(self, *, tags: list[str] | None = None, **overrides: Any) -> None:
        self.id = uid("acc")
        self.state = AccountState(account_id=self.id)
        self.book = PolicyBook.built_in()
        self.now = START
        self.effects: list[Effects] = []
        self.fed: list[tuple[Event, str, dt.datetime]] = []
        contacts = [
            {
                "contact_id": "ap",
                "name": "Ada Clerk",
                "role": "accounts_payable",
                "email": "ap@acme.example",
                "phone": "+4930123456",
                "consent": {"email": True, "sms": True, "phone": True, "letter": True},
                "postal_address": {"lines": ["Hauptstr. 1"], "city": "Berlin", "country": "DE"},
            },
            {
                "contact_id": "cfo",
                "name": "Fin Boss",
                "role": "finance_decision_maker",
                "email": "cfo@acme.example",
                "postal_address": {"lines": ["Hauptstr. 1"], "city": "Berlin", "country": "DE"},
            },
        ]
        fields = {
            "account_id": self.id,
            "tags": tags or [],
            "contacts": contacts,
            "time_zone": "UTC",
            **overrides,
        }
        self.feed(account_registered(**fields))

    def feed(self, event: Event, *, event_id: str | None = None) -> None:
        self.fed.append((event, event_id or uid("ev"), self.now))
        apply(self.state, event, event_id=self.fed[-1][1], at=self.now)
        self.effects.append(advance(self.state, self.policy(), self.now, execute=False))

    def policy(self) -> Any:
        return self.book.for_account(self.state)

    def invoice(self, total: str = "1000.00", *, due_in_days: int = 0) -> str:
        invoice_id = uid("inv")
        due = self.now.date() + dt.timedelta(days=due_in_days)
        line = {
            "description": "W",
            "quantity": "1",
            "unit_price": total,
            "tax_rate": "0",
            "net_amount": total,
            "tax_amount": "0",
        }
        self.feed(
            invoice_issued(
                account_id=self.id,
                invoice_id=invoice_id,
                invoice_number=uid("N"),
                currency="EUR",
                issue_date=due - dt.timedelta(days=30),
                due_date=due,
                lines=[line],
                subtotal=total,
                tax_total="0",
                total=total,
                early_payment_discount=None,
                payment_terms=None,
            )
        )
        return invoice_id

    def pay(self, invoice_id: str, amount: str) -> str:
        payment_id = uid("pay")
        self.feed(
            payment_received(
                account_id=self.id,
                payment_id=payment_id,
                amount=amount,
                currency="EUR",
                received_on=self.now.date(),
                remittance=[],
                allocations=[{"invoice_id": invoice_id, "amount": amount}],
                unapplied_amount="0",
            )
        )
        return payment_id

    def dispute(self, invoice_id: str, amount: str) -> str:
        dispute_id = uid("dsp")
        self.feed(
            invoice_disputed(
                account_id=self.id,
                dispute_id=dispute_id,
                invoice_id=invoice_id,
                currency="EUR",
                amount=amount,
                opened_at=self.now,
            )
        )
        return dispute_id

    def sweep(self) -> Effects:
        fx = advance(self.state, self.policy(), self.now, execute=True)
        self.effects.append(fx)
        return fx

    def days(self, n: int) -> list[Event]:
        """Advance n days one day at a time, sweeping each day; the events produced."""
        events: list[Event] = []
        for _ in range(n):
            self.now += dt.timedelta(days=1)
            events += self.sweep().events
        return events

    def published(self) -> list[Event]:
        return [e for fx in self.effects for e in fx.events]


def executed_steps(events: list[Event]) -> list[tuple[str, str]]:
    from dunlin_events import DunningStepExecuted

    return [(e.step_key, e.outcome) for e in events if isinstance(e, DunningStepExecuted)]


def amount(value: str) -> Decimal:
    return Decimal(value)
