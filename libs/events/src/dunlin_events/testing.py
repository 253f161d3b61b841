"""Factories of valid events with unique ids, for tests here and in the services."""

from __future__ import annotations

import itertools
from typing import Any

from dunlin_events import (
    AccountHandedToAgency,
    AccountOverdue,
    AccountRegistered,
    CollectorTaskCompleted,
    CollectorTaskCreated,
    CreditLimitRecommended,
    DisputeResolved,
    DunningCaseClosed,
    DunningHoldChanged,
    DunningStepExecuted,
    ExternalSignalReported,
    InstallmentMissed,
    InvoiceAdjusted,
    InvoiceDisputed,
    InvoiceIssued,
    InvoiceSettled,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    PaymentAllocated,
    PaymentPlanAgreed,
    PaymentPlanCancelled,
    PaymentPlanCompleted,
    PaymentReceived,
    PaymentReturned,
    PaymentReversed,
    PromiseToPayBroken,
    PromiseToPayKept,
    PromiseToPayRecorded,
    RiskAssessed,
)

_ids = itertools.count(1)


def uid(prefix: str) -> str:
    """A process-unique id such as acc-17."""
    return f"{prefix}-{next(_ids)}"


def account_registered(**overrides: Any) -> AccountRegistered:
    """A valid AccountRegistered; keyword arguments override fields."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "name": "Acme GmbH",
        "currency": "EUR",
        "country": "DE",
        "time_zone": "Europe/Berlin",
        "locale": "de-DE",
        "payment_terms": {"kind": "net", "days": 30},
        "credit_limit": "50000.00",
        "tags": ["strategic"],
        "contacts": [
            {
                "contact_id": "c1",
                "name": "Ada Clerk",
                "role": "accounts_payable",
                "email": "ap@acme.example",
                "phone": "+4930123456",
                "postal_address": {"lines": ["Hauptstr. 1"], "city": "Berlin", "country": "DE"},
            }
        ],
    }
    return AccountRegistered.model_validate({**data, **overrides})


def invoice_issued(**overrides: Any) -> InvoiceIssued:
    """A valid InvoiceIssued (EUR, two lines); keyword arguments override fields."""
    line = {
        "description": "Consulting",
        "quantity": "2",
        "unit_price": "500.00",
        "tax_rate": "19",
        "net_amount": "1000.00",
        "tax_amount": "190.00",
    }
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "invoice_id": uid("inv"),
        "invoice_number": "2024-0001",
        "currency": "EUR",
        "issue_date": "2024-01-01",
        "due_date": "2024-01-31",
        "lines": [line, {**line, "net_amount": "234.50", "tax_amount": "44.56"}],
        "subtotal": "1234.50",
        "tax_total": "234.56",
        "total": "1469.06",
        "early_payment_discount": {"percent": "2", "days": 10},
    }
    return InvoiceIssued.model_validate({**data, **overrides})


def account_overdue(**overrides: Any) -> AccountOverdue:
    """A valid AccountOverdue (two invoices, 31-day threshold); overrides apply."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "currency": "EUR",
        "overdue_balance": "300.00",
        "days_overdue": 35,
        "threshold_days": 31,
        "oldest_due_date": "2024-01-01",
        "as_of": "2024-02-05T08:00:00+01:00",
        "invoices": [
            {
                "invoice_id": "i1",
                "invoice_number": "1",
                "due_date": "2024-01-01",
                "balance": "100.00",
                "days_overdue": 35,
            },
            {
                "invoice_id": "i2",
                "invoice_number": "2",
                "due_date": "2024-01-20",
                "balance": "200.00",
                "days_overdue": 16,
            },
        ],
    }
    return AccountOverdue.model_validate({**data, **overrides})


def payment_received(**overrides: Any) -> PaymentReceived:
    """A valid, fully allocated PaymentReceived; keyword arguments override fields."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "payment_id": uid("pay"),
        "amount": "1500.00",
        "currency": "EUR",
        "method": "bank_transfer",
        "received_on": "2024-01-15",
        "remittance": [{"invoice_id": "inv-1", "amount": "1469.06"}],
        "allocations": [{"invoice_id": "inv-1", "amount": "1469.06"}],
        "unapplied_amount": "30.94",
    }
    return PaymentReceived.model_validate({**data, **overrides})


def invoice_adjusted(**overrides: Any) -> InvoiceAdjusted:
    """A valid credit-note InvoiceAdjusted."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "invoice_id": uid("inv"),
        "adjustment_id": uid("cn"),
        "kind": "credit_note",
        "currency": "EUR",
        "amount_delta": "-100.00",
        "total": "1090.00",
        "balance": "1090.00",
        "due_date": "2026-12-01",
        "status": "open",
        "effective_date": "2026-11-20",
    }
    return InvoiceAdjusted.model_validate(data | overrides)


def invoice_disputed(**overrides: Any) -> InvoiceDisputed:
    """A valid InvoiceDisputed."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "dispute_id": uid("dsp"),
        "invoice_id": uid("inv"),
        "currency": "EUR",
        "amount": "250.00",
        "reason": "quality",
        "opened_at": "2026-11-20T10:00:00Z",
    }
    return InvoiceDisputed.model_validate(data | overrides)


def dispute_resolved(**overrides: Any) -> DisputeResolved:
    """A valid upheld DisputeResolved."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "dispute_id": uid("dsp"),
        "invoice_id": uid("inv"),
        "outcome": "upheld",
        "currency": "EUR",
        "credited_amount": "250.00",
        "credit_note_id": uid("cn"),
        "resolved_at": "2026-11-22T10:00:00Z",
    }
    return DisputeResolved.model_validate(data | overrides)


def invoice_settled(**overrides: Any) -> InvoiceSettled:
    """A valid InvoiceSettled, paid two days late."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "invoice_id": uid("inv"),
        "invoice_number": "INV-1",
        "currency": "EUR",
        "total": "1190.00",
        "paid_amount": "1190.00",
        "due_date": "2026-11-20",
        "settled_on": "2026-11-22",
        "days_late": 2,
    }
    return InvoiceSettled.model_validate(data | overrides)


def payment_reversed(**overrides: Any) -> PaymentReversed:
    """A valid bounced PaymentReversed."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "payment_id": uid("pay"),
        "reversal_id": uid("rev"),
        "currency": "EUR",
        "amount": "500.00",
        "reason": "bounced",
        "reversed_on": "2026-11-21",
        "allocations": [{"invoice_id": "inv-a", "amount": "400.00"}],
        "unapplied_reversed": "100.00",
    }
    return PaymentReversed.model_validate(data | overrides)


def payment_returned(**overrides: Any) -> PaymentReturned:
    """A valid PaymentReturned as an ERP publishes it on erp.payments (the source's ids)."""
    data: dict[str, Any] = {
        "account_id": uid("erp-acc"),
        "payment_id": uid("bank"),
        "return_id": uid("ret"),
        "currency": "EUR",
        "amount": "500.00",
        "reason": "bounced",
        "returned_on": "2026-11-21",
    }
    return PaymentReturned.model_validate(data | overrides)


def payment_allocated(**overrides: Any) -> PaymentAllocated:
    """A valid PaymentAllocated."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "payment_id": uid("pay"),
        "currency": "EUR",
        "allocations": [{"invoice_id": "inv-b", "amount": "100.00"}],
        "unapplied_amount": "0.00",
    }
    return PaymentAllocated.model_validate(data | overrides)


def payment_plan_agreed(**overrides: Any) -> PaymentPlanAgreed:
    """A valid three-installment PaymentPlanAgreed."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "plan_id": uid("plan"),
        "currency": "EUR",
        "invoice_ids": ["inv-a", "inv-b"],
        "total": "3000.00",
        "installments": [
            {"number": 1, "due_date": "2026-12-01", "amount": "1000.00"},
            {"number": 2, "due_date": "2027-01-01", "amount": "1000.00"},
            {"number": 3, "due_date": "2027-02-01", "amount": "1000.00"},
        ],
        "agreed_at": "2026-11-20T10:00:00Z",
    }
    return PaymentPlanAgreed.model_validate(data | overrides)


def installment_missed(**overrides: Any) -> InstallmentMissed:
    """A valid InstallmentMissed."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "plan_id": uid("plan"),
        "installment_number": 1,
        "due_date": "2026-12-01",
        "currency": "EUR",
        "amount_due": "1000.00",
        "amount_paid": "200.00",
    }
    return InstallmentMissed.model_validate(data | overrides)


def payment_plan_completed(**overrides: Any) -> PaymentPlanCompleted:
    """A valid PaymentPlanCompleted."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "plan_id": uid("plan"),
        "currency": "EUR",
        "total_paid": "3000.00",
        "completed_on": "2027-02-01",
    }
    return PaymentPlanCompleted.model_validate(data | overrides)


def payment_plan_cancelled(**overrides: Any) -> PaymentPlanCancelled:
    """A valid PaymentPlanCancelled."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "plan_id": uid("plan"),
        "currency": "EUR",
        "total_paid": "1000.00",
        "reason": "customer asked to pay in full instead",
        "cancelled_at": "2026-12-15T10:00:00Z",
    }
    return PaymentPlanCancelled.model_validate(data | overrides)


def _dunned_invoice(**overrides: Any) -> dict[str, Any]:
    return {
        "invoice_id": uid("inv"),
        "invoice_number": uid("RE"),
        "due_date": "2026-11-01",
        "balance": "1190.00",
        "days_overdue": 9,
    } | overrides


def dunning_step_executed(**overrides: Any) -> DunningStepExecuted:
    """A valid DunningStepExecuted (the reminder step, one invoice)."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "case_id": uid("case"),
        "policy_id": "default",
        "policy_version": 1,
        "step_key": "reminder",
        "step_index": 1,
        "outcome": "executed",
        "channels": ["email"],
        "currency": "EUR",
        "dunned_balance": "1190.00",
        "invoices": [_dunned_invoice()],
        "executed_at": "2026-11-10T09:00:00Z",
    }
    return DunningStepExecuted.model_validate(data | overrides)


def _recipient() -> dict[str, Any]:
    return {
        "contact_id": "c1",
        "name": "Ada Clerk",
        "role": "accounts_payable",
        "email": "ap@acme.example",
        "phone": "+4930123456",
        "postal_address": {"lines": ["Hauptstr. 1"], "city": "Berlin", "country": "DE"},
        "consent": {"email": True, "sms": True, "phone": True, "letter": True},
    }


def _case_file() -> dict[str, Any]:
    return {
        "account_name": "Acme GmbH",
        "currency": "EUR",
        "total_due": "1230.00",
        "invoices": [_dunned_invoice(days_overdue=61)],
        "charges": [
            {"kind": "compensation", "description": "Flat compensation", "amount": "40.00"}
        ],
        "contacts": [_recipient()],
        "contact_history": [
            {
                "at": "2026-11-02T09:00:00Z",
                "channel": "email",
                "step_key": "reminder",
                "status": "delivered",
            }
        ],
        "promises": [],
        "disputes": [],
    }


def notification_requested(**overrides: Any) -> NotificationRequested:
    """A valid NotificationRequested (reminder e-mail, one invoice, letter as fallback)."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "notification_id": uid("ntf"),
        "case_id": uid("case"),
        "step_key": "reminder",
        "channel": "email",
        "fallback_channels": ["letter"],
        "template_key": "reminder",
        "locale": "en",
        "time_zone": "Europe/Berlin",
        "account_name": "Acme GmbH",
        "recipient": _recipient(),
        "currency": "EUR",
        "dunned_balance": "1190.00",
        "total_due": "1190.00",
        "invoices": [_dunned_invoice()],
        "pay_by": "2026-11-20",
        "requested_at": "2026-11-10T09:00:00Z",
    }
    return NotificationRequested.model_validate(data | overrides)


def collector_task_created(**overrides: Any) -> CollectorTaskCreated:
    """A valid CollectorTaskCreated."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "task_id": uid("task"),
        "case_id": uid("case"),
        "step_key": "call",
        "contact_id": "c1",
        "priority": 1234.5,
        "currency": "EUR",
        "dunned_balance": "1190.00",
        "invoice_ids": [uid("inv")],
        "due_at": "2026-11-17T09:00:00Z",
    }
    return CollectorTaskCreated.model_validate(data | overrides)


def collector_task_completed(**overrides: Any) -> CollectorTaskCompleted:
    """A valid CollectorTaskCompleted."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "task_id": uid("task"),
        "case_id": uid("case"),
        "outcome": "no_answer",
        "completed_by": "collector@example.com",
        "completed_at": "2026-11-17T10:00:00Z",
    }
    return CollectorTaskCompleted.model_validate(data | overrides)


def promise_to_pay_recorded(**overrides: Any) -> PromiseToPayRecorded:
    """A valid PromiseToPayRecorded."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "promise_id": uid("ptp"),
        "case_id": uid("case"),
        "currency": "EUR",
        "amount": "1190.00",
        "promised_date": "2026-11-25",
        "grace_days": 3,
        "channel": "phone",
        "recorded_by": "collector@example.com",
        "recorded_at": "2026-11-17T10:00:00Z",
    }
    return PromiseToPayRecorded.model_validate(data | overrides)


def promise_to_pay_kept(**overrides: Any) -> PromiseToPayKept:
    """A valid PromiseToPayKept."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "promise_id": uid("ptp"),
        "case_id": uid("case"),
        "currency": "EUR",
        "amount": "1190.00",
        "paid_amount": "1190.00",
        "promised_date": "2026-11-25",
        "kept_on": "2026-11-24",
    }
    return PromiseToPayKept.model_validate(data | overrides)


def promise_to_pay_broken(**overrides: Any) -> PromiseToPayBroken:
    """A valid PromiseToPayBroken."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "promise_id": uid("ptp"),
        "case_id": uid("case"),
        "currency": "EUR",
        "amount": "1190.00",
        "paid_amount": "0.00",
        "promised_date": "2026-11-25",
        "broken_on": "2026-11-29",
    }
    return PromiseToPayBroken.model_validate(data | overrides)


def account_handed_to_agency(**overrides: Any) -> AccountHandedToAgency:
    """A valid AccountHandedToAgency."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "handoff_id": uid("handoff"),
        "case_id": uid("case"),
        "agency": "Example Collections Ltd",
        "currency": "EUR",
        "total_due": "1230.00",
        "case_file": _case_file(),
        "handed_at": "2027-01-01T09:00:00Z",
    }
    return AccountHandedToAgency.model_validate(data | overrides)


def dunning_case_closed(**overrides: Any) -> DunningCaseClosed:
    """A valid DunningCaseClosed."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "case_id": uid("case"),
        "reason": "paid",
        "last_step_key": "reminder",
        "closed_at": "2026-11-12T09:00:00Z",
    }
    return DunningCaseClosed.model_validate(data | overrides)


def dunning_hold_changed(**overrides: Any) -> DunningHoldChanged:
    """A valid DunningHoldChanged."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "case_id": uid("case"),
        "hold_id": uid("hold"),
        "action": "placed",
        "reason": "customer restructuring, CFO asked for two weeks",
        "until": "2026-12-01T00:00:00Z",
        "actor": "collector@example.com",
        "at": "2026-11-17T10:00:00Z",
    }
    return DunningHoldChanged.model_validate(data | overrides)


def notification_sent(**overrides: Any) -> NotificationSent:
    """A valid NotificationSent."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "notification_id": uid("ntf"),
        "case_id": uid("case"),
        "step_key": "reminder",
        "channel": "email",
        "contact_id": "c1",
        "provider": "smtp",
        "provider_message_id": "<abc@dunlin>",
        "sent_at": "2026-11-10T09:00:05Z",
    }
    return NotificationSent.model_validate(data | overrides)


def notification_delivered(**overrides: Any) -> NotificationDelivered:
    """A valid NotificationDelivered."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "notification_id": uid("ntf"),
        "channel": "sms",
        "provider": "twilio",
        "delivered_at": "2026-11-10T09:00:09Z",
    }
    return NotificationDelivered.model_validate(data | overrides)


def notification_failed(**overrides: Any) -> NotificationFailed:
    """A valid NotificationFailed (bounced e-mail, letter next)."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "notification_id": uid("ntf"),
        "channel": "email",
        "reason": "bounced",
        "detail": "550 mailbox unavailable",
        "fallback_channel": "letter",
        "failed_at": "2026-11-10T09:01:00Z",
    }
    return NotificationFailed.model_validate(data | overrides)


def risk_assessed(**overrides: Any) -> RiskAssessed:
    """A valid RiskAssessed (medium tier, two reasons)."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "score": 47,
        "tier": "medium",
        "previous_score": 22,
        "previous_tier": "low",
        "reasons": [
            {
                "code": "LATE_SHARE",
                "label": "Share of invoices paid late",
                "value": 0.5,
                "weight": 30.0,
                "contribution": 15.0,
            },
            {
                "code": "BROKEN_PROMISES",
                "label": "Broken promises to pay",
                "value": 1,
                "weight": 10.0,
                "contribution": 10.0,
            },
        ],
        "recommended_actions": ["contact_more_often"],
        "model_version": "transparent-1",
        "assessed_at": "2026-11-10T09:00:00Z",
    }
    return RiskAssessed.model_validate(data | overrides)


def credit_limit_recommended(**overrides: Any) -> CreditLimitRecommended:
    """A valid CreditLimitRecommended."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "currency": "EUR",
        "current_limit": "50000.00",
        "recommended_limit": "25000.00",
        "tier": "high",
        "reason": "late-payment trend and a bureau downgrade",
        "recommended_at": "2026-11-10T09:00:00Z",
    }
    return CreditLimitRecommended.model_validate(data | overrides)


def external_signal_reported(**overrides: Any) -> ExternalSignalReported:
    """A valid ExternalSignalReported (a bureau downgrade)."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "signal_id": uid("sig"),
        "kind": "bureau_downgrade",
        "source": "creditreform",
        "severity": 3,
        "observed_on": "2026-11-09",
        "text": "Rating lowered from 2 to 4",
    }
    return ExternalSignalReported.model_validate(data | overrides)
