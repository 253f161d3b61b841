"""Pure risk domain: facts, per-account features, models and decisions (no I/O)."""
