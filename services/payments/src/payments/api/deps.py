"""Shared API plumbing: the runtime, settings, cursors, and domain refusals as problems."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Request

from dunlin_events import MoneyError, to_minor
from dunlin_platform.http.problems import (
    ConflictError,
    FieldError,
    ProblemError,
    UnprocessableError,
)
from dunlin_platform.runtime import ServiceRuntime
from payments.config import PaymentsSettings
from payments.domain.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    DomainError,
    DuplicatePayment,
    PlanNotActive,
    UnknownAccount,
)


def _runtime(request: Request) -> ServiceRuntime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime


def _settings(request: Request) -> PaymentsSettings:
    settings = request.app.state.runtime.settings
    assert isinstance(settings, PaymentsSettings)
    return settings


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]
SettingsDep = Annotated[PaymentsSettings, Depends(_settings)]


def field_problem(
    detail: str, *, field: str, type: str, slug: str = "validation-error"
) -> UnprocessableError:
    """A 422 naming one body field."""
    error = FieldError(field=field, location="body", message=detail, type=type)
    return UnprocessableError(detail, slug=slug, errors=[error])


def minor(amount: Decimal, currency: str, *, field: str) -> int:
    """An amount in minor units, or a 422 when the currency has fewer decimals."""
    try:
        return to_minor(amount, currency)
    except MoneyError as exc:
        raise field_problem(str(exc), field=field, type="amount_scale") from exc


def problem_for(error: DomainError) -> ProblemError:
    """Translate a business refusal into the problem the client sees."""
    conflicts = {
        DuplicatePayment: "duplicate",
        AlreadyReversed: "already-reversed",
        PlanNotActive: "plan-not-active",
    }
    if type(error) in conflicts:
        return ConflictError(error.message, slug=conflicts[type(error)])
    slug = {UnknownAccount: "unknown-account", CurrencyMismatch: "currency-mismatch"}.get(
        type(error), "business-rule"
    )
    if error.field is None:
        return UnprocessableError(error.message, slug=slug)
    return field_problem(error.message, field=error.field, type=slug.replace("-", "_"), slug=slug)
