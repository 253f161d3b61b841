"""The stored state document is exactly pydantic's `model_dump_json(exclude_defaults=True)`."""

from __future__ import annotations

import datetime as dt

import pytest

from dunning.domain.state import (
    AccountState,
    ContactEntry,
    HoldFact,
    InvoiceFacts,
    StepRecord,
)
from dunning.repository import state_json

AT = dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.UTC)


def _states() -> list[AccountState]:
    bare = AccountState(account_id="acc-1")
    odd_id = AccountState(account_id='acc "quoted" \\ ünï©ødé \x1f')
    account_only = AccountState(account_id="acc-2")
    account_only.account.name = "Acme"
    facts_only = AccountState(account_id="acc-3", risk_tier="high")
    facts_only.invoices["inv-1"] = InvoiceFacts(number="N-1", total=100, due_date=AT.date())
    progress_only = AccountState(account_id="acc-4")
    progress_only.progress.cycle = 1
    everything = AccountState(account_id="acc-5", assigned_policy="strategic")
    everything.account.tags = ["vip"]
    everything.account.contacts = [{"contact_id": "ap", "name": "Ada", "role": "other"}]
    everything.holds["h-1"] = HoldFact(reason="why", actor="me", placed_at=AT)
    everything.contacts.append(ContactEntry(at=AT, channel="email", status="requested"))
    everything.progress.status = "open"
    everything.progress.steps.append(
        StepRecord(index=0, key="courtesy", outcome="skipped", at=AT, reason="late")
    )
    defaults_set_explicitly = AccountState(account_id="acc-6", risk_tier=None)
    defaults_set_explicitly.account.time_zone = "UTC"
    defaults_set_explicitly.progress.status = "idle"
    return [
        bare,
        odd_id,
        account_only,
        facts_only,
        progress_only,
        everything,
        defaults_set_explicitly,
    ]


@pytest.mark.parametrize("state", _states(), ids=lambda s: s.account_id)
def test_state_json_is_pydantics_document(state: AccountState) -> None:
    assert state_json(state) == state.model_dump_json(exclude_defaults=True)
    assert AccountState.model_validate_json(state_json(state)) == state


def test_the_fields_dumped_apart_keep_their_place() -> None:
    fields = tuple(AccountState.model_fields)
    assert fields[:2] == ("account_id", "account")
    assert fields[-1] == "progress"
