"""Tables of the dunning schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

from dunlin_platform.db import service_metadata
from dunlin_platform.outbox import JsonText
from dunlin_platform.runtime import PlatformTables

SCHEMA = "dunning"


class Base(DeclarativeBase):
    """Declarative base bound to the service's own schema."""

    metadata = service_metadata(SCHEMA)


PLATFORM_TABLES = PlatformTables.define(Base.metadata)


cases = Table(
    "cases",
    Base.metadata,
    Column("account_id", String(100), primary_key=True),
    Column("case_id", String(64)),
    Column("status", String(16), nullable=False),
    Column("next_action_at", DateTime(timezone=True)),
    Column("state", JsonText(), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("step_key", String(50)),  # the last step of an open case (the funnel gauge)
)
# The sweep reads only what is due, through this index: its cost grows with the work due.
Index(
    "ix_cases_next_action_at",
    cases.c.next_action_at,
    postgresql_where=cases.c.next_action_at.isnot(None),
)

# The funnel gauge counts open cases by step from this index alone.
Index("ix_cases_open_step_key", cases.c.step_key, postgresql_where=cases.c.status == "open")

policies = Table(
    "policies",
    Base.metadata,
    Column("policy_id", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("policy_id", "version"),
)

assignments = Table(
    "policy_assignments",
    Base.metadata,
    Column("kind", String(10), nullable=False),
    Column("value", String(100), nullable=False),
    Column("policy_id", String(100), nullable=False),
    PrimaryKeyConstraint("kind", "value"),
)

# One index only: the primary key (account_id, id) is what the API reads an account's
# records by, oldest first; ids are unique anyway (identity). A second index on `id` alone
# cost every record one more btree insertion (migration 0005).
audit = Table(
    "audit",
    Base.metadata,
    Column("id", BigInteger, Identity(always=True), nullable=False),
    Column("account_id", String(100), nullable=False),
    Column("case_id", String(64)),
    Column("action", String(40), nullable=False),
    Column("step_key", String(50)),
    Column("actor", String(200), nullable=False),
    Column("reason", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", JSONB, nullable=False),
    PrimaryKeyConstraint("account_id", "id"),
)

tasks = Table(
    "tasks",
    Base.metadata,
    Column("task_id", String(64), primary_key=True),
    Column("account_id", String(100), nullable=False),
    Column("case_id", String(64), nullable=False),
    Column("step_key", String(50), nullable=False),
    Column("status", String(12), nullable=False),
    Column("priority", Float, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("contact_id", String(100)),
    Column("currency", String(3), nullable=False),
    Column("dunned_balance_minor", BigInteger, nullable=False),
    Column("invoice_ids", JSONB, nullable=False),
    Column("assignee", String(200)),
    Column("outcome", String(20)),
    Column("note", Text),
    Column("call_back_at", DateTime(timezone=True)),
    Column("completed_by", String(200)),
    Column("completed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index(
    "ix_tasks_open_priority",
    tasks.c.priority.desc(),
    tasks.c.task_id,
    postgresql_where=tasks.c.status == "open",
)
Index("ix_tasks_account_id", tasks.c.account_id)
