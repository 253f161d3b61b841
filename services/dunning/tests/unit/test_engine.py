"""The pure case engine, without a database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dunlin_events import DunningCaseClosed, DunningStepExecuted, NotificationRequested
from dunlin_events.testing import (
    dispute_resolved,
    invoice_disputed,
    payment_reversed,
    risk_assessed,
)
from dunning.domain.charges import interest
from dunning.domain.contact import send_window
from dunning.domain.policy import ContactRules, Interest

from .builders import Account, executed_steps

LADDER = ["courtesy", "reminder", "firm_reminder", "call", "demand", "final_notice", "agency"]


@pytest.mark.parametrize(
    ("tier", "days"),
    [
        (None, [-3, 1, 8, 16, 31, 50, 61]),
        # Compressed by risk the agency step falls due at +30, but the agency takes the account
        # at 60 days overdue: the hand-off waits for that day instead of being skipped.
        ("critical", [-3, 1, 4, 8, 15, 25, 60]),
    ],
)
def test_an_unpaid_invoice_walks_every_step_on_its_day(tier: str | None, days: list[int]) -> None:
    account = Account()
    if tier is not None:
        account.feed(risk_assessed(account_id=account.id, tier=tier, assessed_at=account.now))
    account.invoice(due_in_days=5)
    events = account.days(70)
    assert executed_steps(events) == [(k, "executed") for k in LADDER]
    dates = [e.executed_at.date() for e in events if isinstance(e, DunningStepExecuted)]
    due = dt.date(2025, 1, 11)
    assert [(d - due).days for d in dates] == days


def test_a_far_overdue_account_starts_at_the_matching_step_and_records_the_skipped_ones() -> None:
    account = Account()
    account.invoice(due_in_days=-20)
    events = account.sweep().events
    assert executed_steps(events) == [
        ("courtesy", "skipped"),
        ("reminder", "skipped"),
        ("firm_reminder", "skipped"),
        ("call", "executed"),
    ]


def test_full_payment_closes_the_case_at_once_and_nothing_follows() -> None:
    account = Account()
    invoice = account.invoice(due_in_days=1)
    account.days(3)
    account.pay(invoice, "1000.00")
    closed = [e for e in account.effects[-1].events if isinstance(e, DunningCaseClosed)]
    assert [c.reason for c in closed] == ["paid"]
    assert executed_steps(account.days(60)) == []


def test_a_reversed_payment_reopens_the_balance() -> None:
    account = Account()
    invoice = account.invoice(due_in_days=-2)
    payment = account.pay(invoice, "1000.00")
    account.feed(
        payment_reversed(
            account_id=account.id,
            payment_id=payment,
            currency="EUR",
            amount="1000.00",
            allocations=[{"invoice_id": invoice, "amount": "1000.00"}],
            unapplied_reversed="0",
        )
    )
    assert executed_steps(account.sweep().events) == [
        ("courtesy", "skipped"),
        ("reminder", "executed"),
    ]


def test_one_message_per_step_lists_every_invoice_concerned() -> None:
    account = Account()
    first, second = (
        account.invoice("100.00", due_in_days=-5),
        account.invoice("250.00", due_in_days=-3),
    )
    messages = [e for e in account.sweep().events if isinstance(e, NotificationRequested)]
    assert len(messages) == 1
    assert {i.invoice_id for i in messages[0].invoices} == {first, second}
    assert messages[0].dunned_balance == Decimal("350.00")


def test_a_resolved_dispute_puts_the_invoice_back_even_when_resolution_came_first() -> None:
    account = Account()
    invoice = account.invoice(due_in_days=-2)
    dispute_id = "dsp-x"
    account.feed(
        dispute_resolved(
            account_id=account.id,
            dispute_id=dispute_id,
            invoice_id=invoice,
            outcome="rejected",
            currency="EUR",
            credited_amount="0",
        )
    )
    account.feed(
        invoice_disputed(
            account_id=account.id,
            dispute_id=dispute_id,
            invoice_id=invoice,
            currency="EUR",
            amount="1000.00",
            opened_at=account.now,
        )
    )
    assert executed_steps(account.sweep().events)[-1] == ("reminder", "executed")


def test_an_open_dispute_of_the_whole_balance_pauses_the_case() -> None:
    account = Account()
    invoice = account.invoice(due_in_days=-2)
    account.dispute(invoice, "1000.00")
    assert executed_steps(account.days(30)) == []


def test_critical_risk_compresses_the_ladder() -> None:
    account = Account()
    account.feed(risk_assessed(account_id=account.id, tier="critical", assessed_at=account.now))
    assert account.policy().offsets("critical") == [-3, 1, 4, 8, 15, 25, 30]


def test_strategic_accounts_follow_the_gentler_ladder() -> None:
    account = Account(tags=["strategic"])
    assert account.policy().policy_id == "strategic"


def test_do_not_contact_stops_every_contact() -> None:
    account = Account(tags=["do_not_contact"])
    account.invoice(due_in_days=-10)
    assert executed_steps(account.days(40)) == []


def test_eu_statutory_interest_is_reference_rate_plus_eight_points() -> None:
    lines = interest(
        Interest(rule="eu", reference_rate=Decimal("4.5")),
        invoice_id="i",
        balance=100_000,
        days_overdue=73,
        currency="EUR",
    )
    assert [(c.kind, c.amount) for c in lines] == [("interest", 2500)]


def test_uk_late_payment_adds_fixed_compensation_by_debt_size() -> None:
    lines = interest(
        Interest(rule="uk", reference_rate=Decimal("5")),
        invoice_id="i",
        balance=500_000,
        days_overdue=10,
        currency="GBP",
    )
    assert [(c.kind, c.amount) for c in lines] == [("interest", 1781), ("compensation", 7000)]


def test_messages_wait_for_business_hours_in_the_account_zone() -> None:
    saturday_night = dt.datetime(2025, 1, 11, 23, 0, tzinfo=dt.UTC)
    at = send_window(saturday_night, time_zone="Europe/Berlin", rules=ContactRules())
    assert at == dt.datetime(2025, 1, 13, 8, 0, tzinfo=dt.UTC)  # Monday 09:00 in Berlin


def test_the_same_step_rerun_gets_the_same_notification_id() -> None:
    one, two = Account(), Account()
    two.id = one.id
    for account in (one, two):
        account.state.account_id = one.id
        account.invoice(due_in_days=-2)
    ids = [
        [e.notification_id for e in a.sweep().events if isinstance(e, NotificationRequested)]
        for a in (one, two)
    ]
    assert ids[0] == ids[1]


def test_stable_ids_are_uuid5_of_the_parts() -> None:
    import uuid

    from hypothesis import given
    from hypothesis import strategies as st

    from dunning.domain import ids

    @given(st.lists(st.one_of(st.text(), st.integers()), min_size=1, max_size=4))
    def check(parts: list[object]) -> None:
        name = ":".join(str(p) for p in parts)
        assert ids.stable_id(*parts) == str(uuid.uuid5(ids._NAMESPACE, name))

    check()


def test_uuid5_and_case_ids_are_the_stable_ids_of_their_parts() -> None:
    import uuid

    from hypothesis import given
    from hypothesis import strategies as st

    from dunning.domain import ids

    @given(st.text(), st.text(), st.integers(min_value=0))
    def check(name: str, account_id: str, cycle: int) -> None:
        assert ids.uuid5(name) == str(uuid.uuid5(ids._NAMESPACE, name))
        assert ids.case_id(account_id, cycle) == ids.stable_id("case", account_id, cycle)

    check()
