"""Helpers of the consumer benchmark: b's shares, the lane rows and the --lanes option."""

from __future__ import annotations

import argparse

import pytest

from bench.__main__ import _positive, parse
from bench.consumer import (
    DEFAULT_LANES,
    Pair,
    Run,
    _pair_rows,
    batch_shares,
    lane_counts,
    lanes_note,
    replay_python_us,
)
from bench.cpu import CpuUse


def _rows(count: int) -> list[dict[str, object]]:
    return [{"event_id": str(i)} for i in range(count)]


def test_one_inserter_gets_every_batch_in_order() -> None:
    shares = batch_shares(_rows(2_500), 1_000, 1)
    assert [len(batch) for batch in shares[0]] == [1_000, 1_000, 500]
    assert [row["event_id"] for batch in shares[0] for row in batch] == [
        str(i) for i in range(2_500)
    ]


def test_batches_are_dealt_round_robin_and_none_is_lost_or_repeated() -> None:
    shares = batch_shares(_rows(7_001), 1_000, 3)
    assert [len(share) for share in shares] == [3, 3, 2]
    assert shares[1][0][0]["event_id"] == "1000"
    ids = sorted(int(str(row["event_id"])) for share in shares for b in share for row in b)
    assert ids == list(range(7_001))
    assert all(len(b) <= 1_000 for share in shares for b in share)


def test_more_inserters_than_batches_leaves_some_idle() -> None:
    shares = batch_shares(_rows(1_500), 1_000, 3)
    assert [len(share) for share in shares] == [1, 1, 0]


def test_no_rows_means_no_batches() -> None:
    assert batch_shares([], 1_000, 2) == [[], []]


@pytest.mark.parametrize(("batch_size", "inserters"), [(0, 1), (1_000, 0), (-1, 2)])
def test_shares_reject_nonsense(batch_size: int, inserters: int) -> None:
    with pytest.raises(ValueError, match="at least"):
        batch_shares(_rows(10), batch_size, inserters)


def test_lane_counts_keep_one_lane_as_reference() -> None:
    assert lane_counts(1) == [1]
    assert lane_counts(3) == [3, 1]
    with pytest.raises(ValueError, match="at least 1"):
        lane_counts(0)


def test_lanes_note_says_how_b_and_c_ran() -> None:
    assert lanes_note(1) == "1 lane (1 inserter)"
    assert lanes_note(2) == "2 lanes (2 concurrent inserters)"
    with pytest.raises(ValueError, match="at least 1"):
        lanes_note(0)


def _pair(lanes: int, b: float, c: float) -> Pair:
    cpu = CpuUse(python_us=16.0, postgres_us=9.0, broker_us=None)
    stages = {"decode": 5.0, "effect handler": 10.0}
    return Pair(lanes, Run(b, cpu, {}), "best of 1", Run(c, cpu, stages), "best of 1")


def test_main_pair_has_the_targets_and_names_its_lanes() -> None:
    rows = {row.name: row for row in _pair_rows(_pair(2, 80_000.0, 40_000.0), reference=False)}
    ratio = rows["consumer.c_over_b"]
    assert ratio.value == pytest.approx(0.5)
    assert (ratio.target, ratio.goal) == (0.5, "min")
    assert rows["consumer.c_dunlin_pipeline"].target == 10_000
    assert rows["consumer.b_db_ceiling"].note.startswith("2 lanes (2 concurrent inserters)")
    assert "summed over 2 concurrent lanes" in rows["  c: decode"].note


def test_reference_pair_has_no_target_and_a_suffixed_name() -> None:
    rows = _pair_rows(_pair(1, 60_000.0, 24_000.0), reference=True)
    names = [row.name for row in rows]
    assert "consumer.c_over_b.1_lane" in names
    assert "consumer.b_db_ceiling.1_lane" in names
    assert not any(name.startswith("  c: ") for name in names)  # stages: main pair only
    assert all(row.target is None and row.goal == "info" for row in rows)
    assert all("reference, no target: 1 lane" in row.note for row in rows if row.unit != "us/event")


def test_lanes_option_defaults_and_rejects_nonsense() -> None:
    assert parse([]).lanes == DEFAULT_LANES
    assert parse(["--lanes", "3"]).lanes == 3
    assert _positive("2") == 2
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
        _positive("0")
    with pytest.raises(SystemExit):
        parse(["--lanes", "0"])


def test_the_python_replay_decodes_its_corpus_and_reports_cpu_per_event() -> None:
    best, middle = replay_python_us(events=600, passes=2, tune_gc=False)
    assert 0 < best <= middle
