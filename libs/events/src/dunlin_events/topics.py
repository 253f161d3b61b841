"""Kafka topic names, their dead-letter twins, and what ERPs may publish inbound."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from dunlin_events.base import Event
from dunlin_events.invoicing import AccountRegistered, InvoiceIssued
from dunlin_events.payment_plans import ERP_PAYMENTS_TOPIC, PaymentReturned
from dunlin_events.payments import PaymentReceived
from dunlin_events.risk import RISK_SIGNALS_TOPIC, ExternalSignalReported

INVOICING_EVENTS = "invoicing.events"
PAYMENTS_EVENTS = "payments.events"
DUNNING_EVENTS = "dunning.events"
RISK_EVENTS = "risk.events"
NOTIFICATIONS_EVENTS = "notifications.events"
ERP_INVOICES = "erp.invoices"
ERP_PAYMENTS = ERP_PAYMENTS_TOPIC
RISK_SIGNALS = RISK_SIGNALS_TOPIC
"""External risk signals (news, bureaus, ERP credit-terms requests) for the risk service."""


def dlq_topic(topic: str) -> str:
    """The dead-letter topic for messages from `topic` that cannot be processed."""
    return f"{topic}.dlq"


SOURCE_TOPICS: tuple[str, ...] = (
    INVOICING_EVENTS,
    PAYMENTS_EVENTS,
    DUNNING_EVENTS,
    RISK_EVENTS,
    NOTIFICATIONS_EVENTS,
    ERP_INVOICES,
    ERP_PAYMENTS,
    RISK_SIGNALS,
)

ALL_TOPICS: tuple[str, ...] = SOURCE_TOPICS + tuple(dlq_topic(t) for t in SOURCE_TOPICS)

ERP_TOPIC_EVENTS: Mapping[str, tuple[type[Event], ...]] = MappingProxyType(
    {
        ERP_INVOICES: (InvoiceIssued, AccountRegistered),
        ERP_PAYMENTS: (PaymentReceived, PaymentReturned),
        RISK_SIGNALS: (ExternalSignalReported,),
    }
)
"""Event types an ERP may publish inbound, keyed by its own ids (see InvoiceIssued)."""
