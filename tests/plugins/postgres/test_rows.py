"""Rows from records: the row builders (one itemgetter or attrgetter call for the usual record, column by column
otherwise) give each column its value, looked up and converted. No database: the look-up is a dict here (against a
real server in test_postgres_sink.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lmnh_pipes import Record
from lmnh_pipes.records import Meta, Rejection
from lmnh_pipes_postgres.rows import RowError, row_builder
from lmnh_pipes_postgres.tables import Column, parse_tables

LOOKUP = {"table": "exhibition", "key": "exhibition_public_id", "value": "exhibition_id"}
WHEN = datetime(2024, 5, 1, 10, tzinfo=UTC)
IDS = {"EXH_00": 1, "EXH_03": 4}


def look_up(column: Column, value: Any) -> Any:
    if value not in IDS:
        raise RowError(f"column {column.name}: no row with {value!r}")
    return IDS[value]


def build(columns: Any, types: tuple[str, ...]) -> Any:
    spec = parse_tables("t", columns, None, None, None, "error")[""]
    assert spec.columns is not None
    return row_builder(spec.columns, types, look_up)


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
