"""Shared API plumbing: the runtime, minor units, refusals as problems."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Path, Request

from dunlin_events import MoneyError, to_minor
from dunlin_platform.http.problems import FieldError, UnprocessableError
from dunlin_platform.runtime import ServiceRuntime
from dunning.config import DunningSettings


def _runtime(request: Request) -> ServiceRuntime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime


def _settings(request: Request) -> DunningSettings:
    settings = request.app.state.runtime.settings
    assert isinstance(settings, DunningSettings)
    return settings


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]
SettingsDep = Annotated[DunningSettings, Depends(_settings)]
AccountId = Annotated[str, Path(min_length=1, max_length=100)]


def refused(detail: str, *, field: str | None = None) -> UnprocessableError:
    """A 422 for a business refusal, naming the field when there is one."""
    errors = (
        [FieldError(field=field, location="body", message=detail, type="business_rule")]
        if field
        else None
    )
    return UnprocessableError(detail, slug="business-rule", errors=errors)


def minor(amount: Decimal, currency: str, *, field: str) -> int:
    """An amount in minor units, or a 422 when the currency has fewer decimals."""
    try:
        return to_minor(amount, currency)
    except MoneyError as exc:
        raise refused(str(exc), field=field) from exc
