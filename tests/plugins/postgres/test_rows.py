"""Rows from records: the sink's fast row builders (one itemgetter or attrgetter call) give the rows that the
column-by-column path gives, for every record shape. No database: look-ups are preloaded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg import sql

from lmnh_pipes import Record
from lmnh_pipes.records import Meta, Rejection
from lmnh_pipes_postgres import PostgresSink
from lmnh_pipes_postgres.sink import _RowError, _Target
from lmnh_pipes_postgres.tables import parse_tables

LOOKUP = {"table": "exhibition", "key": "exhibition_public_id", "value": "exhibition_id"}
WHEN = datetime(2024, 5, 1, 10, tzinfo=UTC)


class Catalogue:
    """Answers the look-up's reload, which an unknown key causes (against a real server in test_postgres_sink)."""

    def execute(self, query: Any) -> None:
        pass

    def fetchall(self) -> list[tuple[str, int]]:
        return [("EXH_00", 1), ("EXH_03", 4)]


def builders(columns: dict[str, Any], types: tuple[str, ...]) -> tuple[Any, Any]:
    """The sink's builder for these columns, and the column-by-column reference."""
    sink = PostgresSink(dsn="postgresql://localhost/x", table="t", columns=columns)
    sink._lookups[("exhibition", "exhibition_public_id", "exhibition_id")] = {"EXH_00": 1, "EXH_03": 4}
    spec = parse_tables("t", columns, None, None, None, "error")[""]
    assert spec.columns is not None
    target = _Target(spec=spec, columns=spec.columns, types=types, copy=sql.Composed([]), stage=None, stage_table=None)
    fast = sink._row_builder(Catalogue(), target)  # type: ignore[arg-type]

    def reference(r: Record) -> list[Any]:
        row = []
        for column, type_name in zip(spec.columns or (), types, strict=True):
            value = column.get(r)
            transform = sink._transform(Catalogue(), column, type_name)  # type: ignore[arg-type]
            row.append(value if transform is None else transform(value))
        return row

    return fast, reference


VALUES: list[Any] = [
    {"exhibition": "EXH_03", "val": 2, "at": WHEN},
    {"exhibition": "EXH_00", "val": 0, "at": WHEN, "extra": 1},
    {"exhibition": None, "val": 2, "at": WHEN},
    {"val": 2, "at": WHEN},  # a missing key
    {"exhibition": "EXH_03", "val": "x\x00y", "at": "text"},
    None,
    ["not", "a", "dict"],
]


@pytest.mark.parametrize("value", VALUES)
def test_value_columns_with_a_lookup_and_a_conversion(value: Any) -> None:
    fast, reference = builders(
        {"exhibition_id": {"path": "exhibition", "lookup": LOOKUP}, "note": "val", "event_at": "at"},
        ("int2", "text", "timestamptz"),
    )
    record = Record(value=value, raw=b"{}")
    assert fast(record) == reference(record)


def test_an_unknown_lookup_key_is_refused_on_both_paths() -> None:
    fast, reference = builders(
        {"exhibition_id": {"path": "exhibition", "lookup": LOOKUP}, "rating_id": "val"}, ("int2", "int2")
    )
    record = Record(value={"exhibition": "EXH_99", "val": 1})
    for build in (fast, reference):
        with pytest.raises(_RowError, match="EXH_99"):
            build(record)


@pytest.mark.parametrize(
    "record",
    [
        Record(
            raw=b"\xff{",
            meta=Meta(source="kafka", topic="kiosk", partition=2, offset=7),
            reject=Rejection(validator="kiosk", reason="bad \x00 byte", rule="json"),
        ),
        Record(raw=b"ok", meta=Meta(topic="kiosk", offset=1)),  # not rejected: the reject columns are None
    ],
)
def test_attribute_columns_of_the_rejects_table(record: Record) -> None:
    columns = ["topic", "partition", "offset", "validator", "rule", "reason", "raw"]
    fast, reference = builders(columns, ("text", "int4", "int8", "text", "text", "text", "bytea"))  # type: ignore[arg-type]
    assert fast(record) == reference(record)
    if record.reject is not None:
        assert fast(record) == ["kiosk", 2, 7, "kiosk", "json", "bad \\x00 byte", b"\xff{"]
