"""Errors raised when a Kafka record cannot be turned into a Dunlin event."""

from __future__ import annotations


class InvalidMessage(Exception):
    """A record that can never be processed; it belongs on the DLQ with its `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedMessage(InvalidMessage):
    """Not a binary-mode CloudEvents 1.0 record with a JSON body."""


class UnknownEventType(InvalidMessage):
    """A ce_type that no registered event class declares."""


class SchemaViolation(InvalidMessage):
    """The body does not satisfy the event's schema or invariants."""
