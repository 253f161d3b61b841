"""The documented slide from on-time to late payer (README, "Tiers")."""

from __future__ import annotations

from risk.domain import facts as f
from risk.domain.model import Assessment, assess
from risk.domain.signals import measure

from .factories import DAY0, paid_invoice, state_of, steady_history

# After a year of on-time payment, each month's invoice is paid later than the last; then
# the customer stops paying and the open invoice ages.
LATENESS = (5, 10, 20, 30, 45, 60)
UNPAID_AGES = (15, 45, 75)


def slide() -> list[tuple[str, Assessment]]:
    """The assessment after each step of the slide."""
    facts = steady_history(12)
    steps: list[tuple[str, Assessment]] = []
    day = DAY0 + 30 * 12
    for days_late in LATENESS:
        facts += paid_invoice(day, days_late)
        steps.append((f"paid {days_late} days late", assess(measure(state_of(facts)))))
        day += 30
    facts.append(f.Invoiced("unpaid", 100_000, day, day + 30))
    for age in UNPAID_AGES:
        as_of = day + 30 + age
        steps.append((f"unpaid, {age} days overdue", assess(measure(state_of(facts), as_of))))
    day = day + 30 + UNPAID_AGES[-1]
    facts.append(f.PromiseBroken("promise", day))
    steps.append(("a promise broken", assess(measure(state_of(facts), day))))
    facts.append(f.HandedToAgency(day + 10))
    steps.append(("handed to an agency", assess(measure(state_of(facts), day + 10))))
    return steps
