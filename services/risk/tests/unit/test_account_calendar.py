"""Event timestamps become days on the account's own calendar (its AccountRegistered zone)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from dunlin_events import Event
from dunlin_events.testing import (
    account_handed_to_agency,
    account_overdue,
    account_registered,
    dispute_resolved,
    invoice_disputed,
)
from risk.domain import facts as f
from risk.domain.state import AccountState, apply
from risk.translate import to_fact

LA = "America/Los_Angeles"
# 03:00 UTC on 1 June is 20:00 on 31 May in Los Angeles (PDT, UTC-7).
EARLY_UTC = "2025-06-01T03:00:00Z"
JUNE_1 = dt.date(2025, 6, 1).toordinal()
MAY_31 = dt.date(2025, 5, 31).toordinal()


def _on(event: Event, time_zone: str) -> int:
    fact: Any = to_fact(event, time_zone)
    return int(fact.on)


TIMED = [
    pytest.param(lambda at: invoice_disputed(opened_at=at), id="InvoiceDisputed.opened_at"),
    pytest.param(lambda at: dispute_resolved(resolved_at=at), id="DisputeResolved.resolved_at"),
    pytest.param(lambda at: account_overdue(as_of=at), id="AccountOverdue.as_of"),
    pytest.param(
        lambda at: account_handed_to_agency(handed_at=at), id="AccountHandedToAgency.handed_at"
    ),
]


@pytest.mark.parametrize("make", TIMED)
def test_a_timestamp_counts_on_the_accounts_local_day(make: Any) -> None:
    event = make(EARLY_UTC)
    assert _on(event, LA) == MAY_31
    assert _on(event, "UTC") == JUNE_1
    # east of UTC the local day can be the next one: 23:30 UTC on 31 May is 1 June in Berlin
    assert _on(make("2025-05-31T23:30:00Z"), "Europe/Berlin") == JUNE_1


@pytest.mark.parametrize("make", TIMED)
def test_without_a_zone_the_day_is_the_utc_day_as_before(make: Any) -> None:
    fact: Any = to_fact(make(EARLY_UTC))
    assert fact.on == JUNE_1


def test_an_overdue_check_just_after_local_midnight_is_that_local_day() -> None:
    # 07:05 UTC on 1 June is 00:05 in Los Angeles: already 1 June there, 31 May an hour before
    assert _on(account_overdue(as_of="2025-06-01T07:05:00Z"), LA) == JUNE_1
    assert _on(account_overdue(as_of="2025-06-01T06:55:00Z"), LA) == MAY_31


def test_the_registration_carries_the_zone_into_the_state() -> None:
    fact = to_fact(account_registered(time_zone=LA, currency="EUR"))
    assert isinstance(fact, f.Registered)
    assert fact.time_zone == LA
    state = AccountState()
    assert state.time_zone == "UTC"
    apply(state, fact)
    assert state.time_zone == LA
    again = AccountState.loads(json.dumps(state.to_json()))
    assert again == state
    assert again.time_zone == LA


# An accounts row as written before the zone was kept (no "tz" key).
OLD_STATE = (
    '{"r":true,"x":"ERP-1","c":"EUR","l":100000,"a":739403,"i":{},"sc":[0,0,0],"s":[],"m":{},'
    '"g":{},"b":{},"k":{},"d":{"dsp-1":[739403,0]},"ms":{},"rv":{},"ag":null,"bad":null}'
)


def test_a_stored_state_without_a_zone_still_loads_as_utc() -> None:
    old = AccountState.loads(OLD_STATE)
    assert old.time_zone == "UTC"
    assert old.registered
    assert (old.external_id, old.currency) == ("ERP-1", "EUR")
    assert old.disputes == {"dsp-1": [JUNE_1, 0]}
    assert old.as_of == JUNE_1
