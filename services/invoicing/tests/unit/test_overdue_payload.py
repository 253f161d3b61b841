"""The sweep's hand-built AccountOverdue payloads are exactly what the event model writes."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dunlin_events import AccountOverdue, from_minor
from invoicing.domain.overdue import OverdueGroup, OverdueNotice, overdue_notice
from invoicing.overdue import account_overdue_json

TODAY = dt.date(2026, 6, 30)


def account_overdue(notice: OverdueNotice, *, as_of: dt.datetime) -> AccountOverdue:
    """The oracle: the event built and validated by its model, amounts as Decimals."""
    today, group, currency = as_of.date(), notice.group, notice.group.currency
    return AccountOverdue(
        account_id=group.account_id,
        currency=currency,
        overdue_balance=from_minor(notice.overdue_minor, currency),
        days_overdue=notice.days_overdue,
        threshold_days=notice.threshold_days,
        oldest_due_date=notice.oldest_due_date,
        as_of=as_of,
        invoices=[
            {
                "invoice_id": invoice_id,
                "invoice_number": group.invoice_numbers[n],
                "due_date": group.due_dates[n],
                "balance": from_minor(group.undisputed_minor[n], currency),
                "days_overdue": (today - group.due_dates[n]).days,
            }
            for n, invoice_id in enumerate(group.invoice_ids)
        ],
    )


ids = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    min_size=1,
    max_size=20,
).filter(str.strip)


@st.composite
def notices(draw: st.DrawFn) -> tuple[OverdueGroup, int]:
    count = draw(st.integers(min_value=1, max_value=12))
    ages = sorted(draw(st.lists(st.integers(1, 400), min_size=count, max_size=count)), reverse=True)
    balances = draw(st.lists(st.integers(1, 10**12), min_size=count, max_size=count))
    group = OverdueGroup(
        account_id=draw(ids),
        currency=draw(st.sampled_from(["EUR", "JPY", "KWD", "USD", "CLF"])),
        invoice_ids=draw(st.lists(ids, min_size=count, max_size=count, unique=True)),
        invoice_numbers=draw(st.lists(ids, min_size=count, max_size=count)),
        due_dates=[TODAY - dt.timedelta(days=a) for a in ages],
        undisputed_minor=balances,
        total_minor=sum(balances),
    )
    return group, draw(st.sampled_from([1, 31, 61, 91]))


# `later` moves the sweep's clock past the notice's day: the payload's per-due-date text is
# cached by due date and day, so the cache must never hand one day's text to another.
@given(notice=notices(), microsecond=st.integers(0, 999_999), later=st.integers(0, 3))
def test_hand_built_payload_equals_the_models_and_validates(
    notice: tuple[OverdueGroup, int], microsecond: int, later: int
) -> None:
    group, crossed = notice
    day = TODAY + dt.timedelta(days=later)
    built = overdue_notice(group, crossed=crossed, today=day)
    assert built is not None
    as_of = dt.datetime.combine(day, dt.time(6, 0, 0, microsecond), tzinfo=dt.UTC)
    payload = account_overdue_json(built, as_of=as_of)
    model = account_overdue(built, as_of=as_of)
    assert payload == model.model_dump_json()
    assert AccountOverdue.model_validate_json(payload) == model


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_as_of_in_another_zone_is_written_in_utc_like_the_model(zone: str) -> None:
    group = OverdueGroup(
        "acc-1", "EUR", ["i1"], ["N-1"], [TODAY - dt.timedelta(days=3)], [995], 995
    )
    built = overdue_notice(group, crossed=1, today=TODAY)
    assert built is not None
    as_of = dt.datetime(2026, 6, 30, 7, 30, tzinfo=zoneinfo.ZoneInfo(zone))
    payload = json.loads(account_overdue_json(built, as_of=as_of))
    assert payload == json.loads(account_overdue(built, as_of=as_of).model_dump_json())
    assert payload["as_of"].endswith("Z")
    assert payload["overdue_balance"] == "9.95"
