"""The AsyncAPI 3.0 document for every topic, message and service, built from a small table."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from pydantic.json_schema import models_json_schema

from dunlin_events import topics as t
from dunlin_events.base import Event, all_events

# Who publishes where and who subscribes to what (DESIGN §1); "erp" is any external ERP.
# Adding an event needs no change here; adding a service or subscription is one line.
PRODUCES: Mapping[str, tuple[str, ...]] = {
    "invoicing": (t.INVOICING_EVENTS,),
    "payments": (t.PAYMENTS_EVENTS,),
    "dunning": (t.DUNNING_EVENTS,),
    "risk": (t.RISK_EVENTS,),
    "notifications": (t.NOTIFICATIONS_EVENTS,),
    "erp": (t.ERP_INVOICES, t.ERP_PAYMENTS, t.RISK_SIGNALS),
}
CONSUMES: Mapping[str, tuple[str, ...]] = {
    "invoicing": (t.PAYMENTS_EVENTS, t.ERP_INVOICES),
    "payments": (t.INVOICING_EVENTS, t.ERP_PAYMENTS),
    "dunning": (t.INVOICING_EVENTS, t.PAYMENTS_EVENTS, t.RISK_EVENTS, t.NOTIFICATIONS_EVENTS),
    "risk": (
        t.INVOICING_EVENTS,
        t.PAYMENTS_EVENTS,
        t.DUNNING_EVENTS,
        t.NOTIFICATIONS_EVENTS,
        t.RISK_SIGNALS,
    ),
    "notifications": (t.DUNNING_EVENTS,),
}

_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 Kafka binary mode attributes plus W3C trace context",
    "required": [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_subject",
        "content-type",
    ],
    "properties": {
        "ce_specversion": {"const": "1.0", "type": "string"},
        "ce_id": {"type": "string", "format": "uuid", "description": "Unique event id"},
        "ce_source": {"type": "string", "description": "/dunlin/<service> or /erp/<system>"},
        "ce_type": {"type": "string", "description": "dunlin.<service>.<EventName>.v<N>"},
        "ce_time": {"type": "string", "format": "date-time", "description": "UTC, RFC 3339"},
        "ce_subject": {"type": "string", "description": "Customer account id (= Kafka key)"},
        "content-type": {"const": "application/json", "type": "string"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
    },
}


def topic_events(topic: str) -> tuple[type[Event], ...]:
    """Event classes that may appear on a source topic."""
    if topic in t.ERP_TOPIC_EVENTS:
        return t.ERP_TOPIC_EVENTS[topic]
    return tuple(cls for cls in all_events() if cls.topic() == topic)


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_")


def _message_key(cls: type[Event]) -> str:
    return f"{cls.event_name}_v{cls.version}"


def _message(cls: type[Event]) -> dict[str, Any]:
    doc = inspect.cleandoc(cls.__doc__ or cls.event_name)
    return {
        "name": cls.event_name,
        "title": f"{cls.event_name} v{cls.version}",
        "summary": doc.splitlines()[0],
        "description": doc,
        "contentType": "application/json",
        "correlationId": {"location": "$message.header#/ce_id"},
        "headers": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEventHeaders"},
                {"properties": {"ce_type": {"const": cls.ce_type()}}},
            ]
        },
        "payload": {"$ref": f"#/components/schemas/{cls.__name__}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "Customer account id"},
                "bindingVersion": "0.5.0",
            }
        },
    }


def _dead_letter() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A message that could not be processed, unchanged, with the error added.",
        "description": (
            "Key, value and headers of the original record are kept as they were; the"
            " consumer adds headers naming the error so the message can be inspected and"
            " replayed."
        ),
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "payload": {"description": "The original record value, as received"},
    }


def _channels() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for topic in t.SOURCE_TOPICS:
        messages = {
            _message_key(cls): {"$ref": f"#/components/messages/{cls.ce_type()}"}
            for cls in topic_events(topic)
        }
        channels[_channel_id(topic)] = {
            "address": topic,
            "description": f"Events on {topic}, keyed by customer account id",
            "messages": messages,
        }
        dlq = t.dlq_topic(topic)
        channels[_channel_id(dlq)] = {
            "address": dlq,
            "description": f"Messages from {topic} that could not be processed",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        }
    return channels


def _operation(service: str, action: str, topic: str, channels: dict[str, Any]) -> Any:
    channel = _channel_id(topic)
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": f"{service} {action}s {topic}",
        "messages": [
            {"$ref": f"#/channels/{channel}/messages/{key}"}
            for key in sorted(channels[channel]["messages"])
        ],
    }


def _operations(channels: dict[str, Any]) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for service, produced in PRODUCES.items():
        for topic in produced:
            ops[f"{service}_send_{_channel_id(topic)}"] = _operation(
                service, "send", topic, channels
            )
    for service, consumed in CONSUMES.items():
        for topic in consumed:
            ops[f"{service}_receive_{_channel_id(topic)}"] = _operation(
                service, "receive", topic, channels
            )
            dlq = t.dlq_topic(topic)
            ops[f"{service}_send_{_channel_id(dlq)}"] = _operation(service, "send", dlq, channels)
    return ops


def build() -> dict[str, Any]:
    """The whole AsyncAPI 3.0.0 document as JSON-shaped data."""
    events = all_events()
    _, schemas = models_json_schema(
        [(cls, "serialization") for cls in events], ref_template="#/components/schemas/{model}"
    )
    channels = _channels()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Dunlin events",
            "version": "1.0.0",
            "description": (
                "Event contracts of Dunlin, the B2B collections platform: CloudEvents 1.0 in"
                " Kafka binary mode, JSON bodies, money as decimal strings plus ISO 4217"
                " currency. The Kafka key is the customer account id."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "embedded": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "Embedded Kafka-protocol broker (Tansu) started by devstack",
            },
            "kafka": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "Apache Kafka (docker-compose or Strimzi on Kubernetes)",
            },
        },
        "channels": channels,
        "operations": _operations(channels),
        "components": {
            "messages": {
                **{cls.ce_type(): _message(cls) for cls in events},
                "DeadLetter": _dead_letter(),
            },
            "schemas": {**schemas["$defs"], "CloudEventHeaders": _HEADERS},
        },
    }
