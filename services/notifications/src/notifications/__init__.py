"""Dunlin notifications service."""
