"""Partial account updates as a pure rule: currency lock and hierarchy cycles."""

from __future__ import annotations

import pytest

from invoicing.domain import Account, InvalidAccountChange, Terms, change_account

ACME = Account(
    id="acme", name="Acme", currency="EUR", terms=Terms("net", 30), parent_account_id="g"
)


def test_only_the_given_fields_change() -> None:
    changed = change_account(ACME, {"name": "Acme AG", "tags": ("key",)}, has_invoices=True)
    assert (changed.name, changed.tags, changed.currency, changed.terms) == (
        "Acme AG",
        ("key",),
        "EUR",
        Terms("net", 30),
    )


def test_the_currency_changes_only_without_invoices() -> None:
    assert change_account(ACME, {"currency": "USD"}, has_invoices=False).currency == "USD"
    with pytest.raises(InvalidAccountChange) as refused:
        change_account(ACME, {"currency": "USD"}, has_invoices=True)
    assert refused.value.field == "currency"


@pytest.mark.parametrize(
    ("parent", "chain"),
    [("acme", {"acme", "g"}), ("grandchild", {"grandchild", "child", "acme", "g"})],
)
def test_a_parent_at_or_below_the_account_is_a_cycle(parent: str, chain: set[str]) -> None:
    with pytest.raises(InvalidAccountChange) as refused:
        change_account(
            ACME, {"parent_account_id": parent}, has_invoices=False, ancestors_of_parent=chain
        )
    assert refused.value.field == "parent_account_id"


def test_moving_under_another_group_or_detaching_is_fine() -> None:
    moved = change_account(
        ACME, {"parent_account_id": "h"}, has_invoices=True, ancestors_of_parent={"h", "top"}
    )
    assert moved.parent_account_id == "h"
    assert (
        change_account(ACME, {"parent_account_id": None}, has_invoices=True).parent_account_id
        is None
    )


def test_fields_that_are_not_changeable_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="external_id"):
        change_account(ACME, {"external_id": "x"}, has_invoices=False)
