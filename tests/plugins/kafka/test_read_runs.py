"""``KafkaSource.read`` looks each partition's state up once per run of its messages: interleaved partitions, a
partition that is not (or no longer) assigned, and messages delivered again after a rebalance restarted a partition.

The broker's side of this is tested against Tansu (test_kafka_broker.py, test_group_processes.py); here a stand-in
consumer hands ``read`` exactly the message sequences those cases produce, which a real broker gives only by chance.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import attrs
import confluent_kafka as ck
from hypothesis import given, settings
from hypothesis import strategies as st

import lmnh_pipes_kafka.source as source_module
from lmnh_pipes_kafka import KafkaSource
from lmnh_pipes_kafka.source import acks_everything_read


@attrs.define
class Message:
    """The parts of a confluent_kafka.Message that ``read`` uses."""

    _topic: str
    _partition: int
    _offset: int

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return f"{self._partition}:{self._offset}".encode()

    def timestamp(self) -> tuple[int, int]:
        return (ck.TIMESTAMP_CREATE_TIME, 1_700_000_000_000)


@attrs.define
class Batches:
    """Hands out one prepared list of messages per ``consume`` call, and keeps the offsets it is asked to commit."""

    batches: list[list[Message]]
    commits: list[dict[int, int]] = attrs.field(factory=list)

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        return self.batches.pop(0) if self.batches else []

    def commit(self, offsets: list[ck.TopicPartition], asynchronous: bool) -> None:
        self.commits.append({tp.partition: tp.offset for tp in offsets})


def source_with(batches: list[list[tuple[int, int]]], assigned: list[int]) -> KafkaSource:
    source = KafkaSource(bootstrap_servers="localhost:9", topic="t", group_id="g")
    consumer: Any = Batches([[Message("t", p, o) for p, o in batch] for batch in batches])
    source._consumer = consumer
    source._assigned = {("t", p) for p in assigned}
    return source


def coordinates(records: Any) -> list[tuple[int, int]]:
    return [(r.meta.partition, r.meta.offset) for r in records]


def test_interleaved_partitions_are_read_in_order_and_acked_per_partition():
    messages = [(0, 10), (0, 11), (1, 5), (1, 6), (0, 12), (2, 7), (1, 7)]
    source = source_with([messages], assigned=[0, 1, 2])
    records = source.read(100, 0.1)
    assert coordinates(records) == messages
    assert records[0].meta.key == "k"
    assert records[0].raw == b"0:10"
    assert source._last_read == {("t", 0): 12, ("t", 1): 7, ("t", 2): 7}
    source.ack(records[:4])  # the first four: 0@10, 0@11, 1@5, 1@6
    source.ack(records[4:])
    assert source._consumer.commits == [{0: 12, 1: 7}, {0: 13, 1: 8, 2: 8}]  # type: ignore[union-attr] # a Batches


def test_messages_of_a_partition_not_assigned_are_dropped():
    source = source_with([[(0, 1), (3, 1), (3, 2), (0, 2)]], assigned=[0])
    records = source.read(100, 0.1)
    assert coordinates(records) == [(0, 1), (0, 2)]
    assert ("t", 3) not in source._last_read
    assert source._tracker.in_flight("t", 3) == 0


def test_messages_delivered_again_are_read_once():
    # A rebalance restarted partition 0 from its last commit: what comes again, in this batch or the next one,
    # with another partition's run in between, is not handed out twice.
    source = source_with([[(0, 1), (0, 2), (1, 1), (0, 1), (0, 2), (0, 3)], [(0, 2), (0, 3), (0, 4)]], assigned=[0, 1])
    first = source.read(100, 0.1)
    assert coordinates(first) == [(0, 1), (0, 2), (1, 1), (0, 3)]
    second = source.read(100, 0.1)
    assert coordinates(second) == [(0, 4)]
    assert source._tracker.in_flight("t", 0) == 4


def test_a_refused_assignment_stops_the_next_read_with_its_reason():
    import pytest

    from lmnh_pipes import RunError

    @attrs.define
    class Store:
        def stored_positions(self, pipeline: str, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
            return {("t", 0): 5}

    @attrs.define
    class Refusing(Batches):
        def assign(self, partitions: list[ck.TopicPartition]) -> None:
            raise ck.KafkaException(ck.KafkaError(ck.KafkaError._STATE, "use incremental_assign()"))

    source = source_with([[(0, 5)]], assigned=[])
    consumer = Refusing([])
    source._consumer = consumer  # type: ignore[assignment] # a stand-in
    source.use_position_store(Store(), "p")  # type: ignore[arg-type] # a stand-in
    source._on_assign(consumer, [ck.TopicPartition("t", 0)])  # type: ignore[arg-type] # returns: no exception
    with pytest.raises(RunError, match=r"assigning 1 partition\(s\) failed: use incremental_assign\(\)"):
        source.read(100, 0.1)


def test_acknowledging_everything_read_is_one_step():
    source = source_with([[(0, 1), (1, 4), (0, 2)], [(1, 5)]], assigned=[0, 1])
    first = source.read(100, 0.1)
    assert acks_everything_read(first, source._unacked)
    assert acks_everything_read([r.with_value({"v": 1}) for r in first], source._unacked)  # validated: same meta
    assert not acks_everything_read([attrs.evolve(r, meta=attrs.evolve(r.meta)) for r in first], source._unacked)
    assert not acks_everything_read(first[:2], source._unacked)
    assert not acks_everything_read(list(reversed(first)), source._unacked)
    source.ack(first)
    assert source._unacked == []
    second = source.read(100, 0.1)
    assert acks_everything_read(second, source._unacked)
    source.ack(second)
    assert source._consumer.commits == [{0: 3, 1: 5}, {1: 6}]  # type: ignore[union-attr] # a Batches


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), max_size=6)),
        st.tuples(st.just("ack"), st.sampled_from(["all", "prefix", "some"])),
        st.tuples(st.just("revoke"), st.integers(0, 2)),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(OPERATIONS, st.randoms(use_true_random=False))
def test_the_one_step_acknowledgement_decides_as_the_offset_by_offset_path(operations, rng):
    """Two sources given the same reads, acknowledgements and revocations, one always taking the offset-by-offset
    path: the same commit positions, the same commits."""
    fast = source_with([], assigned=[0, 1, 2])
    slow = source_with([], assigned=[0, 1, 2])
    next_offset = {0: 0, 1: 0, 2: 0}
    for op, arg in operations:
        if op == "read":
            batch = []
            for partition, run in arg:  # runs of a partition's messages, offsets increasing, some skipped
                for _ in range(run):
                    batch.append(Message("t", partition, next_offset[partition]))
                    next_offset[partition] += rng.choice([1, 1, 2])
            for s in (fast, slow):
                s._consumer.batches.append(list(batch))  # type: ignore[union-attr] # a Batches
            got = [fast.read(100, 0.1), slow.read(100, 0.1)]
            assert coordinates(got[0]) == coordinates(got[1])
        elif op == "ack":
            unacked = fast._unacked
            n = len(unacked) if arg == "all" else rng.randint(0, len(unacked))
            picked = sorted(rng.sample(range(len(unacked)), n)) if arg == "some" else range(n)
            chosen = {(unacked[i].meta.partition, unacked[i].meta.offset) for i in picked}
            # As the runner does: the validated records, new ones with the same meta.
            fast.ack([r.with_value({}) for r in fast._unacked if (r.meta.partition, r.meta.offset) in chosen])
            with patch.object(source_module, "acks_everything_read", lambda records, unacked: False):
                slow.ack([r for r in slow._unacked if (r.meta.partition, r.meta.offset) in chosen])
        else:
            for s in (fast, slow):
                s._on_revoke(s._consumer, [ck.TopicPartition("t", arg)])  # type: ignore[arg-type] # a Batches
                s._on_assign(s._consumer, [ck.TopicPartition("t", arg)])  # type: ignore[arg-type] # back again
        assert fast._tracker.positions() == slow._tracker.positions()
        assert fast._consumer.commits == slow._consumer.commits  # type: ignore[union-attr] # a Batches
        assert coordinates(fast._unacked) == coordinates(slow._unacked)
        # What the one-step path relies on: the records not yet acknowledged are exactly the offsets pending.
        parts = fast._tracker._parts.items()
        pending = sorted((p, o) for (_, p), part in parts for o in part.pending if o not in part.done)
        assert sorted(coordinates(fast._unacked)) == pending
