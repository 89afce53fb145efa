"""The pipeline's stages alone: consume (Kafka -> discard), decode and validate (in memory), and COPY (the
``postgres`` sink's exactly-once ``write_batch`` of records validated beforehand)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import confluent_kafka as ck

from lmnh_pipes import Meta, Record, Validator, validate_all
from lmnh_pipes_kiosk import KioskValidator
from lmnh_pipes_postgres import PostgresSink
from lmnh_pipes_rules import JsonValidator
from tests.plugins.postgres.kiosk_db import TABLES

from .context import Context
from .data import CATALOGUE, Counts, count_rows, reset_tables
from .measure import Sample

__all__ = ["ROUTED_TABLES", "open_sinks", "run_consume", "run_copy", "run_validate", "validated_records"]

BATCH: Final = 5000  # the pipeline's batch.max_records

#: The sink's routing, as in examples/lmnh/pipeline.yaml (and the PostgreSQL tests).
ROUTED_TABLES: Final[dict[str, Any]] = TABLES


def run_consume(ctx: Context) -> Sample:
    """Read every message of the topic and discard it: ``consume(10000)``, ``fetch.queue.backoff.ms=10``, the
    partitions assigned directly (no group join)."""
    n = ctx.topic.size
    with ctx.measure() as timing:
        consumer = ck.Consumer(
            {
                "bootstrap.servers": ctx.servers.bootstrap,
                "group.id": ctx.fresh("consume"),
                "enable.auto.commit": False,
                "fetch.queue.backoff.ms": 10,
            }
        )
        partitions = range(ctx.topic.partitions)
        consumer.assign([ck.TopicPartition(ctx.topic.name, p, ck.OFFSET_BEGINNING) for p in partitions])
        count = 0
        try:
            while count < n:
                count += sum(1 for m in consumer.consume(num_messages=10_000, timeout=0.1) if m.error() is None)
        finally:
            consumer.close()
    return Sample(count=n, timing=timing, got=Counts(rejects=count), want=Counts(rejects=n))


def _records(ctx: Context) -> list[Record]:
    parts = ctx.topic.partitions
    return [
        Record(raw=raw, meta=Meta(source="kafka", topic=ctx.topic.name, partition=i % parts, offset=i // parts))
        for i, raw in enumerate(ctx.topic.raws)
    ]


def _outcome(done: Sequence[Record]) -> Counts:
    ratings = requests = rejects = 0
    for r in done:
        if r.reject is not None:
            rejects += 1
        elif r.value["kind"] == "rating":
            ratings += 1
        else:
            requests += 1
    return Counts(ratings, requests, rejects)


def _validators(json_validator: bool) -> list[Validator]:
    kiosk = KioskValidator(catalogue=str(CATALOGUE))
    kiosk.open()
    return [JsonValidator(), kiosk] if json_validator else [kiosk]


def run_validate(ctx: Context, *, json_validator: bool) -> Sample:
    """Validate every message in memory (records built beforehand, as the kafka source gives them): the ``kiosk``
    validator alone on the raw bytes, or ``json`` then ``kiosk`` as the benchmarked pipeline does."""
    records = _records(ctx)
    validators = _validators(json_validator)
    if json_validator:
        with ctx.measure() as timing:
            done = validate_all(validators, records)
    else:
        validate = validators[0].validate
        with ctx.measure() as timing:
            done = [validate(r) for r in records]
    return Sample(count=len(records), timing=timing, got=_outcome(done), want=ctx.topic.truth)


def validated_records(ctx: Context) -> list[Record]:
    """Every message validated (``json`` then ``kiosk``), once per invocation."""
    cached = ctx.cache.get("validated")
    if cached is None:
        validators = _validators(True)
        # Not frozen out of the collector here: every measurement freezes what exists when it starts (Context.measure),
        # which a freeze of the harness's own would prevent (interpreter_tuned leaves a host's freeze alone).
        cached = ctx.cache["validated"] = validate_all(validators, _records(ctx))
    return list(cached)


@contextmanager
def open_sinks(dsn: str) -> Iterator[tuple[PostgresSink, PostgresSink]]:
    """The pipeline's two ``postgres`` sinks, opened: the routed tables, and ``kiosk_reject``."""
    sink = PostgresSink(dsn=dsn, route="kind", tables=ROUTED_TABLES)
    rejects = PostgresSink(dsn=dsn, table="kiosk_reject")
    sink.open()
    try:
        rejects.open()
        try:
            yield sink, rejects
        finally:
            rejects.close()
    finally:
        sink.close()


def run_copy(ctx: Context) -> Sample:
    """Write every validated record as the pipeline does: ``write_batch`` per 5,000 records (binary COPY of the
    accepted ones into their tables and of the rejected ones into ``kiosk_reject``, and the offsets, in one
    transaction)."""
    done = validated_records(ctx)
    reset_tables(ctx.servers.dsn)
    with open_sinks(ctx.servers.dsn) as (sink, rejects):
        assert sink.joins(rejects)
        name = ctx.fresh("copy")
        with ctx.measure() as timing:
            for start in range(0, len(done), BATCH):
                batch = done[start : start + BATCH]
                accepted = [r for r in batch if r.reject is None]
                rejected = [r for r in batch if r.reject is not None]
                sink.write_batch(name, accepted, rejected, rejects)
    return Sample(count=len(done), timing=timing, got=count_rows(ctx.servers.dsn), want=ctx.topic.truth)
