"""Compiled (mypyc) builds of pure-Python modules, used only when built from the current sources.

A package names its hot modules in a `NativeGroup` and calls `activate` from its `__init__`.
`python -m dunlin_platform.native_build` (run by `make setup`) compiles them into
`<workspace>/.dunlin/native/<group>/` with a manifest: the interpreter's extension suffix and
the hash of every first-party source the compiled code was type-checked against, of
`pyproject.toml` (mypy's configuration) and of `uv.lock` (mypyc's and the libraries'
versions). `activate` imports the compiled modules only when all of those still match; a
stale or foreign build is ignored as a whole (compiled modules call each other directly, so
one edited module must not run next to its old compiled neighbours), and the package runs
as plain Python from the same sources. `DUNLIN_NATIVE=0` forces plain Python.

The compiled files never sit next to the sources: Python prefers an extension module to a
`.py` of the same name, so an edited source would be silently shadowed by its old build.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.machinery import ExtensionFileLoader, ModuleSpec
from pathlib import Path
from types import ModuleType

ENV = "DUNLIN_NATIVE"
MANIFEST = "manifest.json"
LOCK_FILE = "uv.lock"
CONFIG_FILE = "pyproject.toml"
FORMAT = 1

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NativeGroup:
    """Modules of one package compiled together into one shared library."""

    package: str
    modules: tuple[str, ...]

    @property
    def name(self) -> str:
        """The group's name: its build folder and the stem of its shared library."""
        return self.package.replace(".", "_")

    @property
    def library(self) -> str:
        """The shared library's module name, as mypyc names it (`<group>__mypyc`)."""
        return f"{self.name}__mypyc"

    @property
    def qualified(self) -> tuple[str, ...]:
        """The compiled modules' full names."""
        return tuple(f"{self.package}.{module}" for module in self.modules)


@dataclass(frozen=True, slots=True)
class Status:
    """Whether a group runs compiled, and why; `ignored`: a build exists but does not fit."""

    native: bool
    reason: str
    ignored: bool = False


# Package name -> how `activate` found its group (for tests, the bench and logs).
STATUS: dict[str, Status] = {}


def disabled() -> bool:
    """Whether `DUNLIN_NATIVE=0` asks for plain Python (for the build too)."""
    return os.environ.get(ENV, "1").strip() == "0"


def extension_suffix() -> str:
    """This interpreter's suffix for extension modules (version, ABI and platform)."""
    return importlib.machinery.EXTENSION_SUFFIXES[0]


def workspace_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding `uv.lock` (None outside a checkout)."""
    for folder in (start, *start.parents):
        if (folder / LOCK_FILE).is_file():
            return folder
    return None


def group_root(group: NativeGroup) -> Path | None:
    """The workspace checkout holding the group's (imported) package, None outside one."""
    return workspace_root(Path(sys.modules[group.package].__path__[0]).resolve())


def build_dir(root: Path, group: NativeGroup) -> Path:
    """Where the group's build and manifest live."""
    return root / ".dunlin" / "native" / group.name


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashes(root: Path, files: Sequence[str]) -> dict[str, str]:
    """Each file (relative to `root`) and the hash of its bytes."""
    return {name: file_hash(root / name) for name in files}


def module_files(group: NativeGroup) -> dict[str, str]:
    """Each compiled module's full name and its path inside the build folder."""
    files = {group.library: group.library + extension_suffix()}
    for name in group.qualified:
        files[name] = name.replace(".", "/") + extension_suffix()
    return files


def check(root: Path, group: NativeGroup) -> Status:
    """Whether the group's build exists, is for this interpreter and matches every source."""
    folder = build_dir(root, group)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        return Status(native=False, reason="not built (`make native` builds it)")
    except (OSError, ValueError) as exc:
        return Status(native=False, reason=f"unreadable manifest: {exc}", ignored=True)
    return _compare(manifest, root, group)


def _compare(manifest: Mapping[str, object], root: Path, group: NativeGroup) -> Status:
    problem = _mismatch(manifest, root, group)
    if problem is not None:
        return Status(native=False, reason=problem, ignored=True)
    return Status(native=True, reason=f"compiled, from {build_dir(root, group)}")


def _mismatch(manifest: Mapping[str, object], root: Path, group: NativeGroup) -> str | None:
    if manifest.get("format") != FORMAT or manifest.get("modules") != list(group.modules):
        return "stale build: built for another module list"
    if manifest.get("suffix") != extension_suffix():
        return f"foreign build: for {manifest.get('suffix')}"
    sources = manifest.get("sources")
    if not isinstance(sources, dict) or LOCK_FILE not in sources:
        return "unreadable manifest: no sources"
    for name, digest in sources.items():
        try:
            current = file_hash(root / name)
        except OSError:
            return f"stale build: {name} is gone"
        if current != digest:
            return f"stale build: {name} changed"
    folder = build_dir(root, group)
    missing = [path for path in module_files(group).values() if not (folder / path).is_file()]
    return f"incomplete build: no {missing[0]}" if missing else None


class _NativeFinder:
    """Finds the group's compiled modules (and its shared library) in the build folder."""

    def __init__(self, paths: Mapping[str, Path]) -> None:
        self._paths = dict(paths)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """A spec for one of the group's modules; None leaves every other module alone."""
        file = self._paths.get(fullname)
        if file is None:
            return None
        loader = ExtensionFileLoader(fullname, str(file))
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)

    def invalidate_caches(self) -> None:
        """Nothing cached: the paths were checked once, when the group was activated."""


def activate(group: NativeGroup) -> Status:
    """Import the group's modules compiled from now on, if a matching build exists.

    Call it from the package's `__init__`, before any of the modules is imported.
    """
    root = group_root(group)
    if disabled():
        status = Status(native=False, reason=f"{ENV}=0")
    elif root is None:
        status = Status(native=False, reason="not in a workspace checkout")
    else:
        status = check(root, group)
    STATUS[group.package] = status
    if status.native and root is not None:
        folder = build_dir(root, group)
        paths = {name: folder / path for name, path in module_files(group).items()}
        sys.meta_path.insert(0, _NativeFinder(paths))
    if status.ignored:
        log.warning("%s runs as plain Python: %s", group.package, status.reason)
    return status
