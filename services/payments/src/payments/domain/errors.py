"""Business-rule refusals; entrypoints translate them into problems or dead letters."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the command; `field` names the offending input, if one does."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class UnknownAccount(DomainError):
    """The command refers to an account payments has not heard of."""


class CurrencyMismatch(DomainError):
    """The payment or plan currency differs from the account currency."""


class DuplicatePayment(DomainError):
    """Another payment already has this external id."""


class AlreadyReversed(DomainError):
    """The payment was reversed before."""


class InvalidPlan(DomainError):
    """A payment plan breaks a rule (schedule, invoices, totals)."""


class PlanNotActive(DomainError):
    """Only an active plan can be cancelled; a completed or cancelled one stays as it is."""
