"""Late-payment charges: flat/percentage fees, EU and UK statutory interest, UK compensation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from dunlin_events import exponent
from dunning.domain.policy import Fee, Interest

_STATUTORY_MARGIN = Decimal(8)
# Late Payment of Commercial Debts Act: fixed compensation by size of the debt (GBP).
_UK_COMPENSATION = ((Decimal(1000), Decimal(40)), (Decimal(10000), Decimal(70)))
_UK_COMPENSATION_ABOVE = Decimal(100)


@dataclass(frozen=True)
class ChargeLine:
    """One charge in minor units."""

    kind: str
    description: str
    amount: int
    invoice_id: str | None = None


def _minor(value: Decimal, currency: str) -> int:
    scale = Decimal(10) ** exponent(currency)
    return int((value * scale).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _major(minor: int, currency: str) -> Decimal:
    return Decimal(minor) / (Decimal(10) ** exponent(currency))


def fee_amount(fee: Fee, *, balance: int, currency: str) -> int:
    """A step's fee on the dunned balance."""
    if fee.kind == "flat":
        return _minor(fee.value, currency)
    return _minor(_major(balance, currency) * fee.value / 100, currency)


def interest(
    rule: Interest, *, invoice_id: str, balance: int, days_overdue: int, currency: str
) -> list[ChargeLine]:
    """Statutory interest accrued on one invoice, plus UK fixed compensation."""
    if days_overdue <= 0 or balance <= 0:
        return []
    rate = rule.reference_rate + _STATUTORY_MARGIN
    amount = _minor(_major(balance, currency) * rate / 100 * days_overdue / 365, currency)
    lines = [
        ChargeLine("interest", f"Interest {rate}% p.a., {days_overdue} days", amount, invoice_id)
    ]
    if rule.rule == "uk":
        debt = _major(balance, currency)
        fixed = next((c for limit, c in _UK_COMPENSATION if debt < limit), _UK_COMPENSATION_ABOVE)
        lines.append(
            ChargeLine(
                "compensation", f"Fixed compensation {fixed}", _minor(fixed, currency), invoice_id
            )
        )
    return [line for line in lines if line.amount > 0]
