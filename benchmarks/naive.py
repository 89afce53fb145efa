"""The naive baseline: the loop most hand-written consumers are.

``poll(1.0)`` one message at a time, ``json.loads``, the kiosk rules (the same :class:`KioskValidator`, given the
decoded dict), one ``INSERT`` and one ``COMMIT`` per message, and auto-committed offsets: at least once, not
exactly once. It runs on a capped count (``--cap``), since a million messages would take about ten minutes.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final

import confluent_kafka as ck
import psycopg

from lmnh_pipes import Meta, Record
from lmnh_pipes_kiosk import KioskValidator

from .context import GROUP_SETTINGS, Context
from .data import CATALOGUE, count_rows, reset_tables
from .measure import Sample

__all__ = ["run_naive"]

_RATING: Final = (
    "INSERT INTO rating_interaction (exhibition_id, rating_id, event_at) "
    "VALUES ((SELECT exhibition_id FROM exhibition WHERE exhibition_public_id = %s), %s, %s)"
)
_REQUEST: Final = (
    "INSERT INTO request_interaction (exhibition_id, request_id, event_at) "
    "VALUES ((SELECT exhibition_id FROM exhibition WHERE exhibition_public_id = %s), %s, %s)"
)
_REJECT: Final = (
    'INSERT INTO kiosk_reject (topic, "partition", "offset", validator, rule, reason, raw) '
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


def run_naive(ctx: Context) -> Sample:
    """Consume, check and insert the first ``ctx.capped`` messages one by one."""
    reset_tables(ctx.servers.dsn)
    n = ctx.capped
    consumed: dict[int, int] = {}
    validator = KioskValidator(catalogue=str(CATALOGUE))
    assigned: list[float] = []
    started = time.perf_counter()
    with ctx.measure() as timing:
        validator.open()
        consumer = ck.Consumer(
            {
                "bootstrap.servers": ctx.servers.bootstrap,
                "group.id": ctx.fresh("naive"),
                "auto.offset.reset": "earliest",
                "enable.auto.commit": True,
                **GROUP_SETTINGS,
            }
        )
        # The callback only notes the time of the group join; the client then assigns as without it.
        consumer.subscribe([ctx.topic.name], on_assign=lambda _c, _p: assigned.append(time.perf_counter()))
        try:
            with psycopg.connect(ctx.servers.dsn) as db:
                done = 0
                while done < n:
                    msg = consumer.poll(1.0)
                    if msg is None or msg.error() is not None:
                        continue
                    _handle(db, validator, msg)
                    db.commit()
                    partition = msg.partition()
                    assert partition is not None
                    consumed[partition] = consumed.get(partition, 0) + 1
                    done += 1
        finally:
            consumer.close()
    return Sample(
        count=n,
        timing=timing,
        got=count_rows(ctx.servers.dsn),
        want=ctx.topic.truth_of_prefixes(consumed),
        extra={"join_s": assigned[0] - started} if assigned else {},
    )


def _handle(db: psycopg.Connection[Any], validator: KioskValidator, msg: ck.Message) -> None:
    raw = msg.value() or b""
    topic, partition, offset = msg.topic() or "", msg.partition() or 0, msg.offset() or 0
    try:
        value: Any = json.loads(raw)
    except ValueError as exc:
        db.execute(_REJECT, (topic, partition, offset, "json", "json", str(exc), raw))
        return
    record = validator.validate(
        Record(value=value, raw=raw, meta=Meta(source="kafka", topic=topic, partition=partition, offset=offset))
    )
    if record.reject is not None:
        r = record.reject
        db.execute(_REJECT, (topic, partition, offset, r.validator, r.rule, r.reason, raw))
    elif record.value["kind"] == "rating":
        v = record.value
        db.execute(_RATING, (v["exhibition"], v["val"], v["at"]))
    else:
        v = record.value
        db.execute(_REQUEST, (v["exhibition"], v["type"], v["at"]))
