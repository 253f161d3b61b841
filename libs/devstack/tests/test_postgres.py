"""Embedded PostgreSQL: start, reuse, stale pid files, databases."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from dunlin_devstack import databases
from dunlin_devstack.postgres import EmbeddedPostgres, server_settings


@pytest.fixture(scope="module")
def pgdata(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded") / "pgdata"


@pytest.fixture
def server(pgdata: Path) -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(pgdata)
    pg.start()
    yield pg
    pg.stop()


async def _select_one(url: str) -> int:
    conn = await asyncpg.connect(databases.libpq_url(url))
    try:
        return int(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still alive")


async def test_embedded_postgres_starts_and_answers_on_tcp(server: EmbeddedPostgres) -> None:
    assert server.url("postgres").startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    assert await _select_one(server.url()) == 1


async def test_the_server_runs_with_the_embedded_settings(server: EmbeddedPostgres) -> None:
    wanted = server_settings()
    conn = await asyncpg.connect(server.libpq_url())
    try:
        sizes = {
            name: await conn.fetchval(
                "SELECT pg_size_bytes(current_setting($1)) = pg_size_bytes($2)", name, wanted[name]
            )
            for name in ("shared_buffers", "max_wal_size")
        }
        timeout = await conn.fetchval("SHOW checkpoint_timeout")
        durability = [
            await conn.fetchval(f"SHOW {name}") for name in ("fsync", "synchronous_commit")
        ]
    finally:
        await conn.close()
    assert sizes == {"shared_buffers": True, "max_wal_size": True}
    assert timeout == wanted["checkpoint_timeout"]
    assert durability == ["on", "on"]  # PostgreSQL's defaults, untouched


def test_shared_buffers_are_an_eighth_of_memory_within_bounds() -> None:
    gb = 1024**3
    assert server_settings(memory=4 * gb)["shared_buffers"] == "512MB"
    assert server_settings(memory=24 * gb)["shared_buffers"] == "1024MB"  # capped
    assert server_settings(memory=512 * 1024**2)["shared_buffers"] == "128MB"  # the default
    assert server_settings(memory=0)["shared_buffers"] == "128MB"  # memory unknown
    assert server_settings()["max_wal_size"] == "4GB"


async def test_a_second_start_reuses_the_running_server(server: EmbeddedPostgres) -> None:
    second = EmbeddedPostgres(server.pgdata)
    second.start()
    try:
        assert second.reused
        assert second.port == server.port
    finally:
        second.stop()
    # The first holder still holds the server: the second leaving must not stop it.
    assert await _select_one(server.url()) == 1


async def test_a_killed_server_leaves_a_stale_pid_file_that_start_handles(pgdata: Path) -> None:
    first = EmbeddedPostgres(pgdata)
    first.start()
    pid = _postmaster_pid(pgdata)
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    assert (pgdata / "postmaster.pid").exists()

    again = EmbeddedPostgres(pgdata)
    again.start()
    try:
        assert not again.reused
        assert await _select_one(again.url()) == 1
    finally:
        again.stop()


async def test_a_pid_file_naming_an_unrelated_live_process_is_stale(pgdata: Path) -> None:
    only_holder = EmbeddedPostgres(pgdata)
    only_holder.start()
    only_holder.stop()
    pid_file = pgdata / "postmaster.pid"
    assert not pid_file.exists()
    # Pids get reused: after a crash the file may name any live process, here this one.
    pid_file.write_text(f"{os.getpid()}\n{pgdata}\n0\n1\n\n127.0.0.1\n0 0\nready\n")
    server = EmbeddedPostgres(pgdata)
    server.start()
    try:
        assert await _select_one(server.url()) == 1
    finally:
        server.stop()


async def test_ensure_database_is_idempotent(server: EmbeddedPostgres) -> None:
    await server.ensure_database("dunlin_idem")
    await server.ensure_database("dunlin_idem")
    assert await _select_one(server.url("dunlin_idem")) == 1
    await databases.drop_database(server.url(), "dunlin_idem")
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await _select_one(server.url("dunlin_idem"))
