"""A record as the ``csv`` sink's row: the text of each cell, and the one CSV dialect it writes and reads."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from typing import IO, Any

from lmnh_pipes import MISSING, Record, json_default
from lmnh_pipes.records import compile_path

from . import rawtext

__all__ = ["cell", "csv_reader", "csv_writer", "row_maker"]


def cell(value: Any) -> str:
    """The CSV text of one value: empty for None or MISSING, ``true``/``false``, ISO 8601 for datetimes, compact
    JSON for mappings and lists, bytes in the raw encoding (:mod:`.rawtext`), else ``str``."""
    if value is None or value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return rawtext.encode(bytes(value))
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=json_default)
    return str(value)


def _key_bytes(record: Record) -> bytes | None:
    # A key is text when it is UTF-8, else bytes: written as bytes either way, it reads back as the same key.
    key = record.meta.key
    return key.encode("utf-8") if isinstance(key, str) else key


def row_maker(columns: Sequence[str]) -> Callable[[Record], list[str]]:
    """A function giving a record's row under ``columns``: the cells of their dotted paths (``meta.key`` in the
    raw encoding, as ``raw``)."""
    getters = [_key_bytes if column == "meta.key" else compile_path(column) for column in columns]
    return lambda record: [cell(get(record)) for get in getters]


def csv_writer(text: IO[str], delimiter: str) -> Any:
    """The sink's CSV writer: rows end in ``\\r\\n`` (RFC 4180)."""
    return csv.writer(text, delimiter=delimiter, lineterminator="\r\n")


def csv_reader(lines: Any, delimiter: str) -> Any:
    """A strict reader of what :func:`csv_writer` wrote: a quote never closed is an error, not the rest of the
    file swallowed into one field."""
    return csv.reader(lines, delimiter=delimiter, strict=True)
