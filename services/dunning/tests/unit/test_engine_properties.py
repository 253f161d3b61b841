"""A stateful property test of the engine with an in-memory driver (no database)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dunlin_events import DunningCaseClosed, DunningStepExecuted, NotificationRequested
from dunning.domain import commands
from dunning.domain.balances import balances
from dunning.domain.facts import apply

from .builders import Account, uid


class Collections(RuleBasedStateMachine):
    """Issue, pay, partially pay, dispute, promise, advance the clock and redeliver."""

    def __init__(self) -> None:
        super().__init__()
        self.account = Account()
        self.invoices: list[str] = []
        self.seen = 0

    @rule(total=st.integers(1, 5000), due=st.integers(-90, 20))
    def issue(self, total: int, due: int) -> None:
        self.invoices.append(self.account.invoice(f"{total}.00", due_in_days=due))

    @precondition(lambda self: self.invoices)
    @rule(data=st.data(), part=st.sampled_from(["full", "partial"]))
    def pay(self, data: st.DataObject, part: str) -> None:
        invoice = data.draw(st.sampled_from(self.invoices))
        line = next(
            (x for x in balances(self.account.state).lines if x.invoice_id == invoice), None
        )
        if line is None:
            return
        amount = line.outstanding if part == "full" else max(1, line.outstanding // 3)
        self.account.pay(invoice, f"{amount // 100}.{amount % 100:02d}")

    @precondition(lambda self: self.invoices)
    @rule(data=st.data())
    def dispute(self, data: st.DataObject) -> None:
        invoice = data.draw(st.sampled_from(self.invoices))
        line = next(
            (x for x in balances(self.account.state).lines if x.invoice_id == invoice), None
        )
        if line is not None and line.dunned > 0:
            self.account.dispute(invoice, f"{line.dunned // 100}.{line.dunned % 100:02d}")

    @rule(days=st.integers(0, 10))
    def promise(self, days: int) -> None:
        b = balances(self.account.state)
        if b.outstanding == 0:
            return
        cmd = commands.RecordPromise(
            promise_id=uid("p"),
            amount=b.outstanding,
            promised_date=self.account.now.date() + dt.timedelta(days=days),
            grace_days=1,
            invoice_ids=(),
            channel="phone",
            recorded_by="c",
        )
        commands.record_promise(self.account.state, cmd, self.account.now)

    @rule(days=st.integers(1, 15))
    def advance(self, days: int) -> None:
        self.account.days(days)

    @rule()
    def redeliver(self) -> None:
        # Redelivering every consumed fact is a no-op for the facts (keys are stable ids).
        before = self.account.state.model_dump(exclude={"progress", "contacts", "promises"})
        for event, event_id, at in list(self.account.fed):
            apply(self.account.state, event, event_id=event_id, at=at)
        after = self.account.state.model_dump(exclude={"progress", "contacts", "promises"})
        assert {k: v for k, v in before.items() if k != "account"} == {
            k: v for k, v in after.items() if k != "account"
        }

    def _published(self) -> list[Any]:
        return self.account.published()

    @invariant()
    def never_two_messages_for_the_same_step(self) -> None:
        ids = [e.notification_id for e in self._published() if isinstance(e, NotificationRequested)]
        assert len(ids) == len(set(ids))
        steps = [
            (e.case_id, e.step_index)
            for e in self._published()
            if isinstance(e, DunningStepExecuted)
        ]
        assert len(steps) == len(set(steps))

    @invariant()
    def steps_go_in_order_within_a_case(self) -> None:
        last: dict[str, int] = {}
        for e in self._published():
            if isinstance(e, DunningStepExecuted):
                assert e.step_index > last.get(e.case_id, -1)
                last[e.case_id] = e.step_index

    @invariant()
    def no_contact_after_settlement(self) -> None:
        closed: set[str] = set()
        for e in self._published():
            if isinstance(e, DunningCaseClosed):
                closed.add(e.case_id)
            elif isinstance(e, (DunningStepExecuted, NotificationRequested)):
                assert e.case_id not in closed
        if balances(self.account.state).outstanding == 0:
            assert self.account.state.progress.status in ("idle", "handed")


TestCollections = Collections.TestCase
TestCollections.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
