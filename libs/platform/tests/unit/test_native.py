"""Native builds: compiled modules run only when built from exactly the current sources.

A toy workspace (its own uv.lock, mypy config and package) is compiled once for real with
mypyc; each test copies it, changes one thing and imports the package in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dunlin_platform.native import MANIFEST, extension_suffix
from dunlin_platform.native_build import toolchain_problem

PYPROJECT = """\
[tool.mypy]
strict = true
mypy_path = "src"
explicit_package_bases = true
"""
PACKAGE = {
    "__init__.py": """\
        from dunlin_platform.native import NativeGroup, activate

        NATIVE = NativeGroup(__name__, ("core", "api"))
        activate(NATIVE)
        """,
    "rates.py": """\
        RATE = 1
        """,
    "core.py": """\
        from toy.rates import RATE

        FLAG = False


        def double(x: int) -> int:
            return x * 2 * RATE


        def flagged() -> bool:
            return FLAG
        """,
    "api.py": """\
        from toy.core import double


        def quadruple(x: int) -> int:
            return double(double(x))
        """,
}
PROBE = """\
import inspect, json
from importlib.machinery import ExtensionFileLoader
import toy.api, toy.core
from dunlin_platform.native import STATUS
toy.core.FLAG = True
print(json.dumps({
    "native": STATUS["toy"].native,
    "reason": STATUS["toy"].reason,
    "compiled": [
        inspect.isbuiltin(toy.api.quadruple)
        and isinstance(toy.api.__spec__.loader, ExtensionFileLoader),
        inspect.isbuiltin(toy.core.double)
        and isinstance(toy.core.__spec__.loader, ExtensionFileLoader),
    ],
    "quadruple_3": toy.api.quadruple(3),
    "flagged": toy.core.flagged(),
}))
"""

needs_compiler = pytest.mark.skipif(
    toolchain_problem() is not None, reason=f"cannot compile here: {toolchain_problem()}"
)


def _workspace(root: Path) -> Path:
    (root / "src" / "toy").mkdir(parents=True)
    (root / "uv.lock").write_text("# the toy workspace's lock\n")
    (root / "pyproject.toml").write_text(PYPROJECT)
    for name, text in PACKAGE.items():
        (root / "src" / "toy" / name).write_text(textwrap.dedent(text))
    return root


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DUNLIN_NATIVE"}
    return {**env, "PYTHONPATH": str(root / "src"), **extra}


def _build(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dunlin_platform.native_build", "toy", *args],
        cwd=root,
        env=_env(root, **env),
        capture_output=True,
        text=True,
        check=False,
    )


def _probe(root: Path, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=root,
        env=_env(root, **env),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return {**result, "stderr": done.stderr}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _workspace(tmp_path_factory.mktemp("toy"))
    done = _build(root)
    assert done.returncode == 0, done.stderr
    assert "compiled toy" in done.stdout
    return root


@pytest.fixture
def copy(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "toy"))


@needs_compiler
def test_a_fresh_build_is_imported_compiled(copy: Path) -> None:
    probe = _probe(copy)
    assert probe["native"] is True
    assert probe["compiled"] == [True, True]
    assert probe["quadruple_3"] == 12
    assert probe["stderr"] == ""


@needs_compiler
def test_a_flag_set_on_a_compiled_module_is_seen_by_its_code(copy: Path) -> None:
    probe = _probe(copy)
    assert probe["compiled"] == [True, True]
    assert probe["flagged"] is True


@needs_compiler
def test_the_builder_skips_a_fresh_build(copy: Path) -> None:
    manifest = copy / ".dunlin" / "native" / "toy" / MANIFEST
    before = manifest.read_text()
    done = _build(copy)
    assert done.returncode == 0, done.stderr
    assert "is fresh" in done.stdout
    assert manifest.read_text() == before


@needs_compiler
def test_an_edited_module_runs_as_plain_python_at_once_with_its_neighbours(copy: Path) -> None:
    core = copy / "src" / "toy" / "core.py"
    core.write_text(core.read_text().replace("x * 2 * RATE", "x * 3 * RATE"))
    probe = _probe(copy)
    assert probe["native"] is False
    assert probe["reason"] == "stale build: src/toy/core.py changed"
    assert probe["compiled"] == [False, False]  # api.py too: it would call the old double
    assert probe["quadruple_3"] == 27
    assert "toy runs as plain Python: stale build: src/toy/core.py changed" in probe["stderr"]


@needs_compiler
def test_an_edited_module_that_is_only_imported_makes_the_build_stale(copy: Path) -> None:
    (copy / "src" / "toy" / "rates.py").write_text("RATE = 2\n")
    probe = _probe(copy)
    assert probe["reason"] == "stale build: src/toy/rates.py changed"
    assert probe["compiled"] == [False, False]
    assert probe["quadruple_3"] == 48


@needs_compiler
@pytest.mark.parametrize("name", ["uv.lock", "pyproject.toml"])
def test_a_changed_lock_file_or_mypy_config_makes_the_build_stale(copy: Path, name: str) -> None:
    with (copy / name).open("a") as file:
        file.write("# changed\n")
    probe = _probe(copy)
    assert probe["reason"] == f"stale build: {name} changed"
    assert probe["compiled"] == [False, False]


@needs_compiler
def test_a_build_for_another_interpreter_is_ignored(copy: Path) -> None:
    manifest_file = copy / ".dunlin" / "native" / "toy" / MANIFEST
    manifest = json.loads(manifest_file.read_text())
    manifest["suffix"] = ".cpython-399-x86_64-linux-gnu.so"
    manifest_file.write_text(json.dumps(manifest))
    probe = _probe(copy)
    assert probe["reason"] == "foreign build: for .cpython-399-x86_64-linux-gnu.so"
    assert probe["compiled"] == [False, False]


@needs_compiler
def test_a_build_without_its_shared_library_is_ignored(copy: Path) -> None:
    (copy / ".dunlin" / "native" / "toy" / f"toy__mypyc{extension_suffix()}").unlink()
    probe = _probe(copy)
    assert probe["reason"] == f"incomplete build: no toy__mypyc{extension_suffix()}"
    assert probe["compiled"] == [False, False]


@needs_compiler
def test_a_rebuild_makes_an_edited_module_compiled_again(copy: Path) -> None:
    core = copy / "src" / "toy" / "core.py"
    core.write_text(core.read_text().replace("x * 2 * RATE", "x * 3 * RATE"))
    done = _build(copy)
    assert done.returncode == 0, done.stderr
    probe = _probe(copy)
    assert probe["compiled"] == [True, True]
    assert probe["quadruple_3"] == 27


@needs_compiler
def test_dunlin_native_0_forces_plain_python_and_skips_the_build(copy: Path) -> None:
    probe = _probe(copy, DUNLIN_NATIVE="0")
    assert (probe["native"], probe["reason"]) == (False, "DUNLIN_NATIVE=0")
    assert probe["compiled"] == [False, False]
    assert probe["stderr"] == ""  # asked for: no warning
    shutil.rmtree(copy / ".dunlin")
    done = _build(copy, DUNLIN_NATIVE="0")
    assert done.returncode == 0, done.stderr
    assert "skipped: DUNLIN_NATIVE=0" in done.stdout
    assert not (copy / ".dunlin").exists()


@needs_compiler
def test_a_module_mypyc_cannot_compile_fails_the_build(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    core = root / "src" / "toy" / "core.py"
    core.write_text(core.read_text().replace("return FLAG", 'return "yes"'))
    done = _build(root)
    assert done.returncode != 0
    assert "native build of toy failed" in done.stderr
    assert 'Incompatible return value type (got "str", expected "bool")' in done.stderr
    assert _probe(root)["reason"] == "not built (`make native` builds it)"


def test_without_a_compiler_the_build_warns_and_the_package_runs_plain(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    done = _build(root, CC=str(tmp_path / "no-such-cc"))
    assert done.returncode == 0, done.stderr
    assert f"WARNING: no C compiler ({tmp_path / 'no-such-cc'})" in done.stderr
    probe = _probe(root)
    assert probe["compiled"] == [False, False]
    assert probe["quadruple_3"] == 12


def test_without_a_compiler_a_required_build_fails(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    done = _build(root, "--require", CC=str(tmp_path / "no-such-cc"))
    assert done.returncode == 1
    assert "ERROR: no C compiler" in done.stderr
