"""`random_id`: canonical version-4 UUIDs, all different."""

from __future__ import annotations

import uuid

from dunlin_platform.ids import random_id


def test_a_random_id_is_a_canonical_version_4_uuid() -> None:
    for _ in range(2_000):
        text = random_id()
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # lower-case hex, hyphens where uuid puts them


def test_random_ids_do_not_repeat_and_use_every_variant_digit() -> None:
    ids = [random_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert {text[19] for text in ids} == set("89ab")
