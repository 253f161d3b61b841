"""Dunlin benchmarks: consumer pipeline, outbox relay and idle memory (`python -m bench`)."""
