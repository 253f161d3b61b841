"""Persistence of deliveries, attempts, documents, templates and account preferences."""
