"""Where the embedded stack keeps its state: `<repo>/.dunlin` or `$DUNLIN_HOME`."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def repo_root(start: Path | None = None) -> Path:
    """Return the nearest folder at or above `start` (default: cwd) holding `uv.lock`."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "uv.lock").is_file():
            return folder
    # Outside a checkout (e.g. an installed wheel) the current folder is the best guess.
    return here


def dunlin_home() -> Path:
    """Return (and create) the folder holding local state: pgdata, logs, the dev API key."""
    override = os.environ.get("DUNLIN_HOME")
    home = Path(override).expanduser() if override else repo_root() / ".dunlin"
    home.mkdir(parents=True, exist_ok=True)
    return home.resolve()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free right now on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return whether nothing listens on `host:port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR so a port in TIME_WAIT after a restart still counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
