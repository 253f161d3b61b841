"""HTTP plumbing shared by every Dunlin service: problems, pagination, idempotency, health."""
