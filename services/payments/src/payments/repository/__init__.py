"""Persistence: rows in, domain objects out, keyword-only functions."""
