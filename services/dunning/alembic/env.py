"""Alembic environment of the dunning schema."""

from dunlin_platform.migrations import run_env
from dunning.db import Base

run_env(Base.metadata)
