"""Event timestamps become days on the account's own calendar (its AccountRegistered zone)."""

from __future__ import annotations

import datetime as dt
import json

from dunlin_events.testing import account_registered
from risk.domain import facts as f
from risk.domain.state import AccountState, apply
from risk.translate import to_fact

LA = "America/Los_Angeles"
JUNE_1 = dt.date(2025, 6, 1).toordinal()


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
