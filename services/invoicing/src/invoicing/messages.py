"""Domain objects to the events invoicing publishes on invoicing.events (Dunlin ids)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from dunlin_events import (
    AccountRegistered,
    EarlyPaymentDiscount,
    InvoiceIssued,
    InvoiceLine,
    PaymentTerms,
    from_minor,
)
from invoicing.domain import Account, Invoice, Terms

M = TypeVar("M", bound=BaseModel)
_new_object = object.__new__
_set = object.__setattr__


def _trusted(cls: type[M], fields: dict[str, Any]) -> M:
    """`cls.model_construct(**fields)` for values that name every field, in field order.

    What model_construct does for such values (a fresh instance, these values as its
    `__dict__`, every field marked set, no extra, no private state), without its per-field
    loop over aliases and defaults: it was a third of building an InvoiceIssued. Only for
    the models `_check_trusted` accepted at import.
    """
    model = _new_object(cls)
    _set(model, "__dict__", fields)
    _set(model, "__pydantic_fields_set__", set(fields))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def _check_trusted(*classes: type[BaseModel]) -> None:
    """Refuse, at import, a model `_trusted` would build wrongly (aliases, extra, post-init)."""
    for cls in classes:
        fields = cls.__pydantic_fields__.values()
        if (
            cls.__pydantic_root_model__
            or cls.__pydantic_post_init__
            or cls.model_config.get("extra") == "allow"
            or cls.__private_attributes__
            or any(f.alias or f.validation_alias for f in fields)
        ):
            raise TypeError(f"{cls.__name__} cannot be built by messages._trusted")


_check_trusted(InvoiceIssued, InvoiceLine, EarlyPaymentDiscount, PaymentTerms)


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

    Built without re-validation (`_trusted`, i.e. model_construct): the invoice already
    passed the issue rules, which are the contract's (sums, scales, dates), and every value
    has the type the model declares. Tests prove it equal, field for field and byte for
    byte, to the validated model, and that it validates. The fields are listed in the
    models' order, as `_trusted` requires.
    """
    currency = invoice.currency
    discount = invoice.early_payment_discount
    totals = invoice.totals
    return _trusted(
        InvoiceIssued,
        {
            "account_id": account.id,
            "invoice_id": invoice.id,
            "external_id": invoice.external_id,
            "account_external_id": account.external_id,
            "invoice_number": invoice.invoice_number,
            "currency": currency,
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "lines": [
                _trusted(
                    InvoiceLine,
                    {
                        "description": line.description,
                        "quantity": line.quantity,
                        "unit_price": line.unit_price,
                        "tax_rate": line.tax_rate,
                        "net_amount": from_minor(line.net_minor, currency),
                        "tax_amount": from_minor(line.tax_minor, currency),
                    },
                )
                for line in invoice.lines
            ],
            "subtotal": from_minor(totals.subtotal_minor, currency),
            "tax_total": from_minor(totals.tax_total_minor, currency),
            "total": from_minor(totals.total_minor, currency),
            "early_payment_discount": (
                _trusted(EarlyPaymentDiscount, {"percent": discount.percent, "days": discount.days})
                if discount is not None
                else None
            ),
            "purchase_order": invoice.purchase_order,
            "payment_terms": (
                _trusted(PaymentTerms, {"kind": invoice.terms.kind, "days": invoice.terms.days})
                if invoice.terms != account.terms
                else None
            ),
        },
    )
