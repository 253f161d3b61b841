"""Publish an invoice onto `erp.invoices` the way an ERP integration would.

Run it against the platform started by `make run`:

    .tools/bin/uv run python examples/erp_publish_invoice.py --customer CUST-1001 --number INV-1

The message is a CloudEvents 1.0 binary-mode Kafka record: the event JSON as the value,
`ce_*` headers, and the ERP's own customer id as the key (so one customer's events stay
in order). Any Kafka client in any language can produce the same record.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from datetime import date, timedelta

from aiokafka import AIOKafkaProducer

from dunlin_events import InvoiceIssued, encode, new_envelope
from dunlin_events.topics import ERP_INVOICES


def build_invoice(customer: str, number: str, issued: date) -> InvoiceIssued:
    """Two lines at 19% VAT; ids are the ERP's own (Dunlin maps them to its accounts)."""
    return InvoiceIssued.model_validate(
        {
            "invoice_id": f"{customer}/{number}",
            "account_id": customer,
            "invoice_number": number,
            "currency": "EUR",
            "issue_date": issued.isoformat(),
            "due_date": (issued + timedelta(days=30)).isoformat(),
            "lines": [
                {
                    "description": "Consulting, October",
                    "quantity": "10",
                    "unit_price": "120.00",
                    "tax_rate": "19",
                    "net_amount": "1200.00",
                    "tax_amount": "228.00",
                },
                {
                    "description": "Travel expenses",
                    "quantity": "1",
                    "unit_price": "85.50",
                    "tax_rate": "19",
                    "net_amount": "85.50",
                    "tax_amount": "16.25",
                },
            ],
            "subtotal": "1285.50",
            "tax_total": "244.25",
            "total": "1529.75",
        }
    )


async def publish(bootstrap: str, invoice: InvoiceIssued) -> None:
    envelope = new_envelope(invoice, source="/erp/example", id=str(uuid.uuid4()))
    record = encode(envelope)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        meta = await producer.send_and_wait(
            ERP_INVOICES, record.value, key=record.key, headers=record.headers
        )
    finally:
        await producer.stop()
    print(f"published {envelope.type} id={envelope.id} to {ERP_INVOICES}[{meta.partition}]")
    for name, value in record.headers:
        print(f"  header {name}: {value.decode()}")
    print(f"  key: {record.key.decode()}")
    print(f"  value: {record.value.decode()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customer", default="CUST-1001", help="the ERP's customer id")
    parser.add_argument("--number", default=f"INV-{uuid.uuid4().hex[:6].upper()}")
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    args = parser.parse_args()
    asyncio.run(publish(args.bootstrap, build_invoice(args.customer, args.number, date.today())))


if __name__ == "__main__":
    main()
