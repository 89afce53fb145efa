"""The PostgreSQL sink alone (issue 5): rows per second for the same accepted rows loaded three ways.

* ``sink_copy``: :class:`PostgresSink` ``write`` (binary COPY, routed, with the exhibition look-up), a transaction
  per batch of 5,000 records.
* ``sink_executemany``: ``cursor.executemany`` of one ``INSERT`` per table, a commit per batch of 5,000 rows.
* ``sink_insert_per_row``: one ``INSERT`` and one ``COMMIT`` per row (capped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import psycopg

from lmnh_pipes import Record

from .context import Context
from .data import Counts, count_rows, reset_tables
from .kiosk_rows import exhibition_ids
from .measure import Sample
from .stages import BATCH, open_sinks, validated_records

__all__ = ["run_sink_copy", "run_sink_executemany", "run_sink_insert_per_row"]

_INSERT: Final = {
    "rating": "INSERT INTO rating_interaction (exhibition_id, rating_id, event_at) VALUES (%s, %s, %s)",
    "request": "INSERT INTO request_interaction (exhibition_id, request_id, event_at) VALUES (%s, %s, %s)",
}


def _accepted(ctx: Context, limit: int | None = None) -> list[Record]:
    accepted = [r for r in validated_records(ctx) if r.reject is None]
    return accepted[:limit] if limit is not None else accepted


def _rows(ctx: Context, records: Sequence[Record]) -> list[tuple[str, tuple[Any, ...]]]:
    ids = exhibition_ids(ctx.servers.dsn)
    out: list[tuple[str, tuple[Any, ...]]] = []
    for r in records:
        v = r.value
        second = v["val"] if v["kind"] == "rating" else v["type"]
        out.append((v["kind"], (ids[v["exhibition"]], second, v["at"])))
    return out


def _want(records: Sequence[Record]) -> Counts:
    ratings = sum(1 for r in records if r.value["kind"] == "rating")
    return Counts(ratings=ratings, requests=len(records) - ratings)


def run_sink_copy(ctx: Context) -> Sample:
    """Every accepted record through ``PostgresSink.write``, 5,000 at a time."""
    records = _accepted(ctx)
    reset_tables(ctx.servers.dsn)
    with open_sinks(ctx.servers.dsn) as (sink, _), ctx.measure() as timing:
        for start in range(0, len(records), BATCH):
            sink.write(records[start : start + BATCH])
    return Sample(count=len(records), timing=timing, got=count_rows(ctx.servers.dsn), want=_want(records))


def run_sink_executemany(ctx: Context) -> Sample:
    """The first ``--executemany-cap`` accepted rows with ``executemany``, a commit per 5,000 rows."""
    records = _accepted(ctx, ctx.executemany_cap)
    rows = _rows(ctx, records)
    reset_tables(ctx.servers.dsn)
    with psycopg.connect(ctx.servers.dsn) as db, ctx.measure() as timing:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            with db.cursor() as cur:
                for kind, statement in _INSERT.items():
                    params = [p for k, p in batch if k == kind]
                    if params:
                        cur.executemany(statement, params)
            db.commit()
    return Sample(count=len(rows), timing=timing, got=count_rows(ctx.servers.dsn), want=_want(records))


def run_sink_insert_per_row(ctx: Context) -> Sample:
    """The first ``--cap`` accepted rows, one ``INSERT`` and one ``COMMIT`` each."""
    records = _accepted(ctx, ctx.cap)
    rows = _rows(ctx, records)
    reset_tables(ctx.servers.dsn)
    with psycopg.connect(ctx.servers.dsn) as db, ctx.measure() as timing:
        for kind, params in rows:
            db.execute(_INSERT[kind], params)
            db.commit()
    return Sample(count=len(rows), timing=timing, got=count_rows(ctx.servers.dsn), want=_want(records))
