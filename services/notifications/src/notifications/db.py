"""Tables of the notifications schema."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from dunlin_platform.db import service_metadata
from dunlin_platform.runtime import PlatformTables

SCHEMA = "notifications"


class Base(DeclarativeBase):
    """Declarative base bound to the service's own schema."""

    metadata = service_metadata(SCHEMA)


PLATFORM_TABLES = PlatformTables.define(Base.metadata)
