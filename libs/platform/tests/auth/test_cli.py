"""`dunlin-apikey` creates, lists and revokes keys against a real database."""

from __future__ import annotations

import uuid

import pytest

from dunlin_platform.auth.cli import main


def run(capsys: pytest.CaptureFixture[str], database_url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--database-url", database_url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_create_list_revoke_round_trip(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    assert run(capsys, database_url, "migrate")[0] == 0

    code, out, _ = run(
        capsys, database_url, "create", "--name", name, "--scope", "invoices:read",
        "--scope", "accounts:*", "--expires-in-days", "30",
    )  # fmt: skip
    assert code == 0
    assert "shown only once" in out
    [key] = [line for line in out.splitlines() if line.startswith("dk_")]
    key_id = key.split("_")[1]

    code, out, _ = run(capsys, database_url, "list")
    [row] = [line for line in out.splitlines() if name in line]
    assert row.split()[0] == key_id
    assert "accounts:*,invoices:read" in row
    assert row.endswith("active")
    assert key.split("_", 2)[2] not in out

    code, out, _ = run(capsys, database_url, "revoke", key_id)
    assert code == 0
    assert key_id in out
    _, out, _ = run(capsys, database_url, "list")
    assert next(line for line in out.splitlines() if name in line).endswith("revoked")


def test_quiet_create_prints_only_the_key(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    code, out, _ = run(
        capsys, database_url, "create", "--quiet", "--name", f"cli-{uuid.uuid4().hex[:8]}",
        "--scope", "*",
    )  # fmt: skip
    assert code == 0
    assert out.startswith("dk_")
    assert out.count("\n") == 1


def test_revoking_an_unknown_key_exits_1_with_a_message(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    code, _, err = run(capsys, database_url, "revoke", "zzzzzzzz")
    assert code == 1
    assert "no API key with id 'zzzzzzzz'" in err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["create", "--name", "x"],
        ["create", "--name", "x", "--scope", "Not A Scope"],
        ["create", "--name", "x", "--scope", "invoices:read", "--expires-in-days", "0"],
        ["create", "--name", "x", "--scope", "invoices:read", "--expires-in-days", "99999999"],
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], database_url: str, args: list[str]
) -> None:
    code, out, err = run(capsys, database_url, *args)
    assert code == 2
    assert out == ""  # no key was created
    assert err.startswith(("usage:", "dunlin-apikey:"))
    assert "Traceback" not in err


def test_missing_database_url_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["list"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err
