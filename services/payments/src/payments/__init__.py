"""Dunlin payments service."""
