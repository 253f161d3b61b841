"""Alembic environment of the invoicing schema."""

from dunlin_platform.migrations import run_env
from invoicing.db import Base

run_env(Base.metadata)
