import gc
from collections.abc import Iterator

import pytest

from dunlin_platform import heap


@pytest.fixture
def fresh_heap(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(heap, "_frozen", False)
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("fresh_heap")
def test_freezing_moves_the_start_up_heap_out_of_collections_and_raises_gen0() -> None:
    gc.set_threshold(700, 10, 10)
    heap.freeze_startup_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (heap.GEN0_THRESHOLD, 10, 10)


@pytest.mark.usefixtures("fresh_heap")
def test_a_higher_threshold_or_a_disabled_collector_is_left_alone() -> None:
    gc.set_threshold(100_000, 5, 5)
    heap.freeze_startup_heap()
    assert gc.get_threshold() == (100_000, 5, 5)

    heap._frozen = False
    gc.set_threshold(0)
    heap.freeze_startup_heap()
    assert gc.get_threshold()[0] == 0
