"""Dunlin risk service."""
