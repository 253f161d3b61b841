"""Domain objects to the events invoicing publishes on invoicing.events (Dunlin ids)."""

from __future__ import annotations

from dunlin_events import (
    AccountRegistered,
    EarlyPaymentDiscount,
    InvoiceIssued,
    InvoiceLine,
    PaymentTerms,
    from_minor,
)
from invoicing.domain import Account, Invoice, Terms


def _terms(terms: Terms) -> PaymentTerms:
    return PaymentTerms(kind=terms.kind, days=terms.days)


def account_registered(account: Account) -> AccountRegistered:
    """The AccountRegistered fact for an account as stored."""
    return AccountRegistered(
        account_id=account.id,
        external_id=account.external_id,
        name=account.name,
        legal_name=account.legal_name,
        currency=account.currency,
        country=account.country,
        time_zone=account.time_zone,
        locale=account.locale,
        payment_terms=_terms(account.terms),
        credit_limit=(
            from_minor(account.credit_limit_minor, account.currency)
            if account.credit_limit_minor is not None
            else None
        ),
        tags=list(account.tags),
        parent_account_id=account.parent_account_id,
        dunning_policy=account.dunning_policy,
        contacts=list(account.contacts),
    )


def invoice_issued(invoice: Invoice, account: Account) -> InvoiceIssued:
    """The InvoiceIssued fact with Dunlin ids; the ERP's ids travel as external ids.

    Built without re-validation (`model_construct`): the invoice already passed the issue
    rules, which are the contract's (sums, scales, dates), and every value has the type the
    model declares. Tests prove it equal, field for field and byte for byte, to the
    validated model, and that it validates.
    """
    currency = invoice.currency
    discount = invoice.early_payment_discount
    return InvoiceIssued.model_construct(
        account_id=account.id,
        invoice_id=invoice.id,
        external_id=invoice.external_id,
        account_external_id=account.external_id,
        invoice_number=invoice.invoice_number,
        currency=currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        lines=[
            InvoiceLine.model_construct(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                tax_rate=line.tax_rate,
                net_amount=from_minor(line.net_minor, currency),
                tax_amount=from_minor(line.tax_minor, currency),
            )
            for line in invoice.lines
        ],
        subtotal=from_minor(invoice.totals.subtotal_minor, currency),
        tax_total=from_minor(invoice.totals.tax_total_minor, currency),
        total=from_minor(invoice.totals.total_minor, currency),
        early_payment_discount=(
            EarlyPaymentDiscount.model_construct(percent=discount.percent, days=discount.days)
            if discount is not None
            else None
        ),
        purchase_order=invoice.purchase_order,
        payment_terms=(
            PaymentTerms.model_construct(kind=invoice.terms.kind, days=invoice.terms.days)
            if invoice.terms != account.terms
            else None
        ),
    )
