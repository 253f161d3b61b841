"""API keys with scopes: storage in schema `auth`, verification, FastAPI dependencies, CLI."""

from dunlin_platform.auth.deps import (
    ApiKeyVerifier,
    CurrentPrincipal,
    authenticate,
    require_scopes,
    scope_check,
)
from dunlin_platform.auth.keys import (
    create_api_key,
    get_api_key,
    list_api_keys,
    revoke_api_key,
    verify_api_key,
)
from dunlin_platform.auth.migrate import migrate
from dunlin_platform.auth.models import ApiKeyRecord, Principal

__all__ = [
    "ApiKeyRecord",
    "ApiKeyVerifier",
    "CurrentPrincipal",
    "Principal",
    "authenticate",
    "create_api_key",
    "get_api_key",
    "list_api_keys",
    "migrate",
    "require_scopes",
    "revoke_api_key",
    "scope_check",
    "verify_api_key",
]
