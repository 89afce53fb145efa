"""The rows a kiosk message becomes, as the hand-tuned loop writes them: a rating, a request, or a reject.

Shared by :mod:`benchmarks.handtuned` (its COPY statements) and the peers' worker
(``benchmarks/peers/quix_worker.py``), which runs in its own virtual environment with only the repository on its
path: so this module imports nothing but the standard library, psycopg and ``lmnh_pipes``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NamedTuple

import psycopg

from lmnh_pipes import Meta, Record, Validator

__all__ = [
    "COLUMNS",
    "COPY",
    "RATING",
    "REJECT",
    "REQUEST",
    "TABLES",
    "TYPES",
    "Row",
    "as_mapping",
    "converter",
    "exhibition_ids",
    "table_of",
    "write_copy",
]

RATING, REQUEST, REJECT = 0, 1, 2
TABLES: Final = ("rating_interaction", "request_interaction", "kiosk_reject")
COLUMNS: Final = (
    ("exhibition_id", "rating_id", "event_at"),
    ("exhibition_id", "request_id", "event_at"),
    ("topic", "partition", "offset", "validator", "rule", "reason", "raw"),
)
#: Binary COPY into each table, in the order of TABLES.
COPY: Final = (
    "COPY rating_interaction (exhibition_id, rating_id, event_at) FROM STDIN (FORMAT BINARY)",
    "COPY request_interaction (exhibition_id, request_id, event_at) FROM STDIN (FORMAT BINARY)",
    'COPY kiosk_reject (topic, "partition", "offset", validator, rule, reason, raw) FROM STDIN (FORMAT BINARY)',
)
TYPES: Final = (
    ("int2", "int2", "timestamptz"),
    ("int2", "int2", "timestamptz"),
    ("text", "int4", "int8", "text", "text", "text", "bytea"),
)


class Row(NamedTuple):
    """One message's row: which table (RATING, REQUEST or REJECT) and its values in COLUMNS' order."""

    table: int
    values: tuple[Any, ...]


def converter(
    validator: Validator, decode: Callable[[bytes], Any], exhibitions: Mapping[str, int]
) -> Callable[[bytes, str, int, int], Row]:
    """``convert(raw, topic, partition, offset)``: decode ``raw``, check it with ``validator`` (the kiosk rules, on
    the decoded value), and give its row; the exhibition's public id is looked up in ``exhibitions``. A message that
    is not JSON is a reject of validator and rule ``json``, as in the hand-tuned loop."""
    validate = validator.validate

    def convert(raw: bytes, topic: str, partition: int, offset: int) -> Row:
        try:
            value = decode(raw)
        except ValueError as exc:  # msgspec.DecodeError is a ValueError
            return Row(REJECT, (topic, partition, offset, "json", "json", str(exc), raw))
        r = validate(Record(value=value, raw=raw, meta=Meta(topic=topic, partition=partition, offset=offset)))
        if r.reject is not None:
            return Row(REJECT, (topic, partition, offset, r.reject.validator, r.reject.rule, r.reject.reason, raw))
        v = r.value
        if v["type"] is None:
            return Row(RATING, (exhibitions[v["exhibition"]], v["val"], v["at"]))
        return Row(REQUEST, (exhibitions[v["exhibition"]], v["type"], v["at"]))

    return convert


def as_mapping(row: Row) -> dict[str, Any]:
    """The row as column -> value: what a sink that takes mappings (Quix's PostgreSQLSink) writes."""
    return dict(zip(COLUMNS[row.table], row.values, strict=True))


def table_of(columns: Mapping[str, Any]) -> str:
    """The table a mapping from :func:`as_mapping` belongs in, told by its columns."""
    if "rating_id" in columns:
        return TABLES[RATING]
    if "request_id" in columns:
        return TABLES[REQUEST]
    return TABLES[REJECT]


def write_copy(db: psycopg.Connection[Any], rows: Iterable[Row]) -> int:
    """Write ``rows`` with binary COPY into their tables, in one transaction; return how many."""
    tables: tuple[list[tuple[Any, ...]], ...] = ([], [], [])
    for table, values in rows:
        tables[table].append(values)
    with db.transaction(), db.cursor() as cur:
        for statement, types, values_list in zip(COPY, TYPES, tables, strict=True):
            if values_list:
                with cur.copy(statement) as copy:
                    copy.set_types(types)
                    for values in values_list:
                        copy.write_row(values)
    return sum(len(t) for t in tables)


def exhibition_ids(dsn: str) -> dict[str, int]:
    """Each exhibition's public id (``EXH_03``) -> its key, for the loops that resolve it themselves."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {str(k): int(v) for k, v in conn.execute("SELECT exhibition_public_id, exhibition_id FROM exhibition")}
