"""Dunlin."""
