"""Dunlin dunning service."""
