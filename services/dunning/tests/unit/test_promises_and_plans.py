"""Promises are judged on the promised invoices; a plan holds only its own invoices."""

from __future__ import annotations

import datetime as dt

import pytest

from dunlin_events import (
    DunningStepExecuted,
    NotificationRequested,
    PromiseToPayBroken,
    PromiseToPayKept,
)
from dunlin_events.testing import installment_missed, payment_plan_agreed
from dunning.domain import commands

from .builders import Account, executed_steps, uid


def _promise(account: Account, amount: int, *, days: int, invoice_ids: tuple[str, ...]) -> None:
    cmd = commands.RecordPromise(
        promise_id=uid("promise"),
        amount=amount,
        promised_date=account.now.date() + dt.timedelta(days=days),
        grace_days=0,
        invoice_ids=invoice_ids,
        channel="phone",
        recorded_by="collector",
    )
    commands.record_promise(account.state, cmd, account.now)


def _outcomes(account: Account) -> list[str]:
    return [
        type(e).__name__
        for e in account.published()
        if isinstance(e, PromiseToPayKept | PromiseToPayBroken)
    ]


def test_paying_another_invoice_does_not_keep_a_promise_for_the_named_one() -> None:
    account = Account()
    promised = account.invoice("500.00", due_in_days=-5)
    other = account.invoice("500.00", due_in_days=-5)
    _promise(account, 50_000, days=2, invoice_ids=(promised,))
    account.pay(other, "500.00")
    assert _outcomes(account) == []
    account.days(3)
    assert _outcomes(account) == ["PromiseToPayBroken"]


def test_paying_the_named_invoice_keeps_the_promise() -> None:
    account = Account()
    promised = account.invoice("500.00", due_in_days=-5)
    account.invoice("500.00", due_in_days=-5)
    _promise(account, 50_000, days=2, invoice_ids=(promised,))
    account.pay(promised, "500.00")
    assert _outcomes(account) == ["PromiseToPayKept"]


def test_a_promise_naming_no_invoice_is_kept_by_any_payment_to_the_account() -> None:
    account = Account()
    account.invoice("500.00", due_in_days=-5)
    other = account.invoice("500.00", due_in_days=-5)
    _promise(account, 30_000, days=2, invoice_ids=())
    account.pay(other, "300.00")
    assert _outcomes(account) == ["PromiseToPayKept"]


def test_a_promise_for_an_unknown_invoice_is_refused() -> None:
    account = Account()
    account.invoice("500.00", due_in_days=-5)
    with pytest.raises(commands.CommandRefused, match="unknown invoice_ids"):
        _promise(account, 100, days=2, invoice_ids=("nope",))


def test_a_plan_holds_its_invoices_only_and_a_missed_installment_brings_them_back() -> None:
    account = Account()
    planned = account.invoice("800.00", due_in_days=-2)
    free = account.invoice("300.00", due_in_days=-2)
    plan_id = uid("plan")
    account.feed(
        payment_plan_agreed(
            account_id=account.id,
            plan_id=plan_id,
            invoice_ids=[planned],
            total="800.00",
            installments=[{"number": 1, "due_date": "2025-02-01", "amount": "800.00"}],
            agreed_at=account.now,
        )
    )
    events = account.days(10)
    messages = [e for e in events if isinstance(e, NotificationRequested)]
    assert messages
    assert {i.invoice_id for m in messages for i in m.invoices} == {free}
    account.feed(installment_missed(account_id=account.id, plan_id=plan_id))
    later = [e for e in account.days(10) if isinstance(e, DunningStepExecuted)]
    assert [e.step_key for e in later] == ["call"]
    assert {i.invoice_id for i in later[0].invoices} == {planned, free}


def test_a_plan_over_every_open_invoice_pauses_the_case() -> None:
    account = Account()
    planned = account.invoice("800.00", due_in_days=-2)
    account.feed(
        payment_plan_agreed(
            account_id=account.id,
            invoice_ids=[planned],
            total="800.00",
            installments=[{"number": 1, "due_date": "2025-02-01", "amount": "800.00"}],
            agreed_at=account.now,
        )
    )
    assert executed_steps(account.days(30)) == []
