"""How a record becomes a row: each column's value, looked up and converted for its column's type."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from psycopg.types.json import Jsonb

from lmnh_pipes import Record
from lmnh_pipes.records import FieldPath, attribute_path

from .tables import Column, Lookup

__all__ = ["BatchRows", "LookUp", "RowError", "batch_rows", "converter", "row_builder"]

_TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "name", "citext"})
_JSON_TYPES = frozenset({"json", "jsonb"})

#: The value a column's look-up gives for a value of the record; raises RowError when there is none.
LookUp = Callable[[Column, Any], Any]


class RowError(ValueError):
    """A record cannot become a row (an unknown look-up key)."""


def row_builder(columns: Sequence[Column], types: Sequence[str], look_up: LookUp) -> Callable[[Record], list[Any]]:
    """A function from a record to its row, column by column: the general path, which :func:`batch_rows` must
    decide exactly as. Raises :class:`RowError` for a value the look-up does not know."""
    transforms = [_transform(c, t, look_up) for c, t in zip(columns, types, strict=True)]
    getters: list[Callable[[Record], Any]] = [
        c.get if f is None else _then(c.get, f) for c, f in zip(columns, transforms, strict=True)
    ]

    def by_column(r: Record) -> list[Any]:
        return [get(r) for get in getters]

    return by_column


#: A batch's rows: ``(records, general, tables) -> (kept, rows, refused)``; see :func:`batch_rows`.
BatchRows = Callable[
    [Sequence[Record], Callable[[Record], list[Any]], Sequence[Mapping[Any, Any]]],
    tuple[list[Record], list[Sequence[Any]], list[tuple[Record, str]]],
]


def batch_rows(columns: Sequence[Column], types: Sequence[str]) -> tuple[BatchRows, tuple[Lookup, ...]]:
    """The rows of a whole batch in one loop, with every column's read, look-up and conversion written inline
    (as attrs writes its ``__init__``): the sink's hot path. Returns the function, and the look-ups whose cached
    tables it takes, in that order.

    ``rows(records, general, tables)`` gives the records kept, their rows (in the same order), and the records
    refused with the :class:`RowError` reason. ``general`` is :func:`row_builder`'s function for the same columns;
    a record for which the inline path meets anything unusual (a value that is not a dict, a missing key, a key
    not in a cached table, a rejection's column of an accepted record) is built by ``general`` instead, so the two
    decide alike: ``tests/plugins/postgres/test_rows.py`` checks it.
    """
    namespace: dict[str, Any] = {"RowError": RowError}
    lookups: list[Lookup] = []
    values = meta = False
    cells: list[str] = []
    for i, (column, type_name) in enumerate(zip(columns, types, strict=True)):
        field = FieldPath.of(column.path) if column.path is not None else None
        if field is not None and field.key is not None:
            cell, values = f"v[{field.key!r}]", True
        elif field is not None and attribute_path(field.path) is not None:
            if field.root == "raw":
                cell = "r.raw"
            elif field.root == "meta":
                cell, meta = f"m.{field.steps[0]}", True
            else:  # reject.*: an accepted record has none, and raises AttributeError, for the general path
                cell = f"r.reject.{field.steps[0]}"
        else:  # a constant or a nested path: the column's own getter
            namespace[f"get{i}"] = column.get
            cell = f"get{i}(r)"
        if column.lookup is not None:
            looked_up = _converted(f"table{len(lookups)}[x{i}]", type_name, f"y{i}", namespace)
            cell = f"(None if (x{i} := {cell}) is None else {looked_up})"
            lookups.append(column.lookup)
        else:
            cell = _converted(cell, type_name, f"x{i}", namespace)
        cells.append(cell)
    reads = ["v = r.value", "if type(v) is not dict:", "    raise TypeError"] if values else []
    reads += ["m = r.meta"] if meta else []
    tables = "".join(f", table{j}" for j in range(len(lookups)))
    source = "\n".join(
        [
            f"def rows(records, general{tables}):",
            "    kept, rows, refused = [], [], []",
            "    keep, add = kept.append, rows.append",
            "    for r in records:",
            "        try:",
            *(f"            {line}" for line in reads),
            f"            row = ({', '.join(cells)},)",
            "        except Exception:",
            "            try:",
            "                row = general(r)",
            "            except RowError as exc:",
            "                refused.append((r, str(exc)))",
            "                continue",
            "        keep(r)",
            "        add(row)",
            "    return kept, rows, refused",
        ]
    )
    exec(compile(source, f"<lmnh_pipes_postgres rows of {', '.join(c.name for c in columns)}>", "exec"), namespace)
    compiled = namespace["rows"]

    def rows(
        records: Sequence[Record], general: Callable[[Record], list[Any]], tables: Sequence[Mapping[Any, Any]]
    ) -> tuple[list[Record], list[Sequence[Any]], list[tuple[Record, str]]]:
        result: tuple[list[Record], list[Sequence[Any]], list[tuple[Record, str]]] = compiled(records, general, *tables)
        return result

    return rows, tuple(lookups)


def _converted(cell: str, type_name: str, name: str, namespace: dict[str, Any]) -> str:
    """``cell`` through the conversion for a column of ``type_name``, inline where it is a type test."""
    convert = converter(type_name)
    if convert is _identity:
        return cell
    namespace[f"convert_{name}"] = convert
    if type_name in _TEXT_TYPES:
        return f'({name} if type({name} := {cell}) is str and "\\x00" not in {name} else convert_{name}({name}))'
    if type_name == "bytea":
        return f"({name} if type({name} := {cell}) is bytes else convert_{name}({name}))"
    return f"convert_{name}({cell})"


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
