"""Service registry, dev API key file and the summary table."""

from __future__ import annotations

import stat
from pathlib import Path

from dunlin_devstack.apikey import read_key, write_key
from dunlin_devstack.services import SERVICES, ServiceSpec, available_services
from dunlin_devstack.stack import Stack, UpOptions
from dunlin_devstack.summary import render


def test_invoicing_is_registered_on_port_8001() -> None:
    invoicing = next(s for s in SERVICES if s.name == "invoicing")
    assert invoicing.port == 8001
    assert invoicing.docs_url == "http://127.0.0.1:8001/docs"


def test_services_that_are_not_installed_are_skipped() -> None:
    ghost = ServiceSpec("ghost", "dunlin_no_such_service", 8099)
    assert available_services((ghost,)) == []


def test_the_dev_key_file_is_private_and_reread(tmp_path: Path) -> None:
    key_file = tmp_path / "dev-api-key"
    assert read_key(key_file) is None
    write_key(key_file, "dk_00000000_secret")
    write_key(key_file, "dk_11111111_rotated")
    assert read_key(key_file) == "dk_11111111_rotated"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_summary_shows_urls_and_an_example_curl(tmp_path: Path) -> None:
    stack = Stack(UpOptions(), home=tmp_path)
    stack.database_url = "postgresql+asyncpg://postgres@127.0.0.1:55432/dunlin"
    stack.bootstrap = "127.0.0.1:9092"
    stack.api_key = "dk_00000000_secret"
    text = render(stack)
    assert "127.0.0.1:9092" in text
    assert "dk_00000000_secret" in text
    assert 'curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8001/invoices' in text
