"""Business-rule refusals; entrypoints translate them into problems or dead letters."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the command; `field` names the offending input, if one does."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class UnknownAccount(DomainError):
    """The command refers to an account that does not exist."""


class CurrencyMismatch(DomainError):
    """The invoice currency differs from the account currency."""


class InvalidInvoice(DomainError):
    """The invoice breaks an invariant (negative total, due before issue, too large)."""


class InvalidAccountChange(DomainError):
    """The change would break an account invariant (currency with invoices, a parent cycle)."""


class DuplicateAccount(DomainError):
    """Another account already has this external id."""


class DuplicateInvoice(DomainError):
    """Another invoice already has this external id or this number on the account."""


class UnsupportedAmendment(DomainError):
    """An ERP re-sent a known invoice with content that cannot be applied as an amendment."""


class InvalidTransition(DomainError):
    """The invoice's (or dispute's) current status does not allow this action."""

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status


class NotFound(DomainError):
    """The command refers to an invoice or dispute that does not exist."""
