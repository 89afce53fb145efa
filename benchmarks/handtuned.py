"""The hand-tuned limit: a minimal loop written only for speed, with the same rules and the same guarantee.

``consume(num_messages=10000)`` with ``fetch.queue.backoff.ms=10``, the fastest decode at hand (msgspec, else
json), the same :class:`KioskValidator` on the decoded dict, then one transaction per batch: binary
COPY into the two tables and the rejects table, and the next offsets upserted in the same transaction (and read
back on assignment). Stages run one after another: no overlap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import confluent_kafka as ck
import psycopg

from lmnh_pipes import Meta, Record, decode_object
from lmnh_pipes_kiosk import KioskValidator

from .context import GROUP_SETTINGS, Context
from .data import CATALOGUE, count_rows, reset_tables
from .kiosk_rows import COPY, TYPES, exhibition_ids
from .measure import Sample

__all__ = ["decoder", "run_handtuned"]

BATCH: Final = 10_000
_PIPELINE: Final = "handtuned"
_UPSERT: Final = (
    "INSERT INTO lmnh_pipes_offsets (pipeline, topic, partition, next_offset) "
    "SELECT %s, t, p, n FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS u(t, p, n) "
    "ON CONFLICT (pipeline, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()"
)


def decoder() -> tuple[str, Callable[[bytes], Any]]:
    """The fastest JSON decoder installed: msgspec (the ``bench`` extra), else the standard library's."""
    try:
        import msgspec
    except ImportError:
        import json

        return "json", json.loads
    return "msgspec", msgspec.json.Decoder().decode


def run_handtuned(ctx: Context, *, strict: bool = False) -> Sample:
    """Consume every message of the topic in batches and load each batch with COPY, offsets in its transaction.
    ``strict``: decode with lmnh-pipes' strict JSON decoding (repeated keys refused), which msgspec alone is not."""
    reset_tables(ctx.servers.dsn)
    n = ctx.topic.size
    decode = decode_object if strict else decoder()[1]
    assigned: list[float] = []
    started = time.perf_counter()
    with ctx.measure() as timing:
        validator = KioskValidator(catalogue=str(CATALOGUE))
        validator.open()
        exhibitions = exhibition_ids(ctx.servers.dsn)
        with psycopg.connect(ctx.servers.dsn) as db:
            consumer = _consumer(ctx, db, assigned)
            try:
                done = 0
                while done < n:
                    messages = consumer.consume(num_messages=BATCH, timeout=0.1)
                    if messages:
                        done += _load(db, validator, decode, exhibitions, messages)
            finally:
                consumer.close()
    extra = {"join_s": assigned[0] - started} if assigned else {}
    return Sample(count=n, timing=timing, got=count_rows(ctx.servers.dsn), want=ctx.topic.truth, extra=extra)


def _consumer(ctx: Context, db: psycopg.Connection[Any], assigned: list[float]) -> ck.Consumer:
    consumer = ck.Consumer(
        {
            "bootstrap.servers": ctx.servers.bootstrap,
            "group.id": ctx.fresh("handtuned"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 10,
            **GROUP_SETTINGS,
        }
    )

    def on_assign(c: ck.Consumer, partitions: list[ck.TopicPartition]) -> None:
        assigned.append(time.perf_counter())
        rows = db.execute(
            "SELECT topic, partition, next_offset FROM lmnh_pipes_offsets WHERE pipeline = %s", (_PIPELINE,)
        ).fetchall()
        db.commit()
        stored = {(t, p): o for t, p, o in rows}
        for tp in partitions:
            tp.offset = stored.get((tp.topic, tp.partition), tp.offset)
        c.assign(partitions)

    consumer.subscribe([ctx.topic.name], on_assign=on_assign)
    return consumer


def _load(
    db: psycopg.Connection[Any],
    validator: KioskValidator,
    decode: Callable[[bytes], Any],
    exhibitions: dict[str, int],
    messages: list[ck.Message],
) -> int:
    ratings: list[tuple[Any, ...]] = []
    requests: list[tuple[Any, ...]] = []
    rejects: list[tuple[Any, ...]] = []
    ends: dict[tuple[str, int], int] = {}
    validate = validator.validate
    count = 0
    for m in messages:
        if m.error() is not None:
            continue
        count += 1
        raw = m.value() or b""
        topic, partition, offset = m.topic() or "", m.partition() or 0, m.offset() or 0
        ends[(topic, partition)] = offset + 1
        try:
            value = decode(raw)
        except ValueError as exc:  # msgspec.DecodeError is a ValueError
            rejects.append((topic, partition, offset, "json", "json", str(exc), raw))
            continue
        r = validate(Record(value=value, raw=raw, meta=Meta(topic=topic, partition=partition, offset=offset)))
        if r.reject is not None:
            rejects.append((topic, partition, offset, r.reject.validator, r.reject.rule, r.reject.reason, raw))
            continue
        v = r.value
        if v["type"] is None:
            ratings.append((exhibitions[v["exhibition"]], v["val"], v["at"]))
        else:
            requests.append((exhibitions[v["exhibition"]], v["type"], v["at"]))
    with db.transaction(), db.cursor() as cur:
        for statement, types, rows in zip(COPY, TYPES, (ratings, requests, rejects), strict=True):
            if rows:
                with cur.copy(statement) as copy:
                    copy.set_types(types)
                    for row in rows:
                        copy.write_row(row)
        cur.execute(
            _UPSERT,
            (_PIPELINE, [t for t, _ in ends], [p for _, p in ends], list(ends.values())),
        )
    return count
