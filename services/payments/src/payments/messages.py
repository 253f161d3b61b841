"""Facts payments publishes on payments.events, built from rows and domain results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from dunlin_events import (
    Allocation,
    Installment,
    InstallmentMissed,
    PaymentAllocated,
    PaymentPlanAgreed,
    PaymentPlanCancelled,
    PaymentPlanCompleted,
    PaymentReceived,
    PaymentReversed,
    RemittanceLine,
    from_minor,
)
from payments.db import PaymentRow, PlanRow
from payments.domain.plans import InstallmentView, ScheduledInstallment


def _allocations(shares: Iterable[tuple[str, int]], currency: str) -> list[Allocation]:
    return [
        Allocation(invoice_id=invoice_id, amount=from_minor(amount, currency))
        for invoice_id, amount in shares
    ]


def payment_received(
    payment: PaymentRow, allocations: Sequence[tuple[str, int]]
) -> PaymentReceived:
    """The PaymentReceived fact with Dunlin ids and how the money was applied."""
    currency = payment.currency
    return PaymentReceived(
        account_id=payment.account_id,
        payment_id=payment.id,
        external_id=payment.external_id,
        amount=from_minor(payment.amount_minor, currency),
        currency=currency,
        method=payment.method,
        received_on=payment.received_on,
        reference=payment.reference,
        remittance=[RemittanceLine.model_validate(line) for line in payment.remittance],
        allocations=_allocations(allocations, currency),
        unapplied_amount=from_minor(payment.credit_minor + payment.earmarked_minor, currency),
    )


def payment_allocated(
    payment: PaymentRow, allocations: Sequence[tuple[str, int]], unapplied_minor: int
) -> PaymentAllocated:
    """Credit of an earlier payment applied to invoices."""
    return PaymentAllocated(
        account_id=payment.account_id,
        payment_id=payment.id,
        currency=payment.currency,
        allocations=_allocations(allocations, payment.currency),
        unapplied_amount=from_minor(unapplied_minor, payment.currency),
    )


def payment_reversed(
    payment: PaymentRow, undone: Sequence[tuple[str, int]], unapplied_minor: int
) -> PaymentReversed:
    """A reversal: every allocation undone (summed per invoice) and the credit withdrawn."""
    per_invoice: dict[str, int] = {}
    for invoice_id, amount in undone:
        per_invoice[invoice_id] = per_invoice.get(invoice_id, 0) + amount
    assert payment.reversal_id
    assert payment.reversal_reason
    assert payment.reversed_on
    return PaymentReversed(
        account_id=payment.account_id,
        payment_id=payment.id,
        reversal_id=payment.reversal_id,
        currency=payment.currency,
        amount=from_minor(payment.amount_minor, payment.currency),
        reason=payment.reversal_reason,
        reversed_on=payment.reversed_on,
        allocations=_allocations(per_invoice.items(), payment.currency),
        unapplied_reversed=from_minor(unapplied_minor, payment.currency),
    )


def plan_agreed(
    plan: PlanRow, invoice_ids: Sequence[str], schedule: Sequence[ScheduledInstallment]
) -> PaymentPlanAgreed:
    """A new payment plan."""
    currency = plan.currency
    return PaymentPlanAgreed(
        account_id=plan.account_id,
        plan_id=plan.id,
        currency=currency,
        invoice_ids=list(invoice_ids),
        total=from_minor(plan.total_minor, currency),
        installments=[
            Installment(
                number=x.number, due_date=x.due_date, amount=from_minor(x.amount_minor, currency)
            )
            for x in schedule
        ],
        agreed_at=plan.agreed_at,
        agreed_by=plan.agreed_by,
    )


def installment_missed(plan: PlanRow, view: InstallmentView) -> InstallmentMissed:
    """An installment passed its date unpaid."""
    currency = plan.currency
    return InstallmentMissed(
        account_id=plan.account_id,
        plan_id=plan.id,
        installment_number=view.installment.number,
        due_date=view.installment.due_date,
        currency=currency,
        amount_due=from_minor(view.installment.amount_minor, currency),
        amount_paid=from_minor(view.paid_minor, currency),
    )


def plan_completed(plan: PlanRow, completed_on: dt.date) -> PaymentPlanCompleted:
    """Every installment is paid."""
    return PaymentPlanCompleted(
        account_id=plan.account_id,
        plan_id=plan.id,
        currency=plan.currency,
        total_paid=from_minor(plan.paid_minor, plan.currency),
        completed_on=completed_on,
    )


def plan_cancelled(plan: PlanRow) -> PaymentPlanCancelled:
    """A plan ended early."""
    assert plan.cancelled_at is not None
    assert plan.cancellation_reason
    return PaymentPlanCancelled(
        account_id=plan.account_id,
        plan_id=plan.id,
        currency=plan.currency,
        total_paid=from_minor(plan.paid_minor, plan.currency),
        reason=plan.cancellation_reason,
        cancelled_by=plan.cancelled_by,
        cancelled_at=plan.cancelled_at,
    )
