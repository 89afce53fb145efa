"""``KafkaSource.read`` looks each partition's state up once per run of its messages: interleaved partitions, a
partition that is not (or no longer) assigned, and messages delivered again after a rebalance restarted a partition.

The broker's side of this is tested against Tansu (test_kafka_broker.py, test_group_processes.py); here a stand-in
consumer hands ``read`` exactly the message sequences those cases produce, which a real broker gives only by chance.
"""

from __future__ import annotations

from typing import Any

import attrs
import confluent_kafka as ck

from lmnh_pipes_kafka import KafkaSource


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
