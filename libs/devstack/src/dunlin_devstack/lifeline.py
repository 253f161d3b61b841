"""Child processes that stop when the process that started them dies, however it dies."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def stop_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to send the child SIGTERM when its parent dies.

    The launcher stops its services and the broker itself on Ctrl-C, SIGTERM and SIGHUP;
    this covers what it cannot catch (SIGKILL, the OOM killer), which would otherwise leave
    them running in their own sessions, holding their ports, for the next `make run` to trip
    over. The signal follows the thread that forked, so spawn from the event loop's thread
    (as the launcher and the broker do), never from a short-lived worker thread. None where
    there is no prctl (not Linux): the child then simply outlives a killed parent.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return in_child
