"""The fast record constructors build exactly what the attrs constructors build."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from lmnh_pipes import MISSING, ConfigError, FieldPath, Record
from lmnh_pipes.records import (
    Meta,
    Rejection,
    attribute_path,
    compile_path,
    make_meta,
    make_record,
    make_source_record,
    offsets_by_partition,
    resolve_path,
    value_key,
)

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


def test_field_path_parse_and_get():
    record = Record.of({"a": {"b": 1}, "site": "3"}, offset=4)
    assert FieldPath.parse("site", "field").key == "site"
    assert FieldPath.parse("value.site", "field").key == "site"
    assert FieldPath.parse("a.b", "field").get(record, record.value) == 1
    assert FieldPath.parse("a.c", "field").get(record, record.value) is MISSING
    assert FieldPath.parse("meta.offset", "field").get(record, record.value) == 4
    for bad in ("", ".a", "a.", "a..b", 3, None):
        with pytest.raises(ConfigError):
            FieldPath.parse(bad, "field")
    for unsettable in ("meta.offset", "raw", "value"):
        with pytest.raises(ConfigError, match="cannot be set"):
            FieldPath.parse(unsettable, "target", writable=True)


def test_field_path_set_and_delete_copy_nested_objects():
    original = {"a": {"b": 1, "c": 2}, "x": 0}
    copy = dict(original)
    FieldPath.parse("a.b", "f").set_in(copy, 9)
    assert copy == {"a": {"b": 9, "c": 2}, "x": 0}
    assert original == {"a": {"b": 1, "c": 2}, "x": 0}
    copy = dict(original)
    FieldPath.parse("a.c", "f").delete_in(copy)
    assert copy == {"a": {"b": 1}, "x": 0}
    assert original["a"] == {"b": 1, "c": 2}
    copy = dict(original)
    FieldPath.parse("a.zz.q", "f").delete_in(copy)
    assert copy == original
    with pytest.raises(ValueError, match="'x' is not an object"):
        FieldPath.parse("x.y", "f").set_in(dict(original), 1)


@pytest.mark.parametrize(
    "path",
    ["site", "value.site", "a.b", "a.c", "value", "meta.offset", "meta.x", "raw", "reject.reason", "reject", "x.y"],
)
def test_every_reading_of_a_path_agrees(path: str) -> None:
    record = Record.of({"a": {"b": 1}, "site": "3"}, offset=4).rejected_by("v", "why")
    field = FieldPath.of(path)
    assert field.resolve(record) == resolve_path(record, path) == record.get(path) == compile_path(path)(record)
    assert value_key(path) == field.key
    assert (attribute_path(path) is not None) == (path in ("meta.offset", "raw", "reject.reason"))
    assert FieldPath.of("nope").resolve(record) is MISSING


def test_offsets_by_partition_keeps_each_partitions_order() -> None:
    def at(topic: str, partition: int, offset: int) -> Record:
        return make_source_record(b"", "kafka", topic, partition, offset, None, None)

    records = [at("a", 0, 5), at("a", 0, 6), at("a", 1, 2), at("b", 0, 9), at("a", 0, 3), at("", -1, 0)]
    assert offsets_by_partition(records) == {("a", 0): [5, 6, 3], ("a", 1): [2], ("b", 0): [9], ("", -1): [0]}
    assert offsets_by_partition([]) == {}
