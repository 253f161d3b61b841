"""Alembic history of the `auth` schema (run through dunlin_platform.auth.migrate)."""
