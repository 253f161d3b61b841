"""Persistence: domain objects in, domain objects out, batch-friendly queries."""

from invoicing.repository.accounts import (
    accounts_by_external_id,
    add_account,
    add_accounts,
    get_account,
    list_accounts,
    replace_account,
)
from invoicing.repository.common import Stored
from invoicing.repository.invoices import (
    add_invoices,
    fingerprints_by_external_id,
    get_invoice,
    list_invoices,
    taken_invoice_numbers,
)

__all__ = [
    "Stored",
    "accounts_by_external_id",
    "add_account",
    "add_accounts",
    "add_invoices",
    "fingerprints_by_external_id",
    "get_account",
    "get_invoice",
    "list_accounts",
    "list_invoices",
    "replace_account",
    "taken_invoice_numbers",
]
