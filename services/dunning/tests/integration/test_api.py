"""The HTTP API: policies and versions, holds, call outcomes, problems and scopes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_devstack.clients import asgi_client, new_api_key
from dunlin_platform.clock import ManualClock
from dunning.config import DunningSettings

from .support import Scenario, of_type, steps


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(url, json=body, headers=_key())


def _policy(policy_id: str, second_offset: int) -> dict[str, Any]:
    step = {"channels": ["email"], "contact_role": "accounts_payable"}
    return {
        "policy_id": policy_id,
        "created_by": "ops",
        "body": {
            "steps": [
                {"key": "first", "offset_days": 0, "template_key": "first", **step},
                {"key": "second", "offset_days": second_offset, "template_key": "second", **step},
            ]
        },
    }


async def test_a_new_policy_version_leaves_open_cases_on_theirs(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    policy_id = f"p-{uuid.uuid4().hex[:8]}"
    created = await _post(client, "/policies", _policy(policy_id, 20))
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    early = Scenario(client, settings, clock, sessionmaker)
    await early.invoicing(early.account, early.invoice("500.00", due_in_days=-1))
    assigned = await _post(
        client, f"/accounts/{early.account_id}/policy", {"policy_id": policy_id, "actor": "ops"}
    )
    assert assigned.status_code == 200, assigned.text
    await early.sweep()
    case = await early.case()
    assert (case["policy_id"], case["policy_version"], case["status"]) == (policy_id, 1, "open")

    again = await _post(client, "/policies", _policy(policy_id, 3))
    assert again.json()["version"] == 2
    assert (await client.get(f"/policies/{policy_id}")).json()["version"] == 2
    v1 = await client.get(f"/policies/{policy_id}/versions/1")
    assert v1.json()["body"]["steps"][1]["offset_days"] == 20

    late = Scenario(client, settings, clock, sessionmaker)
    await late.invoicing(late.account, late.invoice("500.00", due_in_days=-1))
    await _post(client, f"/accounts/{late.account_id}/policy", {"policy_id": policy_id})
    await late.days(4)
    assert (await late.case())["policy_version"] == 2
    assert steps(await late.published()) == [("first", "executed"), ("second", "executed")]
    # The early case still follows version 1: its second step is 20 days out, not 3.
    assert (await early.case())["policy_version"] == 1
    assert steps(await early.published()) == [("first", "executed")]


async def test_holds_pause_until_lifted_or_expired(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    await sc.invoicing(sc.account, sc.invoice("500.00", due_in_days=-2))
    await sc.sweep()  # opens the case at the reminder
    before = steps(await sc.published())
    assert before[-1] == ("reminder", "executed")
    placed = await _post(
        client, f"/accounts/{sc.account_id}/holds", {"reason": "CFO on leave", "actor": "ops"}
    )
    assert placed.status_code == 201, placed.text
    hold_id = placed.json()["holds"][0]["hold_id"]
    assert placed.json()["paused"] == "on hold: CFO on leave"
    await sc.days(10)
    assert steps(await sc.published()) == before
    lifted = await _post(
        client, f"/accounts/{sc.account_id}/holds/{hold_id}/lift", {"actor": "ops"}
    )
    assert lifted.status_code == 200, lifted.text
    assert (await _post(
        client, f"/accounts/{sc.account_id}/holds/{hold_id}/lift", {"actor": "ops"}
    )).status_code == 422  # fmt: skip
    await sc.sweep()  # resumes where it stood: the next step, none skipped
    assert steps(await sc.published()) == [*before, ("firm_reminder", "executed")]

    until = (clock.now() + dt.timedelta(days=1)).isoformat()
    expiring = await _post(
        client,
        f"/accounts/{sc.account_id}/holds",
        {"reason": "short", "actor": "ops", "until": until},
    )
    assert expiring.status_code == 201
    await sc.days(2)
    changes = of_type(await sc.published(), "DunningHoldChanged")
    assert [c.action for c in changes] == ["placed", "lifted", "placed", "expired"]
    missing = await _post(client, f"/accounts/{sc.account_id}/holds/nope/lift", {"actor": "o"})
    assert missing.status_code == 404


async def _call_task(sc: Scenario, client: httpx.AsyncClient) -> dict[str, Any]:
    await sc.invoicing(sc.account, sc.invoice("900.00", due_in_days=-20))
    await sc.sweep()  # far overdue: starts at the call step
    tasks = (await client.get("/tasks", params={"account_id": sc.account_id})).json()["items"]
    assert [t["step_key"] for t in tasks] == ["call"]
    return dict(tasks[0])


async def test_call_outcomes_promise_call_back_and_bounded_retries(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    task = await _call_task(sc, client)
    url = f"/tasks/{task['task_id']}/complete"
    bad = await _post(client, url, {"outcome": "promise_to_pay", "completed_by": "c"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    retries = []
    for _ in range(3):
        done = await _post(client, url, {"outcome": "no_answer", "completed_by": "c"})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "done"
        assert (
            await _post(client, url, {"outcome": "reached", "completed_by": "c"})
        ).status_code == 409
        open_tasks = (await client.get("/tasks", params={"account_id": sc.account_id})).json()[
            "items"
        ]
        retries.append(open_tasks)
        if open_tasks:
            assert open_tasks[0]["due_at"] > clock.now().isoformat()
            url = f"/tasks/{open_tasks[0]['task_id']}/complete"
    assert [len(r) for r in retries] == [1, 1, 0]  # three calls per step, then no more

    other = Scenario(client, settings, clock, sessionmaker)
    task = await _call_task(other, client)
    call_back_at = (clock.now() + dt.timedelta(days=2)).isoformat().replace("+00:00", "Z")
    naive = await _post(
        client,
        f"/tasks/{task['task_id']}/complete",
        {"outcome": "call_back", "completed_by": "c", "call_back_at": call_back_at[:-1]},
    )
    assert naive.status_code == 422, naive.text
    assert [e["field"] for e in naive.json()["errors"]] == ["call_back_at"]
    done = await _post(
        client,
        f"/tasks/{task['task_id']}/complete",
        {"outcome": "call_back", "completed_by": "c", "call_back_at": call_back_at},
    )
    assert done.status_code == 200, done.text
    again = (await client.get("/tasks", params={"account_id": other.account_id})).json()["items"]
    assert [t["due_at"].replace("+00:00", "Z") for t in again] == [call_back_at]
    promised = (clock.now().date() + dt.timedelta(days=5)).isoformat()
    done = await _post(
        client,
        f"/tasks/{again[0]['task_id']}/complete",
        {
            "outcome": "promise_to_pay",
            "completed_by": "c",
            "promise": {"amount": "900.00", "promised_date": promised, "recorded_by": "c"},
        },
    )
    assert done.status_code == 200, done.text
    case = await other.case()
    assert [p["status"] for p in case["promises"]] == ["open"]
    assert case["paused"] == "promise to pay"
    recorded = of_type(await other.published(), "PromiseToPayRecorded")
    assert [r.channel for r in recorded] == ["phone"]


async def test_bad_bodies_are_422_problems_naming_the_field(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    await sc.invoicing(sc.account, sc.invoice("100.00", due_in_days=-1))
    cases: list[tuple[str, dict[str, Any]]] = [
        (f"/accounts/{sc.account_id}/promises", {"amount": "-1", "promised_date": "x"}),
        (
            f"/accounts/{sc.account_id}/promises",
            {"amount": "1.001", "promised_date": "2099-01-01", "recorded_by": "c"},
        ),
        (f"/accounts/{sc.account_id}/holds", {"reason": "", "actor": "ops", "extra": 1}),
        (
            f"/accounts/{sc.account_id}/holds",
            {"reason": "r", "actor": "ops", "until": "2099-01-01T00:00:00"},
        ),
        ("/policies", {**_policy("p-bad", 3), "body": {"steps": []}}),
        ("/policies", _policy("Bad Id", 3)),
        (f"/accounts/{sc.account_id}/policy", {"policy_id": "no-such-policy"}),
    ]
    for url, body in cases:
        response = await _post(client, url, body)
        assert response.status_code == 422, (url, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 422
        assert problem["title"]


async def test_keys_need_the_right_scope(app: FastAPI, client: httpx.AsyncClient) -> None:
    sessionmaker = app.state.runtime.sessionmaker
    async with asgi_client(app, "dunning") as anonymous:
        assert (await anonymous.get("/tasks")).status_code == 401
        assert (await anonymous.post("/admin/dunning-sweep")).status_code == 401
    reader = await new_api_key(sessionmaker, ["dunning:read"])
    async with asgi_client(app, "dunning", reader) as read_only:
        assert (await read_only.get("/tasks")).status_code == 200
        hold = await read_only.post(
            "/accounts/a/holds", json={"reason": "r", "actor": "a"}, headers=_key()
        )
        assert hold.status_code == 403
        assert hold.headers["content-type"].startswith("application/problem+json")
        assert (await read_only.post("/admin/dunning-sweep")).status_code == 403
