"""The data a template sees, built from a NotificationRequested."""

from __future__ import annotations

from typing import Any

from dunlin_events import NotificationRequested


def template_context(request: NotificationRequested, *, creditor_name: str) -> dict[str, Any]:
    """Plain values for the template: names, invoices, charges, amounts, dates, links."""
    invoices = [
        {
            "number": inv.invoice_number,
            "due_date": inv.due_date,
            "balance": inv.balance,
            "days_overdue": inv.days_overdue,
        }
        for inv in request.invoices
    ]
    return {
        "account_name": request.account_name,
        "contact_name": request.recipient.name,
        "step_key": request.step_key,
        "currency": request.currency,
        "invoices": invoices,
        "charges": [{"description": c.description, "amount": c.amount} for c in request.charges],
        "dunned_balance": request.dunned_balance,
        "total_due": request.total_due,
        "due_date": min(inv.due_date for inv in request.invoices),
        "pay_by": request.pay_by,
        "payment_link": request.payment_link,
        "reply_to": request.reply_to,
        "creditor_name": creditor_name,
    }
