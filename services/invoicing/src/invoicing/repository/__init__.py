"""Persistence: domain objects in, domain objects out, batch-friendly queries."""

from invoicing.repository.accounts import (
    accounts_by_external_id,
    add_account,
    add_accounts,
    get_account,
    list_accounts,
    replace_accounts,
    share_lock_accounts,
)
from invoicing.repository.common import Stored
from invoicing.repository.invoices import (
    fingerprints_by_external_id,
    get_invoice,
    list_invoices,
    taken_invoice_numbers,
)
from invoicing.repository.new_invoices import as_stored, insert_new_invoices, taken_external_ids

__all__ = [
    "Stored",
    "accounts_by_external_id",
    "add_account",
    "add_accounts",
    "as_stored",
    "fingerprints_by_external_id",
    "get_account",
    "get_invoice",
    "insert_new_invoices",
    "list_accounts",
    "list_invoices",
    "replace_accounts",
    "share_lock_accounts",
    "taken_external_ids",
    "taken_invoice_numbers",
]
