"""What a sink's tables keep of a partition's offsets, for ``lmnh-pipes audit``: one job, on the caller's connection.

A table can be counted when it maps ``meta.partition`` and ``meta.offset`` to columns (and ``meta.topic``, when the
pipeline reads several topics). The offsets come back as islands (gaps and islands: an offset minus its rank is
constant along a run with no gap) and the offsets kept more than once, so that the answer stays small for millions
of rows; with a unique key on the coordinates the scan is an index range scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import psycopg
from psycopg import sql

from lmnh_pipes.auditing import Kept, Span
from lmnh_pipes.delivery import Positions

from .tables import TableSpec, known_path

__all__ = ["CoordinateColumns", "coordinate_columns", "kept", "lowest_kept"]


@attrs.frozen
class CoordinateColumns:
    """The columns of ``table`` that keep a record's topic (None: not kept), partition and offset."""

    table: sql.Composable
    topic: str | None
    partition: str
    offset: str


def coordinate_columns(spec: TableSpec, table_columns: Sequence[str]) -> CoordinateColumns | str:
    """The coordinate columns of ``spec``'s table (whose columns are ``table_columns``), or why it keeps none."""
    if spec.columns is not None:
        paths = {c.path: c.name for c in spec.columns if c.path is not None and c.lookup is None}
    else:
        paths = {path: name for name in table_columns if (path := known_path(name)) is not None}
    missing = [p for p in ("meta.partition", "meta.offset") if p not in paths]
    if missing:
        return f"table {spec.table} keeps no {' or '.join(missing)} column"
    return CoordinateColumns(
        table=spec.identifier,
        topic=paths.get("meta.topic"),
        partition=paths["meta.partition"],
        offset=paths["meta.offset"],
    )


def _kept_rows(tables: Sequence[CoordinateColumns]) -> sql.Composable:
    """Every table's (t, p, o) within the spans, as one UNION ALL."""
    parts = []
    for c in tables:
        topic = sql.SQL("x.{} = s.t AND ").format(sql.Identifier(c.topic)) if c.topic is not None else sql.SQL("")
        parts.append(
            sql.SQL(
                "SELECT s.t, s.p, x.{o}::bigint AS o FROM spans s JOIN {table} x ON {topic}x.{p} = s.p "
                "AND x.{o} >= s.lo AND x.{o} < s.hi"
            ).format(o=sql.Identifier(c.offset), table=c.table, topic=topic, p=sql.Identifier(c.partition))
        )
    return sql.SQL(" UNION ALL ").join(parts)


def kept(conn: psycopg.Connection[Any], tables: Sequence[CoordinateColumns], spans: Sequence[Span]) -> list[Kept]:
    """What ``tables`` together keep of each of ``spans``."""
    query = sql.SQL(
        "WITH spans (t, p, lo, hi) AS (SELECT * FROM unnest(%s::text[], %s::int[], %s::bigint[], %s::bigint[])), "
        "counted AS (SELECT t, p, o, count(*) AS n FROM ({}) AS k GROUP BY t, p, o) "
        "SELECT t, p, min(o), max(o), sum(n)::bigint, "
        "coalesce(array_agg(o) FILTER (WHERE n > 1), '{{}}'), coalesce(array_agg(n) FILTER (WHERE n > 1), '{{}}') "
        "FROM (SELECT t, p, o, n, o - row_number() OVER (PARTITION BY t, p ORDER BY o) AS g FROM counted) AS c "
        "GROUP BY t, p, g ORDER BY t, p, min(o)"
    ).format(_kept_rows(tables))
    args = (
        [s.topic for s in spans],
        [s.partition for s in spans],
        [s.low for s in spans],
        [s.high for s in spans],
    )
    islands: dict[tuple[str, int], list[tuple[int, int]]] = {}
    entries: dict[tuple[str, int], int] = {}
    repeated: dict[tuple[str, int], dict[int, int]] = {}
    for t, p, first, last, n, offsets, times in conn.execute(query, args).fetchall():
        key = (t, p)
        islands.setdefault(key, []).append((first, last))
        entries[key] = entries.get(key, 0) + n
        repeated.setdefault(key, {}).update(zip(offsets, times, strict=True))
    return [
        Kept(
            span=s,
            entries=entries.get((s.topic, s.partition), 0),
            islands=tuple(islands.get((s.topic, s.partition), ())),
            repeated=repeated.get((s.topic, s.partition), {}),
        )
        for s in spans
    ]


def lowest_kept(
    conn: psycopg.Connection[Any], tables: Sequence[CoordinateColumns], partitions: Sequence[tuple[str, int]]
) -> Positions:
    """The smallest offset ``tables`` keep of each of ``partitions``."""
    lows: Positions = {}
    wanted = ([t for t, _ in partitions], [p for _, p in partitions])
    for c in tables:
        topic = sql.SQL("x.{}").format(sql.Identifier(c.topic)) if c.topic is not None else sql.SQL("w.t")
        query = sql.SQL(
            "SELECT w.t, w.p, min(x.{o}) FROM unnest(%s::text[], %s::int[]) AS w (t, p) "
            "JOIN {table} x ON x.{p} = w.p AND {topic} = w.t GROUP BY w.t, w.p"
        ).format(o=sql.Identifier(c.offset), table=c.table, p=sql.Identifier(c.partition), topic=topic)
        for t, p, low in conn.execute(query, wanted).fetchall():
            if low is not None:
                lows[(t, p)] = min(int(low), lows.get((t, p), int(low)))
    return lows
