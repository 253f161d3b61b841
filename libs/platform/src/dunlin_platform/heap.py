"""Garbage-collector tuning for long-running service processes.

A service's heap after start-up (modules, pydantic schemas, SQLAlchemy metadata, the app) is
~100k-150k container objects that live for the whole process. Every full collection walks
all of them again: 0.1-0.3 s each on a small shared machine, and a consumer holding batches
of thousands of events in flight triggers a full collection every few thousand events.
Freezing the start-up heap (gc.freeze) takes it out of every later collection; objects
created afterwards are collected exactly as before.

The youngest generation's threshold is raised too. CPython counts allocations minus
deallocations of container objects, so short-lived objects never trigger a collection; what
does is a batch in flight (a consumer batch of 1,000 events is ~20k live containers). With
the default of 700 such a batch set off ~30 young collections, each promoting the batch's
objects a generation up to be scanned again, and a full collection every few batches. At
50,000 a collection runs about once per 50k net new containers: cyclic garbage still goes
within that bound.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

_frozen = False
GEN0_THRESHOLD = 50_000


def freeze_startup_heap() -> None:
    """Collect once, then move every surviving object to the permanent generation (once)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    if gen0:  # 0 means automatic collection was switched off on purpose: leave it so
        gc.set_threshold(max(gen0, GEN0_THRESHOLD), gen1, gen2)
    log.debug(
        "froze %d start-up objects in %.0f ms",
        gc.get_freeze_count(),
        1000 * (time.perf_counter() - started),
    )
