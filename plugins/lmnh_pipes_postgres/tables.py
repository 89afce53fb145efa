"""How records become rows: a table, and for each column where its value comes from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
from psycopg import sql

from lmnh_pipes import MISSING, Record
from lmnh_pipes.records import compile_path

__all__ = ["ON_CONFLICT", "Column", "Lookup", "TableSpec", "parse_tables"]

#: What a row whose conflict key exists does: fail the batch, be skipped, or replace the row.
ON_CONFLICT = ("error", "nothing", "update")

#: Column names that, when no mapping is given, take a record's metadata rather than a value key.
_DEFAULT_PATHS = {
    "validator": "reject.validator",
    "rule": "reject.rule",
    "reason": "reject.reason",
    "replays": "reject.replays",
    "raw": "raw",
    "source": "meta.source",
    "topic": "meta.topic",
    "partition": "meta.partition",
    "offset": "meta.offset",
    "key": "meta.key",
    "timestamp": "meta.timestamp",
}


@attrs.frozen
class Lookup:
    """Replace a value by another table's column: ``SELECT value FROM table WHERE key = <value>``."""

    table: str
    key: str
    value: str


@attrs.frozen
class Column:
    """One column: from a dotted ``path``, or a constant ``value``, optionally through a ``lookup``."""

    name: str
    path: str | None = None
    value: Any = None
    lookup: Lookup | None = None
    _get: Callable[[Record], Any] | None = attrs.field(default=None, init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_get", compile_path(self.path) if self.path is not None else None)

    def get(self, record: Record) -> Any:
        if self._get is None:
            return self.value
        found = self._get(record)
        return None if found is MISSING else found


@attrs.frozen
class TableSpec:
    """A target table; ``columns`` None means "every column without a default, by name"."""

    table: str
    columns: tuple[Column, ...] | None = None
    conflict_key: tuple[str, ...] = ()
    on_conflict: str = "error"

    @property
    def identifier(self) -> sql.Composable:
        return sql.SQL(".").join(sql.Identifier(p) for p in self.table.split("."))


def known_path(name: str) -> str | None:
    """The record path a column named ``name`` takes by default when it names a record's metadata, else None."""
    return _DEFAULT_PATHS.get(name)


def default_column(name: str) -> Column:
    """The column a table column takes when no mapping names it."""
    return Column(name=name, path=_DEFAULT_PATHS.get(name, name))


def _at(where: str, key: str) -> str:
    """The dotted key path of ``key`` below ``where`` (the sink's own options when ``where`` is empty)."""
    return f"{where}.{key}" if where else key


def _column(name: str, spec: Any, where: str) -> Column:
    if isinstance(spec, str):
        return Column(name=name, path=spec)
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}.{name}: expected a dotted path or a mapping, found {spec!r}")
    unknown = set(spec) - {"path", "value", "lookup"}
    if unknown:
        raise ValueError(f"{where}.{name}: unknown key {sorted(unknown)[0]!r} (expected path, value or lookup)")
    if ("path" in spec) == ("value" in spec):
        raise ValueError(f"{where}.{name}: give exactly one of path and value")
    lookup = None
    if "lookup" in spec:
        raw = spec["lookup"]
        if not isinstance(raw, Mapping) or set(raw) != {"table", "key", "value"}:
            raise ValueError(f"{where}.{name}.lookup: expected a mapping with table, key and value, found {raw!r}")
        lookup = Lookup(table=str(raw["table"]), key=str(raw["key"]), value=str(raw["value"]))
    return Column(name=name, path=spec.get("path"), value=spec.get("value"), lookup=lookup)


def parse_table(spec: Mapping[str, Any], where: str) -> TableSpec:
    """Parse one table mapping: ``table``, ``columns``, ``conflict_key``, ``on_conflict``; errors name their key
    path below ``where``."""
    unknown = set(spec) - {"table", "columns", "conflict_key", "on_conflict"}
    if unknown:
        raise ValueError(
            f"{where}: unknown key {sorted(unknown)[0]!r} (expected table, columns, conflict_key, on_conflict)"
        )
    if not isinstance(spec.get("table"), str):
        raise ValueError(f"{_at(where, 'table')}: expected a table name, found {spec.get('table')!r}")
    columns = spec.get("columns")
    parsed: tuple[Column, ...] | None = None
    if columns is not None:
        if isinstance(columns, list):
            parsed = tuple(default_column(str(c)) for c in columns)
        elif isinstance(columns, Mapping):
            parsed = tuple(_column(str(n), s, _at(where, "columns")) for n, s in columns.items())
        else:
            raise ValueError(f"{_at(where, 'columns')}: expected a mapping of column -> path, found {columns!r}")
    on_conflict = spec.get("on_conflict", "error")
    if on_conflict not in ON_CONFLICT:
        raise ValueError(f"{_at(where, 'on_conflict')}: expected error, nothing or update, found {on_conflict!r}")
    key = tuple(spec.get("conflict_key") or ())
    if on_conflict != "error" and not key:
        raise ValueError(f"{_at(where, 'on_conflict')}: {on_conflict} needs a conflict_key")
    return TableSpec(table=spec["table"], columns=parsed, conflict_key=key, on_conflict=on_conflict)


def parse_tables(
    table: str | None,
    columns: Any,
    tables: Mapping[str, Any] | None,
    route: str | None,
    conflict_key: list[str] | None,
    on_conflict: str,
) -> dict[str, TableSpec]:
    """The sink's table options as route value -> table; a single table is under the key ``""``."""
    if (table is None) == (tables is None):
        raise ValueError("give exactly one of table (one table) and tables (routed by a field)")
    if tables is not None:
        if route is None:
            raise ValueError("tables needs route: the field whose value picks the table")
        out = {}
        for value, spec in tables.items():
            if not isinstance(spec, Mapping):
                raise ValueError(f"tables.{value}: expected a mapping with a table, found {spec!r}")
            out[str(value)] = parse_table(spec, f"tables.{value}")
        return out
    single: dict[str, Any] = {"table": table, "columns": columns, "on_conflict": on_conflict}
    if conflict_key:
        single["conflict_key"] = conflict_key
    return {"": parse_table(single, "")}
