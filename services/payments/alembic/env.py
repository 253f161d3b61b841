"""Alembic environment of the payments schema."""

from dunlin_platform.migrations import run_env
from payments.db import Base

run_env(Base.metadata)
