"""Alembic environment of the notifications schema."""

from dunlin_platform.migrations import run_env
from notifications.db import Base

run_env(Base.metadata)
