"""How a record becomes a row: each column's value, looked up and converted for its column's type."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from psycopg.types.json import Jsonb

from lmnh_pipes import Record
from lmnh_pipes.records import attribute_path, value_key

from .tables import Column

__all__ = ["LookUp", "RowError", "converter", "row_builder"]

_TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "name", "citext"})
_JSON_TYPES = frozenset({"json", "jsonb"})

#: The value a column's look-up gives for a value of the record; raises RowError when there is none.
LookUp = Callable[[Column, Any], Any]


class RowError(ValueError):
    """A record cannot become a row (an unknown look-up key)."""


def row_builder(columns: Sequence[Column], types: Sequence[str], look_up: LookUp) -> Callable[[Record], list[Any]]:
    """A function from a record to its row. When every column reads one key of the value, a record whose value
    is a dict holding them all is read with one ``itemgetter`` call; when every column reads an attribute of the
    record (``meta.offset``, ``reject.reason``, ``raw``), with one ``attrgetter`` call; other records, and other
    columns, column by column. Raises :class:`RowError` for a value the look-up does not know."""
    transforms = [_transform(c, t, look_up) for c, t in zip(columns, types, strict=True)]
    getters: list[Callable[[Record], Any]] = [
        c.get if f is None else _then(c.get, f) for c, f in zip(columns, transforms, strict=True)
    ]

    def by_column(r: Record) -> list[Any]:
        return [get(r) for get in getters]

    paths = [c.path for c in columns if c.path is not None]
    if len(paths) < 2 or len(paths) < len(columns):
        return by_column
    fixes = [(i, f) for i, f in enumerate(transforms) if f is not None]
    keys = [value_key(p) for p in paths]
    attributes = [attribute_path(p) for p in paths]
    if None not in keys:
        fetch_keys = operator.itemgetter(*keys)

        def by_keys(r: Record) -> list[Any]:
            value = r.value
            if type(value) is not dict:
                return by_column(r)
            try:
                row = list(fetch_keys(value))
            except KeyError:  # a missing key: None, as a column gives it
                return by_column(r)
            for i, fix in fixes:
                row[i] = fix(row[i])
            return row

        return by_keys
    if None not in attributes:
        fetch_attributes = operator.attrgetter(*attributes)  # type: ignore[arg-type] # no None: checked above

        def by_attributes(r: Record) -> list[Any]:
            try:
                row = list(fetch_attributes(r))
            except AttributeError:  # reject.* of an accepted record: None, as a column gives it
                return by_column(r)
            for i, fix in fixes:
                row[i] = fix(row[i])
            return row

        return by_attributes
    return by_column


def converter(type_name: str) -> Callable[[Any], Any]:
    """What a value goes through to fit a column of ``type_name``."""
    if type_name in _JSON_TYPES:
        return lambda v: None if v is None else Jsonb(v)
    if type_name in _TEXT_TYPES:
        return _to_text
    if type_name == "bytea":
        return lambda v: v.encode("utf-8") if isinstance(v, str) else v
    return _identity


def _transform(column: Column, type_name: str, look_up: LookUp) -> Callable[[Any], Any] | None:
    """What a column's value goes through on its way to the row (a look-up, a conversion); None for nothing."""
    convert = converter(type_name)
    if column.lookup is None:
        return None if convert is _identity else convert

    def looked_up(value: Any) -> Any:
        return None if value is None else convert(look_up(column, value))

    return looked_up


def _then(get: Callable[[Record], Any], transform: Callable[[Any], Any]) -> Callable[[Record], Any]:
    return lambda r: transform(get(r))


def _identity(value: Any) -> Any:
    return value


def _to_text(value: Any) -> Any:
    # PostgreSQL text cannot hold NUL: it is written \x00, as other bytes that are not UTF-8 are.
    if value is None:
        return value
    if isinstance(value, str):
        return value.replace("\x00", "\\x00") if "\x00" in value else value
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
