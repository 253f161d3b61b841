"""Compile a package's `NATIVE` group with mypyc, unless its build is already fresh.

Usage: `python -m dunlin_platform.native_build dunning.domain [--force] [--require]` (run by
`make setup`). Without a C compiler (or Python headers, or mypyc and setuptools) it warns and
leaves the package to run as plain Python (`--require`, for images, fails instead); a compile
error always fails, so the build cannot rot unnoticed.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as dt
import importlib
import importlib.util
import io
import json
import logging
import os
import shutil
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

from dunlin_platform import native
from dunlin_platform.native import (
    CONFIG_FILE,
    ENV,
    FORMAT,
    LOCK_FILE,
    MANIFEST,
    NativeGroup,
    build_dir,
    check,
    disabled,
    extension_suffix,
    group_root,
    hashes,
)


def toolchain_problem() -> str | None:
    """What stops a compile on this machine (no C compiler, headers or mypyc), or None."""
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        return "no Python headers (Python.h)"
    for tool in ("mypyc", "setuptools"):
        if importlib.util.find_spec(tool) is None:
            return f"{tool} is not installed (a dev dependency)"
    return None


def sources(root: Path, group: NativeGroup) -> list[str]:
    """Every first-party file the compiled modules import, transitively, plus the mypy config.

    mypyc compiles against the types (and inlines the constants) of what a module imports, so
    the build is stale when any of those change, not only the compiled files; mypy reads its
    configuration from `pyproject.toml`, and `uv.lock` pins mypyc and the third-party packages.
    """
    found: dict[str, Path] = {}
    todo = list(group.qualified)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        file = _first_party_source(name, root)
        if file is None:
            continue
        found[name] = file
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)  # a package's __init__ runs before its modules
        todo.extend(_imports(name, file))
    names = {path.relative_to(root).as_posix() for path in found.values()}
    return sorted(names | {CONFIG_FILE, LOCK_FILE})


def _spec(name: str) -> ModuleSpec | None:
    """Where a module's source is, found as the import system would, without importing it."""
    parent = name.rpartition(".")[0]
    if not parent:
        return PathFinder.find_spec(name)
    parent_spec = _spec(parent)
    if parent_spec is None or parent_spec.submodule_search_locations is None:
        return None
    return PathFinder.find_spec(name, list(parent_spec.submodule_search_locations))


def _first_party_source(name: str, root: Path) -> Path | None:
    spec = _spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    path = Path(spec.origin).resolve()
    inside = path.is_relative_to(root)
    installed = path.is_relative_to(root / ".venv") or path.is_relative_to(root / ".tools")
    return path if inside and not installed else None


def _imports(name: str, file: Path) -> Iterator[str]:
    """The modules a file imports (and `from x import y` candidates `x.y`)."""
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(file.read_bytes(), str(file))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def compile_group(root: Path, group: NativeGroup) -> Path:
    """Compile the group into its build folder, replacing any previous build at once."""
    inputs = sources(root, group)
    digests = hashes(root, inputs)  # before compiling: an edit during the build makes it stale
    final = build_dir(root, group)
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=f".{group.name}-") as tmp:
        work = Path(tmp)
        _mypycify(root, group, work)
        manifest = {
            "format": FORMAT,
            "modules": list(group.modules),
            "suffix": extension_suffix(),
            "python": sys.version,
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "sources": digests,
        }
        (work / "lib" / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        # Renames, so a process starting meanwhile sees the old build, the new one or none:
        # never a half-written one (and running processes keep the files they mapped).
        if final.exists():
            final.rename(work / "previous")
        (work / "lib").rename(final)
    return final


def _mypycify(root: Path, group: NativeGroup, work: Path) -> None:
    paths = []
    for name in group.qualified:
        source = _first_party_source(name, root)
        if source is None:
            raise ValueError(f"{name}: no Python source in the workspace {root}")
        paths.append(str(source))
    output = io.StringIO()  # mypyc's and setuptools' chatter, shown only when the build fails
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            _setup(root, group, work, paths)
    except BaseException:
        sys.stderr.write(output.getvalue())
        raise


def _setup(root: Path, group: NativeGroup, work: Path, paths: list[str]) -> None:
    from mypyc.build import mypycify  # dev dependencies: imported only to compile
    from setuptools import setup

    # mypy reads the workspace's config (mypy_path, plugins) relative to the working directory.
    with contextlib.chdir(root):
        extensions = mypycify(
            ["--config-file", str(root / CONFIG_FILE), *paths],
            group_name=group.name,
            target_dir=str(work / "c"),
        )
    # Not from the workspace root: setuptools would read its pyproject.toml as a project.
    with contextlib.chdir(work):
        setup(
            name=group.name,
            packages=[],
            ext_modules=extensions,
            script_args=[
                "--quiet",
                "build_ext",
                f"--build-lib={work / 'lib'}",
                f"--build-temp={work / 'obj'}",
            ],
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Build the named package's group if it is stale; print what happened."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", help="a package whose __init__ defines NATIVE")
    parser.add_argument("--force", action="store_true", help="rebuild even when fresh")
    parser.add_argument(
        "--require", action="store_true", help="fail, not warn, when this machine cannot compile"
    )
    args = parser.parse_args(argv)
    if disabled():
        print(f"native build of {args.package} skipped: {ENV}=0")
        return 0
    # The builder says itself why it compiles: the import's warning would say it twice.
    logging.getLogger(native.__name__).setLevel(logging.ERROR)
    group = importlib.import_module(args.package).NATIVE
    if not isinstance(group, NativeGroup):
        parser.error(f"{args.package}.NATIVE is not a NativeGroup")
    root = group_root(group)
    if root is None:
        parser.error(f"{args.package} is not inside a workspace checkout (no {LOCK_FILE})")
    status = check(root, group)
    if status.native and not args.force:
        print(f"native build of {args.package} is fresh")
        return 0
    problem = toolchain_problem()
    if problem is not None and args.require:
        print(f"ERROR: {problem}: cannot compile {args.package}", file=sys.stderr)
        return 1
    if problem is not None:
        print(
            f"WARNING: {problem}: {args.package} runs as plain Python (same code, slower)",
            file=sys.stderr,
        )
        return 0
    why = "forced" if status.native else status.reason
    print(f"compiling {args.package} with mypyc ({why}) ...", flush=True)
    started = time.monotonic()
    try:
        final = compile_group(root, group)
    except (Exception, SystemExit):
        print(f"native build of {args.package} failed; {ENV}=0 skips it", file=sys.stderr)
        raise
    print(f"compiled {args.package} into {final} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
