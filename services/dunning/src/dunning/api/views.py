"""Shaping stored state into API views: the case and the timeline."""

from __future__ import annotations

import datetime as dt

from dunlin_events import from_minor
from dunning.domain.assignment import PolicyBook
from dunning.domain.balances import balances
from dunning.domain.state import AccountState
from dunning.schemas import CasePublic, TimelineEntry


def case_public(
    state: AccountState, book: PolicyBook, next_action_at: dt.datetime | None
) -> CasePublic:
    """The case as the API shows it."""
    b, p = balances(state), state.progress
    policy = book.for_account(state)
    cur = b.currency
    return CasePublic(
        account_id=state.account_id,
        case_id=p.case_id,
        status=p.status,
        paused=p.paused,
        policy_id=policy.policy_id,
        policy_version=policy.version,
        currency=cur,
        outstanding=from_minor(b.outstanding, cur),
        dunned_balance=from_minor(b.dunned, cur),
        next_action_at=next_action_at,
        steps=[s.model_dump(mode="json") for s in p.steps],
        invoices=[
            {
                "invoice_id": line.invoice_id,
                "due_date": line.due_date.isoformat(),
                "outstanding": str(from_minor(line.outstanding, cur)),
                "disputed": str(from_minor(line.disputed, cur)),
                "dunned": str(from_minor(line.dunned, cur)),
                "last_step_index": p.invoice_steps.get(line.invoice_id),
            }
            for line in b.lines
        ],
        promises=[
            {"promise_id": k, **v.model_dump(mode="json")} for k, v in state.promises.items()
        ],
        holds=[{"hold_id": k, **v.model_dump(mode="json")} for k, v in state.holds.items()],
        closed_cases=p.closed,
    )


def timeline(state: AccountState) -> list[TimelineEntry]:
    """Invoices, payments, disputes, promises, holds and contacts of the account, oldest first."""
    cur = balances(state).currency
    out: list[TimelineEntry] = []
    for iid, inv in state.invoices.items():
        if inv.issued_at:
            out.append(
                TimelineEntry(
                    at=inv.issued_at,
                    kind="invoice",
                    summary=f"invoice {inv.number} issued",
                    detail={
                        "invoice_id": iid,
                        "total": str(from_minor(inv.total, cur)),
                        "due_date": str(inv.due_date),
                    },
                )
            )
    for key, a in state.allocations.items():
        at = dt.datetime.combine(a.on, dt.time(0), tzinfo=dt.UTC)
        out.append(
            TimelineEntry(
                at=at,
                kind="payment",
                summary=f"payment {a.payment_id}",
                detail={
                    "invoice_id": a.invoice_id,
                    "amount": str(from_minor(a.amount, cur)),
                    "reversed": a.payment_id in state.reversed_payments,
                    "key": key,
                },
            )
        )
    for did, d in state.disputes.items():
        if d.opened_at:
            out.append(
                TimelineEntry(
                    at=d.opened_at,
                    kind="dispute",
                    summary=f"dispute {d.reason} opened",
                    detail={"dispute_id": did, "invoice_id": d.invoice_id},
                )
            )
        if d.resolved_at:
            out.append(
                TimelineEntry(
                    at=d.resolved_at,
                    kind="dispute",
                    summary=f"dispute {d.outcome}",
                    detail={"dispute_id": did},
                )
            )
    for pid, pr in state.promises.items():
        out.append(
            TimelineEntry(
                at=pr.recorded_at,
                kind="promise",
                summary=f"promise to pay ({pr.status})",
                detail={
                    "promise_id": pid,
                    "amount": str(from_minor(pr.amount, cur)),
                    "promised_date": str(pr.promised_date),
                },
            )
        )
    for hid, h in state.holds.items():
        out.append(
            TimelineEntry(
                at=h.placed_at, kind="hold", summary=f"hold: {h.reason}", detail={"hold_id": hid}
            )
        )
    for c in state.contacts:
        out.append(
            TimelineEntry(
                at=c.at,
                kind="contact",
                summary=f"{c.channel} {c.status}",
                detail={
                    "step_key": c.step_key,
                    "note": c.note,
                    "notification_id": c.notification_id,
                },
            )
        )
    for s in state.progress.steps:
        out.append(
            TimelineEntry(
                at=s.at,
                kind="step",
                summary=f"step {s.key} {s.outcome}",
                detail={"index": s.index, "reason": s.reason},
            )
        )
    out.sort(key=lambda e: e.at)
    return out
