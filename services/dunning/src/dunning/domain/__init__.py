"""Pure dunning domain: facts, policies and the case engine (no I/O)."""
