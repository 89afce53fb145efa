"""The ``kafka`` sink under delivery failures, with a stand-in producer that fails or delays exactly the messages
asked: a retried batch produces only what was neither delivered nor still on its way, a message that can never be
delivered is refused, and a topic the sink may not write stops the run.

The errors are built as the client builds its delivery errors: by code, with ``retriable()`` false even for a
timeout. The broker's side (a message larger than message.max.bytes) is tested against Tansu in
test_kafka_broker.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import confluent_kafka as ck
import pytest

from lmnh_pipes import Record, RecordRejectedError, RunError, TransientError
from lmnh_pipes_kafka import KafkaSink


@attrs.define
class Producer:
    """At each flush, reports each message delivered, except the values in ``fail`` (reported with that error)
    and in ``late`` (not reported at this flush, but at the next one); each only once."""

    fail: dict[bytes, ck.KafkaError] = attrs.field(factory=dict)
    late: set[bytes] = attrs.field(factory=set)
    produced: list[bytes] = attrs.field(factory=list)
    _pending: list[tuple[bytes, Callable[..., None]]] = attrs.field(factory=list)

    def produce(
        self,
        topic: str,
        value: bytes,
        key: Any,
        headers: Any,
        on_delivery: Callable[..., None],
        partition: int = -1,
        timestamp: int = 0,
    ) -> None:
        self.produced.append(value)
        self._pending.append((value, on_delivery))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        pending, self._pending = self._pending, []
        for value, on_delivery in pending:
            if value in self.late:
                self.late.discard(value)
                self._pending.append((value, on_delivery))
                continue
            on_delivery(self.fail.pop(value, None), None)
        return len(self._pending)


def sink_with(producer: Producer) -> KafkaSink:
    sink = KafkaSink(bootstrap_servers="localhost:9", topic="t", value="raw")
    sink._producer = producer  # type: ignore[assignment] # a stand-in
    return sink


def records(*values: bytes) -> list[Record]:
    return [Record(value=None, raw=v) for v in values]


def test_a_retried_batch_produces_only_what_was_not_delivered():
    producer = Producer(fail={b"b": ck.KafkaError(ck.KafkaError._MSG_TIMED_OUT, "Local: Message timed out")})
    sink = sink_with(producer)
    batch = records(b"a", b"b", b"c")
    with pytest.raises(TransientError, match="timed out"):
        sink.write(batch)
    sink.write(batch)  # the run's retry: the same records
    assert producer.produced == [b"a", b"b", b"c", b"b"]
    sink.write(records(b"a"))  # a new batch, even with an equal value, is produced
    assert producer.produced[-1:] == [b"a"]


def test_a_message_still_on_its_way_is_not_produced_again():
    producer = Producer(late={b"b"})
    sink = sink_with(producer)
    batch = records(b"a", b"b")
    with pytest.raises(TransientError, match="1 messages not delivered"):
        sink.write(batch)
    sink.write(batch)  # b is reported delivered at this flush
    assert producer.produced == [b"a", b"b"]


def test_a_message_that_can_never_be_delivered_is_refused_and_the_rest_kept():
    producer = Producer(fail={b"big": ck.KafkaError(ck.KafkaError.MSG_SIZE_TOO_LARGE, "Message size too large")})
    sink = sink_with(producer)
    batch = records(b"a", b"big", b"c")
    with pytest.raises(RecordRejectedError) as refused:
        sink.write(batch)
    assert [(r.raw, reason) for r, reason in refused.value.records] == [(b"big", "kafka: Message size too large")]
    sink.write([batch[0], batch[2]])  # the run writes the rest again: already delivered
    assert producer.produced == [b"a", b"big", b"c"]


def test_a_topic_the_sink_may_not_write_stops_the_run():
    denied = ck.KafkaError(ck.KafkaError.TOPIC_AUTHORIZATION_FAILED, "Broker: Topic authorization failed")
    sink = sink_with(Producer(fail={b"a": denied}))
    with pytest.raises(RunError, match="Topic authorization failed"):
        sink.write(records(b"a", b"b"))
