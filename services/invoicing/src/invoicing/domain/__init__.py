"""The pure invoicing domain: accounts, terms, invoices and their rules; no I/O."""

from invoicing.domain.accounts import (
    DEFAULT_TERMS,
    Account,
    Terms,
    TermsKind,
    placeholder_account,
)
from invoicing.domain.errors import (
    CurrencyMismatch,
    DomainError,
    DuplicateAccount,
    DuplicateInvoice,
    InvalidInvoice,
    UnknownAccount,
    UnsupportedAmendment,
)
from invoicing.domain.invoices import (
    INVOICE_STATUSES,
    EarlyPaymentDiscount,
    Invoice,
    InvoiceSource,
    InvoiceStatus,
    Line,
    LineDraft,
    Totals,
    issue_invoice,
    price_line,
    totals,
)

__all__ = [
    "DEFAULT_TERMS",
    "INVOICE_STATUSES",
    "Account",
    "CurrencyMismatch",
    "DomainError",
    "DuplicateAccount",
    "DuplicateInvoice",
    "EarlyPaymentDiscount",
    "InvalidInvoice",
    "Invoice",
    "InvoiceSource",
    "InvoiceStatus",
    "Line",
    "LineDraft",
    "Terms",
    "TermsKind",
    "Totals",
    "UnknownAccount",
    "UnsupportedAmendment",
    "issue_invoice",
    "placeholder_account",
    "price_line",
    "totals",
]
