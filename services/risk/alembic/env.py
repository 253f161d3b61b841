"""Alembic environment of the risk schema."""

from dunlin_platform.migrations import run_env
from risk.db import Base

run_env(Base.metadata)
