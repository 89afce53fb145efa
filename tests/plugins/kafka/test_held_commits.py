"""``KafkaSource.hold_commits``: with a sink durable only at close, nothing is committed until the run releases
it, not even on a rebalance; a partition that comes back resumes where this member left it.

The end-to-end case (a SIGKILL with a ``.bz2`` sink, against Tansu) is in test_kafka_cli.py; here a stand-in
consumer makes the rebalance happen exactly between two reads.
"""

from __future__ import annotations

from typing import Any

import attrs
import confluent_kafka as ck

from tests.plugins.kafka.test_read_runs import Batches, Message, source_with


@attrs.define
class Assigning(Batches):
    """Also keeps what it is asked to assign."""

    assigned: list[dict[int, int]] = attrs.field(factory=list)

    def assign(self, partitions: list[ck.TopicPartition]) -> None:
        self.assigned.append({tp.partition: tp.offset for tp in partitions})


def held_source(batches: list[list[tuple[int, int]]]) -> tuple[Any, Assigning]:
    source = source_with([], assigned=[0, 1])
    consumer = Assigning([[Message("t", p, o) for p, o in batch] for batch in batches])
    source._consumer = consumer
    source.hold_commits()
    return source, consumer


def partitions(*numbers: int) -> list[ck.TopicPartition]:
    return [ck.TopicPartition("t", n) for n in numbers]


def test_nothing_is_committed_while_held_not_even_on_a_revoke():
    source, consumer = held_source([[(0, 0), (0, 1), (1, 0)]])
    source.ack(source.read(100, 0.1))
    source._on_revoke(consumer, partitions(0, 1))
    assert consumer.commits == []


def test_a_partition_that_comes_back_resumes_where_this_member_left_it():
    source, consumer = held_source([[(0, 0), (0, 1), (0, 2), (1, 0)], [(0, 3)]])
    source.ack(source.read(100, 0.1))
    source._on_revoke(consumer, partitions(0, 1))
    # Partition 0 comes back, with partition 2 that this member never had: 2 starts at the group's commit.
    source._on_assign(consumer, partitions(0, 2))
    assert consumer.assigned == [{0: 3, 2: ck.OFFSET_INVALID}]
    source.ack(source.read(100, 0.1))
    assert consumer.commits == []
    source.release_commits()
    assert consumer.commits == [{0: 4}]


def test_without_a_hold_a_revoke_commits_and_an_assignment_is_left_to_the_client():
    source = source_with([[(0, 0), (0, 1)]], assigned=[0])
    consumer = Assigning([[Message("t", 0, 0), Message("t", 0, 1)]])
    source._consumer = consumer
    source.ack(source.read(100, 0.1))
    source._on_revoke(consumer, partitions(0))
    # After the ack, asynchronously; at the revoke, synchronously again (the stand-in confirms no commit).
    assert consumer.commits == [{0: 2}, {0: 2}]
    source._on_assign(consumer, partitions(0))
    assert consumer.assigned == []
