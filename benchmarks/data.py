"""What every variant reads and writes: the simulated kiosk topic with its truth, and the museum's tables.

The topic holds ``n`` messages from :class:`~lmnh_pipes_kiosk.KioskSimulator` (clock ``day``, so the truth is
exact), produced round-robin over three partitions: message ``i`` is at partition ``i % 3``, offset ``i // 3``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final

import attrs
import confluent_kafka as ck
import psycopg
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # re-exported without __all__

from lmnh_pipes_kiosk import KioskSimulator
from tests.plugins.postgres.kiosk_db import exhibition_rows

__all__ = [
    "CATALOGUE",
    "PARTITIONS",
    "Counts",
    "Topic",
    "count_rows",
    "create_schema",
    "fill_topic",
    "reset_tables",
]

ROOT: Final = Path(__file__).resolve().parents[1]
CATALOGUE: Final = ROOT / "examples" / "lmnh" / "exhibitions"
SCHEMA: Final = ROOT / "examples" / "lmnh" / "schema.sql"
#: The topic's partitions unless ``--partitions`` says otherwise.
PARTITIONS: Final = 3
RATING, REQUEST, REJECT = 0, 1, 2
_KIND: Final = {"rating": RATING, "request": REQUEST}
#: Simulated days this dense keep even tens of millions of messages in the past, so rule 8 ("future") is exact.
MESSAGES_PER_DAY: Final = 20_000
SEED: Final = 2024

OFFSETS_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS lmnh_pipes_offsets (pipeline text NOT NULL, topic text NOT NULL,"
    " partition integer NOT NULL, next_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (pipeline, topic, partition))"
)


@attrs.frozen
class Counts:
    """Rows in the ratings, requests and rejects tables (or what they must be)."""

    ratings: int = 0
    requests: int = 0
    rejects: int = 0

    @property
    def total(self) -> int:
        return self.ratings + self.requests + self.rejects

    def __str__(self) -> str:
        return f"{self.ratings:,} ratings, {self.requests:,} requests, {self.rejects:,} rejects"


@attrs.frozen
class Topic:
    """The filled topic: its name, its messages' raw bytes and each message's expected kind."""

    name: str
    raws: Sequence[bytes] = attrs.field(repr=False)
    kinds: bytes = attrs.field(repr=False)  # RATING, REQUEST or REJECT for message i
    produce_seconds: float = 0.0
    partitions: int = PARTITIONS  # message i is at partition i % partitions, offset i // partitions

    @property
    def size(self) -> int:
        return len(self.raws)

    @property
    def truth(self) -> Counts:
        """What the tables must hold once every message was processed."""
        return Counts(self.kinds.count(RATING), self.kinds.count(REQUEST), self.kinds.count(REJECT))

    def partition_sizes(self) -> dict[int, int]:
        """Messages per partition."""
        return {p: len(range(p, self.size, self.partitions)) for p in range(self.partitions)}

    def truth_of_prefixes(self, consumed: Mapping[int, int]) -> Counts:
        """The truth of the first ``consumed[p]`` messages of each partition ``p`` (a capped run's share)."""
        picked = bytearray()
        for p, n in consumed.items():
            picked += self.kinds[p : p + self.partitions * n : self.partitions]
        return Counts(picked.count(RATING), picked.count(REQUEST), picked.count(REJECT))


def simulate(n: int) -> tuple[list[bytes], bytes]:
    """``n`` simulated messages and each one's expected kind."""
    raws: list[bytes] = []
    kinds = bytearray()
    for m in KioskSimulator(seed=SEED, clock="day", messages_per_day=MESSAGES_PER_DAY).generate(n):
        raws.append(m.raw)
        kinds.append(_KIND.get(m.expected, REJECT))
    return raws, bytes(kinds)


def fill_topic(bootstrap: str, name: str, n: int, partitions: int = PARTITIONS) -> Topic:
    """Create a topic of ``partitions`` partitions and produce ``n`` simulated messages to it, round-robin; return
    it with its truth."""
    raws, kinds = simulate(n)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).values():
        future.result(timeout=10)
    started = time.perf_counter()
    _produce(bootstrap, name, raws, partitions)
    return Topic(
        name=name, raws=raws, kinds=kinds, produce_seconds=time.perf_counter() - started, partitions=partitions
    )


def _produce(bootstrap: str, topic: str, raws: Iterable[bytes], partitions: int) -> None:
    failed: list[str] = []

    def delivered(err: ck.KafkaError | None, _msg: ck.Message) -> None:
        if err is not None:
            failed.append(str(err))

    producer = ck.Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "batch.num.messages": 10_000,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 500_000,
            "delivery.report.only.error": True,
            "on_delivery": delivered,
        }
    )
    produce = producer.produce
    for i, raw in enumerate(raws):
        try:
            produce(topic, raw, partition=i % partitions)
        except BufferError:
            producer.flush(10)
            produce(topic, raw, partition=i % partitions)
    left = producer.flush(120)
    if left or failed:
        raise RuntimeError(f"producing failed: {left} undelivered, {len(failed)} errors {failed[:3]}")


def create_schema(dsn: str) -> None:
    """The museum's tables (examples/lmnh/schema.sql), the six exhibitions, and the offsets table."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA.read_text().encode())
        conn.execute(OFFSETS_DDL.encode())
        for row in exhibition_rows():
            conn.execute("INSERT INTO exhibition_file VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", row)


def reset_tables(dsn: str) -> None:
    """Empty the interaction, rejects and offsets tables, and checkpoint, so every run starts alike."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE rating_interaction, request_interaction, kiosk_reject, lmnh_pipes_offsets RESTART IDENTITY"
        )
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):  # a server that is not ours
            conn.execute("CHECKPOINT")


def count_rows(dsn: str) -> Counts:
    """What the ratings, requests and rejects tables hold now."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM rating_interaction), (SELECT count(*) FROM request_interaction),"
            " (SELECT count(*) FROM kiosk_reject)"
        ).fetchone()
    assert row is not None
    return Counts(int(row[0]), int(row[1]), int(row[2]))
