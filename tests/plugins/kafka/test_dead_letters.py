"""A dead-letter topic keeps each reject exactly: value, key, timestamp and ``lmnh.*`` headers, read back by Tansu."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import attrs
import confluent_kafka as ck
import pytest

from lmnh_pipes import Meta, Pipeline, Record, RunError, Sink
from lmnh_pipes.conformance import conformance_problems
from lmnh_pipes.delivery import ReplayableSource
from lmnh_pipes.replay import ReplayMode, ReplayReport, Selection, plan_replay, replay
from lmnh_pipes.replaying import RejectStore, Settlement, StoredReject
from lmnh_pipes.testing import ListSink, ListSource
from lmnh_pipes_kafka import KafkaSink, KafkaSource
from lmnh_pipes_kafka.messages import key_text, millis, stored_record
from lmnh_pipes_postgres import PostgresSink
from lmnh_pipes_rules import JsonValidator
from tests.fixtures.kafka import FAST_GROUP
from tests.plugins.kafka.test_kafka_broker import consume_all
from tests.plugins.kafka.test_kafka_cli import committed

#: Rejects as sources give them: a key that is text, one that is not UTF-8, an empty one and none; a timestamp with
#: an offset and microseconds, one in UTC, and none.
REJECTS = [
    Record(
        raw=b"\xd0\x00 not json\r\n",
        meta=Meta(
            source="kafka",
            topic="kiosk",
            partition=2,
            offset=41,
            key="EXH_03",
            timestamp=datetime(2024, 10, 21, 9, 21, 24, 254719, tzinfo=timezone(timedelta(hours=1))),
        ),
    ).rejected_by("json", "not valid JSON: \udcd0 at 0", "json"),
    Record(
        raw=b"\\",
        meta=Meta(source="kafka", topic="kiosk", partition=0, offset=7, key=b"\xff\xfe", timestamp=datetime.now(UTC)),
    ).rejected_by("kiosk", "exhibition EXH_09 is not in the catalogue", "exhibition"),
    Record(raw=b"", meta=Meta(source="file", topic="in/presses.txt", offset=3, key="")).rejected_by("json", "empty"),
    Record(raw=b"{}", meta=Meta(source="file", topic="in/presses.txt", offset=4)).rejected_by("kiosk", "no site"),
]


@pytest.mark.parametrize("key", [None, "site"])
def test_a_reject_is_its_raw_bytes_key_and_timestamp_with_its_reasons_in_headers(tansu, topic_name, key):
    # With `key` set, messages are keyed by that field, and the original key travels in a header instead.
    tansu.create_topic(topic_name, partitions=1)  # one partition: the messages in the order written
    sink = KafkaSink(bootstrap_servers=tansu.bootstrap, topic=topic_name, value="json", key=key)
    sink.open()
    try:
        sink.write(REJECTS)
    finally:
        sink.close()
    messages = sorted(consume_all(tansu, topic_name, len(REJECTS)), key=lambda m: m.offset())
    for message, record in zip(messages, REJECTS, strict=True):
        headers = dict(message.headers())
        assert message.value() == record.raw  # the bytes, even with value: json
        original_key = record.meta.key.encode() if isinstance(record.meta.key, str) else record.meta.key
        if key is None:
            assert message.key() == original_key
            assert "lmnh.key" not in headers
        else:
            assert message.key() is None  # the records have no decoded value: no field `site`
            assert headers["lmnh.key"] == original_key
        if record.meta.timestamp is None:
            assert headers["lmnh.timestamp"] == b""
        else:
            assert message.timestamp()[1] == millis(record.meta.timestamp)
            assert headers["lmnh.timestamp"] == record.meta.timestamp.isoformat().encode()
        assert headers["lmnh.validator"] == record.reject.validator.encode()
        assert headers["lmnh.rule"] == record.reject.rule.encode()
        assert (headers["lmnh.topic"], headers["lmnh.partition"], headers["lmnh.offset"]) == (
            record.meta.topic.encode(),
            str(record.meta.partition).encode(),
            str(record.meta.offset).encode(),
        )
        assert headers["lmnh.replays"] == b"0"
        # Read back, the message is the record that was written, byte for byte (a reason holding a lone surrogate,
        # which is not text, keeps it as an escape).
        back = stored_record(message, headers)
        assert back.meta == record.meta
        assert back.raw == record.raw
        reason = record.reject.reason.encode("utf-8", "backslashreplace").decode()
        assert back.reject == attrs.evolve(record.reject, reason=reason)
    first = messages[0]
    assert first.timestamp()[1] == 1729498884254  # 2024-10-21T08:21:24.254Z


# -- the dead-letter topic as a store of rejects, read and settled by a replay --

#: Bytes that a rejects store must give back exactly: not UTF-8, NUL and other control bytes, a literal \xd0 and the
#: byte itself, a backslash at the end, CRLF, nothing, and 1 MB (more than librdkafka's default message.max.bytes).
HOSTILE = [
    b"\xff\xfe\xfd not UTF-8",
    b"NUL \x00 and \x01\x07\x1b\x7f",
    b"a literal \\xd0",
    b"\xd0",
    b"ends in a backslash \\",
    b"CRLF\r\nline\r\n",
    b"",
    bytes(range(256)) * 4096,
]
KEYS = [b"\xff", b"", None, b"k\x00\r\n", b"EXH_03", None, b"\\", b"big"]
#: Room for a 1 MB value and its headers, in the producers (the broker, Tansu, takes up to 20 MB).
LARGE = {"message.max.bytes": 2 << 20}


def produce_messages(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes | None, int]]) -> None:
    """Produce (value, key, timestamp in ms) round-robin over two partitions."""
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **LARGE})
    for i, (value, key, ts) in enumerate(messages):
        producer.produce(topic, value=value, key=key, timestamp=ts, partition=i % 2)
    assert producer.flush(30) == 0


def dead_letters(tansu, topic: str) -> KafkaSink:
    return KafkaSink(bootstrap_servers=tansu.bootstrap, topic=topic, replay_idle=1.0, options=dict(LARGE))


def test_hostile_bytes_come_back_from_the_dead_letter_topic_byte_identical(tansu, topic_name):
    dlq = f"{topic_name}-dlq"
    tansu.create_topic(topic_name, partitions=2)
    tansu.create_topic(dlq, partitions=2)
    stamps = [1_700_000_000_000 + 1000 * i + i for i in range(len(HOSTILE))]
    produce_messages(tansu.bootstrap, topic_name, list(zip(HOSTILE, KEYS, stamps, strict=True)))
    group = dict(FAST_GROUP)  # a session of 2 s makes Tansu's JoinGroup wait 1 s
    source = KafkaSource(bootstrap_servers=tansu.bootstrap, topic=topic_name, group_id=f"g-{topic_name}", options=group)
    report = Pipeline(
        source=source, validators=[JsonValidator()], sink=ListSink(), rejects=dead_letters(tansu, dlq)
    ).run(limit=len(HOSTILE), idle_timeout=30)
    assert report.rejected == len(HOSTILE)
    stored = list(dead_letters(tansu, dlq).stored_rejects())
    assert len(stored) == len(HOSTILE)
    by_raw = {s.record.raw: s for s in stored}
    assert set(by_raw) == set(HOSTILE)
    for i, (raw, key, stamp) in enumerate(zip(HOSTILE, KEYS, stamps, strict=True)):
        s = by_raw[raw]
        meta = s.record.meta
        assert (meta.source, meta.topic, meta.partition, meta.offset) == ("kafka", topic_name, i % 2, i // 2)
        assert meta.key == key_text(key)
        assert meta.timestamp == datetime.fromtimestamp(stamp / 1000, UTC)
        assert (s.record.reject.validator, s.record.reject.rule, s.record.reject.replays) == ("json", "json", 0)
        assert s.duplicate is False
        assert s.handle[0] == dlq


@attrs.define
class Museum:
    """Refuses presses of an exhibition not ``opened`` yet (rule ``late``), and bad presses (rule ``other``)."""

    opened: bool = False
    name: str = "museum"

    def validate(self, record: Record) -> Record:
        if record.raw.startswith(b"bad"):
            return record.rejected_by(self.name, "a bad press", "other")
        if record.raw.startswith(b"late") and not self.opened:
            return record.rejected_by(self.name, "the exhibition is not in the catalogue", "late")
        return record


@attrs.define
class MemorySink:
    """A sink that writes replayed rows and the store's positions in one (in-memory) transaction, like PostgresSink;
    the ``fail_at``-th replayed batch fails as a crash would, after the store settled it."""

    rows: list[bytes] = attrs.field(factory=list)
    positions: dict[tuple[str, str, int], int] = attrs.field(factory=dict)
    fail_at: int | None = None
    batches: int = 0
    #: How many copies the store had produced for the batch that failed.
    orphans: int = 0

    def write(self, records: Sequence[Record]) -> None:
        self.rows += [r.raw for r in records]

    def joins_replay(self, store: object) -> bool:
        return False

    def write_replayed(self, pipeline: str, accepted: Sequence[Record], settlement: Settlement, store: object) -> int:
        self.batches += 1
        if self.batches == self.fail_at:
            self.orphans = len(settlement.rejected) + len(settlement.passed)
            raise RunError("killed between settling and committing")
        self.rows += [r.raw for r in accepted]
        self.positions.update({(pipeline, t, p): o for (t, p), o in settlement.positions.items()})
        return len(accepted)

    def stored_positions(self, pipeline: str, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return {(t, p): self.positions[(pipeline, t, p)] for t, p in partitions if (pipeline, t, p) in self.positions}


PRESSES = [b"late %d" % i if i % 3 else b"bad %d" % i for i in range(60)]


def fill_dead_letters(tansu, topic: str) -> KafkaSink:
    """A dead-letter topic of two partitions holding PRESSES, all refused (the exhibition is not open yet)."""
    dlq = f"{topic}-dlq"
    tansu.create_topic(dlq, partitions=2)
    museum = Museum()
    # Each keyed by its kiosk, so that both partitions hold some (an unkeyed batch may go to one partition).
    rejects = [
        museum.validate(Record(raw=p, meta=Meta(source="list", topic="presses", offset=i, key=f"kiosk-{i % 7}")))
        for i, p in enumerate(PRESSES)
    ]
    store = dead_letters(tansu, dlq)
    store.open()
    try:
        store.write(rejects)
    finally:
        store.close()
    return store


def replay_late(store: KafkaSink, sink: Sink, opened: bool = True) -> ReplayReport:
    return replay(
        pipeline="museum",
        source=ListSource([]),
        validators=[Museum(opened=opened)],
        sink=sink,
        store=store,
        selection=Selection(rules=frozenset({"late"})),
        batch_size=10,
    )


def live(store: KafkaSink) -> list[StoredReject]:
    """What a replay would read now (the copies it would drop left out), failing if it would drop any."""
    stored = list(store.stored_rejects())
    assert not [s for s in stored if s.duplicate], "copies of a crashed replay are still past the position"
    return stored


@pytest.mark.parametrize("opened", [False, True], ids=["still-refused", "accepted"])
def test_a_replay_that_crashed_after_settling_leaves_copies_that_the_next_one_drops(tansu, topic_name, opened):
    # The first replay dies in its third batch, after producing its copies (the presses passed over, and, with the
    # exhibition still closed, the late ones refused again, counting one replay more) and before its sink stored the
    # position. The next one reads those batches' originals again, then meets the copies: it must drop them, or the
    # late presses among them would be written twice.
    store = fill_dead_letters(tansu, topic_name)
    late = [p for p in PRESSES if p.startswith(b"late")]
    sink = MemorySink(fail_at=3)
    with pytest.raises(RunError, match="killed"):
        replay_late(store, sink, opened=opened)
    assert (0 < len(sink.rows) < len(late)) if opened else not sink.rows
    sink.fail_at = None
    report = replay_late(store, sink)
    assert Counter(sink.rows) == Counter(late), "a late press was lost or written twice"
    assert report.dropped == sink.orphans > 0, "the crashed replay's copies were not all dropped"
    store.use_position_store(sink, "museum/replay")
    left = live(store)
    assert Counter(s.record.raw for s in left) == Counter(p for p in PRESSES if p.startswith(b"bad"))
    assert {(s.record.reject.rule, s.record.reject.replays) for s in left} == {("other", 0)}  # passed, unchanged
    again = replay_late(store, sink)
    assert (again.read, again.chosen, again.written, again.dropped) == (len(left), 0, 0, 0)
    assert Counter(sink.rows) == Counter(late)


def test_without_a_position_store_the_replay_group_keeps_the_position(tansu, topic_name):
    # Into a sink that stores no positions, a replay is at least once, and the replay group's offsets say where the
    # topic's rejects start. A first replay with the exhibition still closed refuses the late presses again (one
    # replay counted); the second writes them; the group's offsets never move back.
    store = fill_dead_letters(tansu, topic_name)
    first = replay_late(store, ListSink(), opened=False)
    assert first.delivery.startswith("at-least-once")
    assert (first.read, first.chosen, first.accepted, first.rejected) == (60, 40, 0, 40)
    left = live(store)
    assert Counter((s.record.raw, s.record.reject.rule, s.record.reject.replays) for s in left) == Counter(
        (p, "late", 1) if p.startswith(b"late") else (p, "other", 0) for p in PRESSES
    )
    rows = ListSink()
    second = replay_late(store, rows)
    assert Counter(r.raw for r in rows.records) == Counter(p for p in PRESSES if p.startswith(b"late"))
    assert (second.read, second.written) == (60, 40)
    group = committed(tansu.bootstrap, store.replay_group_id, store.topic, 2)
    assert min(group.values()) > 0
    assert sum(group.values()) == 60 + 60  # past the originals and the first replay's copies
    assert sorted(s.record.raw for s in live(store)) == sorted(p for p in PRESSES if p.startswith(b"bad"))
    store.settle(Settlement(positions={(store.topic, 0): 1, (store.topic, 1): 1}))
    assert committed(tansu.bootstrap, store.replay_group_id, store.topic, 2) == group


def test_the_kafka_sink_is_a_whole_reject_store_read_by_position():
    sink = KafkaSink(bootstrap_servers="localhost:9", topic="kiosk-dead")
    assert conformance_problems(sink, "sink") == []
    assert isinstance(sink, RejectStore)
    assert isinstance(sink, ReplayableSource)
    # Beside a sink that keeps positions in its rows' transaction, the topic's position is kept there.
    assert plan_replay(sink, PostgresSink(dsn="postgresql://localhost/museum", table="t")).mode is ReplayMode.POSITIONED
    assert plan_replay(sink, ListSink()).mode is ReplayMode.AT_LEAST_ONCE
    assert sink.replay_group_id == "lmnh-pipes-replay.kiosk-dead"
    assert KafkaSink(bootstrap_servers="b:1", topic="t", replay_group="mine").replay_group_id == "mine"
    with pytest.raises(ValueError, match="replay_idle must be positive"):
        KafkaSink(bootstrap_servers="b:1", topic="t", replay_idle=0)
