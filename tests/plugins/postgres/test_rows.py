"""Rows from records: the general row builder (column by column) and the sink's inline batch path (batch_rows)
give each column its value, looked up and converted, and decide alike. No database: the look-up is a dict here
(against a real server in test_postgres_sink.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from lmnh_pipes import Record
from lmnh_pipes.records import Meta, Rejection
from lmnh_pipes_postgres.rows import RowError, batch_rows, row_builder
from lmnh_pipes_postgres.tables import Column, parse_tables

LOOKUP = {"table": "exhibition", "key": "exhibition_public_id", "value": "exhibition_id"}
WHEN = datetime(2024, 5, 1, 10, tzinfo=UTC)
IDS = {"EXH_00": 1, "EXH_03": 4}


def look_up(column: Column, value: Any) -> Any:
    """As the sink's look-up, on a dict."""
    if isinstance(value, list | dict) or value not in IDS:
        raise RowError(f"column {column.name}: no row with {value!r}")
    return IDS[value]


def build(columns: Any, types: tuple[str, ...]) -> Any:
    """The general path's row function, checked against the inline batch path on every record it builds."""
    spec = parse_tables("t", columns, None, None, None, "error")[""]
    assert spec.columns is not None
    general = row_builder(spec.columns, types, look_up)

    def both(record: Record) -> list[Any]:
        assert_same_decisions(spec.columns, types, [record])
        return general(record)

    return both


def plain(row: Any) -> list[Any]:
    """A row's cells with their types, comparable (a Jsonb compares by identity)."""
    return [(type(v), v.obj if isinstance(v, Jsonb) else v) for v in row]


def assert_same_decisions(columns: Any, types: tuple[str, ...], records: list[Record]) -> None:
    """batch_rows keeps, builds and refuses exactly as the general row builder does, record by record."""
    general = row_builder(columns, types, look_up)
    want_kept, want_rows, want_refused = [], [], []
    for r in records:
        try:
            row = general(r)
        except RowError as exc:
            want_refused.append((r, str(exc)))
            continue
        want_kept.append(r)
        want_rows.append(row)
    rows, lookups = batch_rows(columns, types)
    kept, got, refused = rows(records, general, [IDS for _ in lookups])
    assert [id(r) for r in kept] == [id(r) for r in want_kept]
    assert [plain(row) for row in got] == [plain(row) for row in want_rows]
    assert [(id(r), reason) for r, reason in refused] == [(id(r), reason) for r, reason in want_refused]


VALUE_COLUMNS = {"exhibition_id": {"path": "exhibition", "lookup": LOOKUP}, "note": "val", "event_at": "at"}
VALUE_TYPES = ("int2", "text", "timestamptz")


@pytest.mark.parametrize(
    ("value", "row"),
    [
        ({"exhibition": "EXH_03", "val": 2, "at": WHEN}, [4, "2", WHEN]),  # int to text
        ({"exhibition": "EXH_00", "val": "a", "at": WHEN, "extra": 1}, [1, "a", WHEN]),
        ({"exhibition": None, "val": 2, "at": WHEN}, [None, "2", WHEN]),  # None is not looked up
        ({"val": 2, "at": WHEN}, [None, "2", WHEN]),  # a missing key: None
        ({"exhibition": "EXH_03", "val": "x\x00y", "at": "text"}, [4, "x\\x00y", "text"]),  # NUL in text
        ({"exhibition": "EXH_03", "val": b"\xff", "at": WHEN}, [4, "\\xff", WHEN]),  # bytes in text
        (None, [None, None, None]),
        (["not", "a", "dict"], [None, None, None]),
    ],
)
def test_value_columns_with_a_lookup_and_a_conversion(value: Any, row: list[Any]) -> None:
    assert build(VALUE_COLUMNS, VALUE_TYPES)(Record(value=value, raw=b"{}")) == row


def test_an_unknown_lookup_key_is_refused() -> None:
    with pytest.raises(RowError, match="EXH_99"):
        build(VALUE_COLUMNS, VALUE_TYPES)(Record(value={"exhibition": "EXH_99", "val": 1, "at": WHEN}))


def test_a_constant_column_and_a_dotted_path() -> None:
    columns = {"kind": {"value": "rating"}, "site": "place.site", "offset": "meta.offset"}
    row = build(columns, ("text", "text", "int8"))(Record(value={"place": {"site": "3"}}, meta=Meta(offset=9)))
    assert row == ["rating", "3", 9]


REJECT_COLUMNS = ["topic", "partition", "offset", "validator", "rule", "reason", "raw"]
REJECT_TYPES = ("text", "int4", "int8", "text", "text", "text", "bytea")


@pytest.mark.parametrize(
    ("record", "row"),
    [
        (
            Record(
                raw=b"\xff{",
                meta=Meta(source="kafka", topic="kiosk", partition=2, offset=7),
                reject=Rejection(validator="kiosk", reason="bad \x00 byte", rule="json"),
            ),
            ["kiosk", 2, 7, "kiosk", "json", "bad \\x00 byte", b"\xff{"],
        ),
        # not rejected: the rejection's columns are None
        (Record(raw=b"ok", meta=Meta(topic="kiosk", offset=1)), ["kiosk", 0, 1, None, None, None, b"ok"]),
    ],
)
def test_attribute_columns_of_the_rejects_table(record: Record, row: list[Any]) -> None:
    assert build(REJECT_COLUMNS, REJECT_TYPES)(record) == row


ALL_COLUMNS = {
    "exhibition_id": {"path": "exhibition", "lookup": LOOKUP},
    "note": "val",
    "raw_note": "val",
    "doc": "val",
    "event_at": "at",
    "site": "place.site",
    "kind": {"value": "rating"},
    "topic": "meta.topic",
    "offset": "meta.offset",
    "key": "meta.key",
    "reason": "reject.reason",
    "raw": "raw",
    "body": "raw",
}
ALL_TYPES = (
    "int2",
    "text",
    "bytea",
    "jsonb",
    "timestamptz",
    "text",
    "text",
    "text",
    "int8",
    "bytea",
    "text",
    "bytea",
    "text",
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=6),
    st.binary(max_size=6),
    st.sampled_from(["EXH_00", "EXH_03", "EXH_99", "a\x00b", WHEN]),
)
VALUES = st.one_of(
    st.none(),
    st.lists(SCALARS, max_size=2),
    st.dictionaries(
        st.sampled_from(["exhibition", "val", "at", "place", "other"]),
        st.one_of(SCALARS, st.lists(SCALARS, max_size=1), st.fixed_dictionaries({"site": SCALARS})),
    ),
)
RECORDS = st.builds(
    Record,
    value=VALUES,
    raw=st.one_of(st.binary(max_size=8), st.just("text")),
    meta=st.builds(
        Meta,
        topic=st.text(max_size=4),
        offset=st.integers(0, 9),
        key=st.one_of(st.none(), st.text(max_size=3), st.binary(max_size=3)),
    ),
    reject=st.one_of(st.none(), st.builds(Rejection, validator=st.just("v"), reason=st.text(max_size=6))),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(RECORDS, max_size=8))
def test_the_inline_batch_path_decides_as_the_general_path(records: list[Record]) -> None:
    spec = parse_tables("t", ALL_COLUMNS, None, None, None, "error")[""]
    assert spec.columns is not None
    assert_same_decisions(spec.columns, ALL_TYPES, records)
    # The museum's tables: every column a value key (one a look-up), or every column an attribute.
    value_spec = parse_tables("t", VALUE_COLUMNS, None, None, None, "error")[""]
    reject_spec = parse_tables("t", REJECT_COLUMNS, None, None, None, "error")[""]
    assert value_spec.columns is not None
    assert reject_spec.columns is not None
    assert_same_decisions(value_spec.columns, VALUE_TYPES, records)
    assert_same_decisions(reject_spec.columns, REJECT_TYPES, records)


def test_a_key_missing_from_the_cached_table_takes_the_general_path() -> None:
    """The cache may be older than the look-up table (a new exhibition): the general path reads it again."""
    spec = parse_tables("t", VALUE_COLUMNS, None, None, None, "error")[""]
    assert spec.columns is not None
    general = row_builder(spec.columns, VALUE_TYPES, look_up)
    rows, lookups = batch_rows(spec.columns, VALUE_TYPES)
    records = [Record(value={"exhibition": "EXH_03", "val": 1, "at": WHEN}), Record(value={"exhibition": "EXH_99"})]
    kept, got, refused = rows(records, general, [{"EXH_00": 1} for _ in lookups])  # an old cache
    assert kept == records[:1]
    assert [list(r) for r in got] == [[4, "1", WHEN]]
    assert [(r, reason) for r, reason in refused] == [(records[1], "column exhibition_id: no row with 'EXH_99'")]
