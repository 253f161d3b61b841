"""The bare-asyncpg issue path writes what `handlers.issue_many` writes, row for row.

(A batch with held allocations goes back to `issue_many`: test_ledger_flow issues such an
invoice through POST /invoices and sees the allocation applied; here, the statement refuses
to write it.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Collection
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from dunlin_platform.runtime import ServiceRuntime
from invoicing import handlers, repository
from invoicing.api.invoices import command_from
from invoicing.domain import Account, DomainError, DuplicateInvoice, Invoice
from invoicing.issuer import issue_on_connection
from invoicing.repository import Stored, issue_batch
from invoicing.schemas import InvoiceCreate

from .support import account_body, invoice_body, unique

NOW = dt.datetime(2025, 3, 10, 9, 30, tzinfo=dt.UTC)


def _runtime(app: FastAPI) -> ServiceRuntime:
    runtime = app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime


def _bodies(yen_account_id: str, taken: str) -> list[dict[str, Any]]:
    """A batch with every outcome, for the account "ACCOUNT": stored, and refused each way."""
    twin = unique("INV")
    return [
        invoice_body("ACCOUNT", invoice_number=twin),
        invoice_body(
            "ACCOUNT",
            due_date="2025-05-01",
            payment_terms={"kind": "end_of_month", "days": 15},
            early_payment_discount={"percent": "2.5", "days": 10},
            purchase_order="PO-7",
            external_id="FRESH",
        ),
        invoice_body("ACCOUNT", invoice_number=twin),  # taken earlier in the batch
        invoice_body("ACCOUNT", external_id=taken),  # taken by an earlier invoice
        invoice_body(yen_account_id),  # currency mismatch
        invoice_body("no-such-account"),
        invoice_body("ACCOUNT", due_date="2025-01-01"),  # before the issue date
        invoice_body(
            "ACCOUNT",
            lines=[
                {"description": "Odd", "quantity": "2.5", "unit_price": "0.3333", "tax_rate": "0"}
            ],
        ),
    ]


def _commands(
    bodies: list[dict[str, Any]], account_id: str, external_id: str
) -> list[handlers.IssueInvoice]:
    """The batch for one account, with its own fresh external id and fixed traceparents."""
    commands = []
    for n, body in enumerate(bodies, start=1):
        if body["account_id"] == "ACCOUNT":
            body = {**body, "account_id": account_id}
        if body.get("external_id") == "FRESH":
            body = {**body, "external_id": external_id}
        command = command_from(InvoiceCreate.model_validate(body))
        commands.append(dataclasses.replace(command, traceparent=f"00-{n:032x}-{n:016x}-01"))
    return commands


async def _accounts(client: httpx.AsyncClient) -> tuple[str, str, str]:
    """Two twin accounts, and an external id already taken (by an invoice of a third)."""
    twins = [(await client.post("/accounts", json=account_body())).json()["id"] for _ in "ab"]
    other = (await client.post("/accounts", json=account_body())).json()["id"]
    taken = unique("ERP-TAKEN")
    first = await client.post("/invoices", json=invoice_body(other, external_id=taken))
    assert first.status_code == 201
    return twins[0], twins[1], taken


def _outcome(outcome: Stored[Invoice] | DomainError, ids: dict[str, str]) -> Any:
    """An outcome with this path's ids replaced by placeholders."""
    if isinstance(outcome, DomainError):
        message = outcome.message
        for real, placeholder in ids.items():
            message = message.replace(real, placeholder)
        return type(outcome), message, outcome.field
    invoice = outcome.item
    return (
        dataclasses.replace(
            invoice,
            id=ids[invoice.id],
            account_id=ids[invoice.account_id],
            external_id=ids.get(invoice.external_id or "", invoice.external_id),
        ),
        outcome.created_at,
    )


_ROWS = {
    "invoices": "SELECT i.* FROM invoicing.invoices i WHERE account_id = $1",
    "invoice_lines": "SELECT l.* FROM invoicing.invoice_lines l"
    " JOIN invoicing.invoices i ON i.id = l.invoice_id WHERE i.account_id = $1",
    "ledger_entries": "SELECT * FROM invoicing.ledger_entries WHERE account_id = $1",
    "invoice_aging": "SELECT * FROM invoicing.invoice_aging WHERE account_id = $1",
    "outbox": "SELECT * FROM invoicing.outbox WHERE aggregateid = $1"
    " AND type LIKE '%InvoiceIssued%' ORDER BY seq",
}
# Order keys, server clocks, and the relay's mark (it may publish either batch meanwhile).
_UNCOMPARABLE = {"seq", "updated_at", "published_at"}
_RANDOM_IDS = {"ledger_entries": "id", "outbox": "id"}


def _normalised(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for real, placeholder in ids.items():
            value = value.replace(real, placeholder)
    return value


async def _rows(connection: asyncpg.Connection, account_id: str, ids: dict[str, str]) -> Any:
    """Every row the batch wrote, ids replaced by placeholders, order-independent but outbox."""
    found: dict[str, Any] = {}
    for table, query in _ROWS.items():
        rows = []
        for record in await connection.fetch(query, account_id):
            row = {
                column: _normalised(value, ids)
                for column, value in dict(record).items()
                if column not in _UNCOMPARABLE and column != _RANDOM_IDS.get(table)
            }
            if table == "outbox":
                row["payload"] = json.loads(row["payload"])
            rows.append(sorted(row.items(), key=lambda item: item[0]))
        found[table] = rows if table == "outbox" else sorted(rows, key=repr)
    return found


def _placeholders(account_id: str, external_id: str, outcomes: list[Any]) -> dict[str, str]:
    """This path's own ids (account, invoices, fresh external id), by command."""
    ids = {account_id: "ACCOUNT", external_id: "EXTERNAL"}
    for n, outcome in enumerate(outcomes):
        if isinstance(outcome, Stored):
            ids[outcome.item.id] = f"INVOICE-{n}"
    return ids


async def test_the_asyncpg_path_writes_the_rows_and_answers_of_issue_many(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    runtime = _runtime(app)
    general_account, fast_account, taken = await _accounts(client)
    yen = (await client.post("/accounts", json=account_body(currency="JPY"))).json()["id"]
    bodies = _bodies(yen, taken)
    general_external, fast_external = unique("ERP"), unique("ERP")
    general_commands = _commands(bodies, general_account, general_external)
    fast_commands = _commands(bodies, fast_account, fast_external)

    async with runtime.sessionmaker() as session, session.begin():
        general = await handlers.issue_many(
            session=session, outbox=runtime.outbox, commands=general_commands, now=NOW
        )
    async with runtime.engine.connect() as pooled:
        driver = (await pooled.get_raw_connection()).driver_connection
        assert isinstance(driver, asyncpg.Connection)
        fast, published = await issue_on_connection(
            connection=driver, commands=fast_commands, source=runtime.settings.source, now=NOW
        )
        general_ids = _placeholders(general_account, general_external, general)
        fast_ids = _placeholders(fast_account, fast_external, fast)
        assert published
        assert [_outcome(o, fast_ids) for o in fast] == [_outcome(o, general_ids) for o in general]
        assert sum(isinstance(o, Stored) for o in fast) == 3  # the rest are refusals
        assert await _rows(driver, fast_account, fast_ids) == await _rows(
            driver, general_account, general_ids
        )


async def test_accounts_read_on_asyncpg_equal_those_read_through_sqlalchemy(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    runtime = _runtime(app)
    parent = (await client.post("/accounts", json=account_body())).json()["id"]
    child = (
        await client.post(
            "/accounts",
            json=account_body(
                parent_account_id=parent,
                external_id=unique("CUST"),
                legal_name="Acme Holding GmbH",
                country="DE",
                tags=["a", "b"],
                payment_terms={"kind": "end_of_month", "days": 10},
                dunning_policy="gentle",
            ),
        )
    ).json()["id"]
    ids = {parent, child, "no-such-account"}
    async with runtime.sessionmaker() as session, session.begin():
        through_sqlalchemy = await repository.share_lock_accounts(session=session, account_ids=ids)
    async with runtime.engine.connect() as pooled:
        driver = (await pooled.get_raw_connection()).driver_connection
        assert isinstance(driver, asyncpg.Connection)
        on_asyncpg = await issue_batch.read_accounts(connection=driver, account_ids=ids)
    assert set(on_asyncpg) == {parent, child}
    assert on_asyncpg == through_sqlalchemy


@contextlib.asynccontextmanager
async def _connection(runtime: ServiceRuntime) -> AsyncIterator[asyncpg.Connection]:
    async with runtime.engine.connect() as pooled:
        driver = (await pooled.get_raw_connection()).driver_connection
        assert isinstance(driver, asyncpg.Connection)
        yield driver


async def _invoice_count(driver: asyncpg.Connection, account_id: str) -> int:
    count = await driver.fetchval(
        "SELECT count(*) FROM invoicing.invoices WHERE account_id = $1", account_id
    )
    return int(count)


async def test_a_batch_built_from_an_account_changed_since_it_was_read_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    runtime = _runtime(app)
    account_id = (await client.post("/accounts", json=account_body())).json()["id"]
    async with _connection(runtime) as driver:
        read = await issue_batch.read_accounts(connection=driver, account_ids={account_id})
        changed = await client.patch(
            f"/accounts/{account_id}", json={"payment_terms": {"kind": "net", "days": 60}}
        )
        assert changed.status_code == 200, changed.text
        (command,) = _commands([invoice_body(account_id)], account_id, unique("ERP"))
        invoice = handlers._invoice(command, read[account_id])
        assert isinstance(invoice, Invoice)
        with pytest.raises(issue_batch.Stale):
            await issue_batch.insert_issued_invoices(
                connection=driver,
                accounts=read.values(),
                invoices=[invoice],
                events=[],
                source=runtime.settings.source,
                now=NOW,
            )
        assert await _invoice_count(driver, account_id) == 0


async def test_the_issuer_builds_a_batch_again_when_its_account_changed_under_it(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = (await client.post("/accounts", json=account_body())).json()["id"]
    real_read = issue_batch.read_accounts
    reads: list[dict[str, Account]] = []

    async def read_then_change(
        *, connection: asyncpg.Connection, account_ids: Collection[str]
    ) -> dict[str, Account]:
        accounts = await real_read(connection=connection, account_ids=account_ids)
        reads.append(accounts)
        if len(reads) == 1:  # a change of terms commits between the first read and the write
            await connection.execute(
                "UPDATE invoicing.accounts SET terms_days = 45 WHERE id = $1", account_id
            )
        return accounts

    monkeypatch.setattr(issue_batch, "read_accounts", read_then_change)
    created = await client.post("/invoices", json=invoice_body(account_id))

    assert created.status_code == 201, created.text
    assert len(reads) == 2
    assert created.json()["payment_terms"] == {"kind": "net", "days": 45}
    assert created.json()["due_date"] == "2025-04-24"  # 2025-03-10 + 45 days


async def test_a_batch_with_an_invoice_allocations_wait_for_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    runtime = _runtime(app)
    account_id = (await client.post("/accounts", json=account_body())).json()["id"]
    external_id = unique("ERP-HELD")
    async with _connection(runtime) as driver:
        await driver.execute(
            "INSERT INTO invoicing.held_allocations (id, payment_id, invoice_ref, account_id,"
            " currency, amount_minor, received_on, status, created_at)"
            " VALUES ($1, $2, $3, $4, 'EUR', 100, '2025-03-01', 'held', now())",
            unique("hold"),
            unique("pay"),
            external_id,
            account_id,
        )
        accounts = await issue_batch.read_accounts(connection=driver, account_ids={account_id})
        (command,) = _commands([invoice_body(account_id)], account_id, unique("ERP"))
        invoice = handlers._invoice(
            dataclasses.replace(command, external_id=external_id), accounts[account_id]
        )
        assert isinstance(invoice, Invoice)
        with pytest.raises(issue_batch.AllocationsHeld):
            await issue_batch.insert_issued_invoices(
                connection=driver,
                accounts=accounts.values(),
                invoices=[invoice],
                events=[],
                source=runtime.settings.source,
                now=NOW,
            )
        assert await _invoice_count(driver, account_id) == 0


async def test_a_failure_after_the_batch_committed_does_not_fail_its_requests(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = _runtime(app)
    account_id, _, taken = await _accounts(client)

    async def unreachable(
        *, connection: asyncpg.Connection, external_ids: Collection[str]
    ) -> set[str]:
        raise OSError("connection lost")

    monkeypatch.setattr(issue_batch, "taken_external_ids", unreachable)
    bodies = [invoice_body("ACCOUNT"), invoice_body("ACCOUNT", external_id=taken)]
    async with _connection(runtime) as driver:
        (stored, refused), published = await issue_on_connection(
            connection=driver,
            commands=_commands(bodies, account_id, unique("ERP")),
            source=runtime.settings.source,
            now=NOW,
        )
        assert published
        assert isinstance(stored, Stored)
        assert isinstance(refused, DuplicateInvoice)
        assert await _invoice_count(driver, account_id) == 1
