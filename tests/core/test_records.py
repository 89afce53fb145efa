"""The fast record constructors build exactly what the attrs constructors build."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from lmnh_pipes import Record
from lmnh_pipes.records import Meta, Rejection, make_meta, make_record, make_source_record

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


def test_make_source_record_is_a_record_with_its_meta():
    got = make_source_record(b"raw", "kafka", "kiosk", 2, 17, "k", WHEN)
    want = Record(raw=b"raw", meta=Meta(source="kafka", topic="kiosk", partition=2, offset=17, key="k", timestamp=WHEN))
    assert got == want
    assert type(got) is Record
    assert type(got.meta) is Meta
    assert got.value is None
    assert got.reject is None


def test_make_record_and_make_meta():
    meta = make_meta("file", "a.jsonl", 0, 3, None, None)
    assert meta == Meta(source="file", topic="a.jsonl", offset=3)
    assert make_record({"a": 1}, b"{}", meta) == Record(value={"a": 1}, raw=b"{}", meta=meta)


def test_with_value_and_rejected_by_keep_the_rest():
    record = make_source_record(b"x", "kafka", "t", 0, 1, None, WHEN)
    accepted = record.with_value({"v": 1})
    assert accepted == attrs.evolve(record, value={"v": 1})
    rejected = accepted.rejected_by("kiosk", "why", "hours")
    assert rejected == attrs.evolve(accepted, reject=Rejection(validator="kiosk", reason="why", rule="hours"))
    assert accepted.rejected_by("json", "bad").reject == Rejection(validator="json", reason="bad", rule="json")


def test_the_fast_records_are_still_frozen():
    record = make_source_record(b"x", "kafka", "t", 0, 1, None, None)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.raw = b"y"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.meta.offset = 2  # type: ignore[misc]
