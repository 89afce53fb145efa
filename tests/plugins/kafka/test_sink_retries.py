"""The ``kafka`` sink under delivery failures, with a stand-in producer that fails exactly the messages asked: a
retried batch produces only what was not delivered, and a message that can never be delivered is refused.

The broker's side (a message larger than message.max.bytes) is tested against Tansu in test_kafka_broker.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import confluent_kafka as ck
import pytest

from lmnh_pipes import Record, RecordRejectedError, TransientError
from lmnh_pipes_kafka import KafkaSink


@attrs.define
class Producer:
    """Delivers each message at flush, except the values in ``fail`` (with that error), once each."""

    fail: dict[bytes, ck.KafkaError]
    produced: list[bytes] = attrs.field(factory=list)
    _pending: list[tuple[bytes, Callable[..., None]]] = attrs.field(factory=list)

    def produce(self, topic: str, value: bytes, key: Any, headers: Any, on_delivery: Callable[..., None]) -> None:
        self.produced.append(value)
        self._pending.append((value, on_delivery))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        pending, self._pending = self._pending, []
        for value, on_delivery in pending:
            on_delivery(self.fail.pop(value, None), None)
        return 0


def sink_with(producer: Producer) -> KafkaSink:
    sink = KafkaSink(bootstrap_servers="localhost:9", topic="t", value="raw")
    sink._producer = producer  # type: ignore[assignment] # a stand-in
    return sink


def records(*values: bytes) -> list[Record]:
    return [Record(value=None, raw=v) for v in values]


def test_a_retried_batch_produces_only_what_was_not_delivered():
    timed_out = ck.KafkaError(ck.KafkaError._MSG_TIMED_OUT, "timed out", retriable=True)
    producer = Producer(fail={b"b": timed_out})
    sink = sink_with(producer)
    batch = records(b"a", b"b", b"c")
    with pytest.raises(TransientError, match="timed out"):
        sink.write(batch)
    sink.write(batch)  # the run's retry: the same records
    assert producer.produced == [b"a", b"b", b"c", b"b"]
    sink.write(records(b"a"))  # a new batch, even with an equal value, is produced
    assert producer.produced[-1:] == [b"a"]


def test_a_message_that_can_never_be_delivered_is_refused_and_the_rest_kept():
    too_large = ck.KafkaError(ck.KafkaError.MSG_SIZE_TOO_LARGE, "Message size too large")
    producer = Producer(fail={b"big": too_large})
    sink = sink_with(producer)
    batch = records(b"a", b"big", b"c")
    with pytest.raises(RecordRejectedError) as refused:
        sink.write(batch)
    assert [(r.raw, reason) for r, reason in refused.value.records] == [(b"big", "kafka: Message size too large")]
    sink.write([batch[0], batch[2]])  # the run writes the rest again: already delivered
    assert producer.produced == [b"a", b"big", b"c"]
