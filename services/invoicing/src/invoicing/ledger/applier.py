"""Payment money onto invoices: apply, hold until the invoice is known, overpay, reverse."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_platform.consumer import RejectEvent
from invoicing.db import HeldAllocationRow, InvoiceRow, OverpaymentRow, PaymentApplicationRow
from invoicing.domain.account_ledger import split_reversal
from invoicing.domain.ledger import EntryKind, allocate, reverse
from invoicing.ledger.book import Book, ledger_of


class Applier:
    """Applies allocations of a batch against locked invoices and preloaded payment state."""

    def __init__(
        self, *, session: AsyncSession, book: Book, invoices: dict[str, InvoiceRow]
    ) -> None:
        self._session = session
        self._book = book
        self.invoices = invoices
        self._applications: dict[tuple[str, str], PaymentApplicationRow] = {}
        self._held: dict[tuple[str, str], list[HeldAllocationRow]] = defaultdict(list)
        self._overpaid: dict[tuple[str, str | None], list[OverpaymentRow]] = defaultdict(list)
        self._loaded: set[str] = set()

    async def load(self, payment_ids: Collection[str]) -> None:
        """Lock and load what these payments already did: three queries for the whole batch."""
        ids = sorted(set(payment_ids) - self._loaded)
        if not ids:
            return
        self._loaded.update(ids)
        for app in await self._session.scalars(
            select(PaymentApplicationRow)
            .where(PaymentApplicationRow.payment_id.in_(ids))
            .order_by(PaymentApplicationRow.payment_id, PaymentApplicationRow.invoice_id)
            .with_for_update()
        ):
            self._applications[(app.payment_id, app.invoice_id)] = app
        for held in await self._session.scalars(
            select(HeldAllocationRow)
            .where(HeldAllocationRow.payment_id.in_(ids), HeldAllocationRow.status == "held")
            .order_by(HeldAllocationRow.id)
            .with_for_update()
        ):
            self._held[(held.payment_id, held.invoice_ref)].append(held)
        for over in await self._session.scalars(
            select(OverpaymentRow)
            .where(OverpaymentRow.payment_id.in_(ids))
            .order_by(OverpaymentRow.id)
            .with_for_update()
        ):
            self._overpaid[(over.payment_id, over.invoice_id)].append(over)

    def seen(self, payment_id: str, ref: str) -> bool:
        """Whether this payment already allocated to this invoice (applied, held or overpaid)."""
        row = self.invoices.get(ref)
        invoice_id = row.id if row else ref
        return (
            (payment_id, invoice_id) in self._applications
            or bool(self._held.get((payment_id, ref)))
            or bool(self._overpaid.get((payment_id, invoice_id)))
        )

    def allocate(
        self,
        *,
        account_id: str,
        payment_id: str,
        ref: str,
        amount_minor: int,
        currency: str,
        received_on: dt.date,
        kind: EntryKind = "payment",
    ) -> None:
        """Apply an allocation, hold it while the invoice is unknown, overpay the excess."""
        row = self.invoices.get(ref)
        if row is None:
            held = HeldAllocationRow(
                id=str(uuid.uuid4()),
                payment_id=payment_id,
                invoice_ref=ref,
                account_id=account_id,
                currency=currency,
                amount_minor=amount_minor,
                received_on=received_on,
                status="held",
                created_at=self._book.now,
            )
            self._session.add(held)
            self._held[(payment_id, ref)].append(held)
            return
        if row.currency != currency:
            raise RejectEvent(
                f"payment {payment_id} is in {currency}; invoice {ref} is in {row.currency}"
            )
        outcome = allocate(ledger_of(row), amount_minor)
        if outcome.change is not None:
            self._book.record(
                row,
                outcome.change,
                effective_date=max(received_on, row.issue_date),
                source_id=payment_id,
                kind=kind,
            )
        key = (payment_id, row.id)
        app = self._applications.get(key)
        if app is None:
            app = PaymentApplicationRow(
                payment_id=payment_id,
                invoice_id=row.id,
                account_id=row.account_id,
                currency=currency,
                applied_minor=0,
                reversed_minor=0,
                received_on=received_on,
                created_at=self._book.now,
            )
            self._session.add(app)
            self._applications[key] = app
        app.applied_minor += outcome.applied_minor
        if outcome.overpaid_minor:
            # The payments service normally prevents this; the money is kept as unapplied credit.
            over = OverpaymentRow(
                id=str(uuid.uuid4()),
                account_id=row.account_id,
                payment_id=payment_id,
                invoice_id=row.id,
                currency=currency,
                amount_minor=outcome.overpaid_minor,
                reversed_minor=0,
                created_at=self._book.now,
            )
            self._session.add(over)
            self._overpaid[(payment_id, row.id)].append(over)

    def reverse(
        self, *, payment_id: str, ref: str, amount_minor: int, reversed_on: dt.date, source_id: str
    ) -> None:
        """Undo an allocation: cancel its hold, withdraw its overpayment, reopen the invoice."""
        row = self.invoices.get(ref)
        refs = {ref} | ({row.id, row.external_id} - {None} if row else set())
        holds = [
            h for r in sorted(r for r in refs if r) for h in self._held.get((payment_id, r), [])
        ]
        overs = self._overpaid.get((payment_id, row.id if row else None), []) if row else []
        app = self._applications.get((payment_id, row.id)) if row else None
        split = split_reversal(
            amount_minor,
            held=sum(h.amount_minor for h in holds if h.status == "held"),
            overpaid=sum(o.amount_minor - o.reversed_minor for o in overs),
            applied=app.applied_minor - app.reversed_minor if app else 0,
        )
        left = split.from_held
        for hold in holds:
            take = min(left, hold.amount_minor if hold.status == "held" else 0)
            left -= take
            if take == hold.amount_minor:
                hold.status, hold.resolved_at = "cancelled", self._book.now
            else:
                hold.amount_minor -= take
        left = split.from_overpaid
        for over in overs:
            take = min(left, over.amount_minor - over.reversed_minor)
            over.reversed_minor += take
            left -= take
        if row is not None and app is not None and split.from_applied:
            app.reversed_minor += split.from_applied
            change = reverse(ledger_of(row), split.from_applied)
            if change is not None:
                self._book.record(row, change, effective_date=reversed_on, source_id=source_id)

    async def release_holds(self, rows: list[InvoiceRow]) -> None:
        """The "invoice became known" hook: apply every allocation that waited for these."""
        for row in rows:
            self.invoices[row.id] = row
            if row.external_id is not None:
                self.invoices.setdefault(row.external_id, row)
        refs = sorted({r for row in rows for r in (row.id, row.external_id) if r})
        if not refs:
            return
        holds = list(
            await self._session.scalars(
                select(HeldAllocationRow)
                .where(HeldAllocationRow.invoice_ref.in_(refs), HeldAllocationRow.status == "held")
                .order_by(HeldAllocationRow.payment_id, HeldAllocationRow.invoice_ref)
                .with_for_update()
            )
        )
        await self.load({h.payment_id for h in holds})
        for hold in holds:
            if hold.status != "held":
                continue
            hold.status, hold.resolved_at = "applied", self._book.now
            self._held[(hold.payment_id, hold.invoice_ref)] = [
                h for h in self._held[(hold.payment_id, hold.invoice_ref)] if h is not hold
            ]
            self.allocate(
                account_id=hold.account_id,
                payment_id=hold.payment_id,
                ref=hold.invoice_ref,
                amount_minor=hold.amount_minor,
                currency=hold.currency,
                received_on=hold.received_on,
            )
