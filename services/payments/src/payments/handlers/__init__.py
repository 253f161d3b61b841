"""Commands and events in, state changes and outbox events out (one transaction each)."""

import uuid


def new_id() -> str:
    """A fresh Dunlin id."""
    return str(uuid.uuid4())
