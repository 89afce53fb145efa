"""The ``kafka`` sink: produce records to a topic; as a rejects sink, a dead-letter topic."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

import attrs
import confluent_kafka as ck

from lmnh_pipes import (
    MISSING,
    ConfigError,
    Record,
    RecordRejectedError,
    RunError,
    TransientError,
    json_default,
    option_doc,
)
from lmnh_pipes.delivery import PositionStore
from lmnh_pipes.replaying import Settlement, StoredReject

from .connection import Connection
from .deadletter import KafkaReplay
from .messages import KEY, Header, Outgoing, key_bytes, millis, reject_headers

__all__ = ["VALUE_MODES", "KafkaSink"]

#: What a message holds: ``json`` (the value), ``raw`` (the original bytes), or ``auto`` (json when there is one).
VALUE_MODES = ("auto", "json", "raw")


@attrs.define(kw_only=True)
class KafkaSink(Connection):
    """Produce each record to ``topic``; durable (acknowledged by the brokers) when ``write`` returns.

    A rejected record carries its validator, rule, reason and source coordinates in ``lmnh.*`` headers, so a
    dead-letter topic keeps them. A retry produces only what was neither delivered nor in flight; a record that
    can never be delivered becomes a reject. Options: ``docs/sinks.md``.
    """

    topic: str = attrs.field(metadata=option_doc("the topic records go to"))
    key: str | None = attrs.field(default=None, metadata=option_doc("the field whose value keys each message"))
    headers: dict[str, str] = attrs.field(factory=dict, metadata=option_doc("header name -> the path of its value"))
    value: str = attrs.field(
        default="auto",
        metadata=option_doc(
            "the message: the value as JSON, the original bytes, or JSON when there is a value (auto)",
            choices=VALUE_MODES,
        ),
    )
    flush_timeout: float = attrs.field(
        default=30.0, metadata=option_doc("seconds write waits for the brokers to acknowledge a batch")
    )
    replay_group: str | None = attrs.field(
        default=None,
        metadata=option_doc(
            "as a rejects sink: the consumer group of lmnh-pipes replay (default lmnh-pipes-replay.TOPIC)"
        ),
    )
    replay_idle: float = attrs.field(
        default=5.0,
        metadata=option_doc("as a rejects sink: seconds without a message after which a replay has read the topic"),
    )
    _producer: ck.Producer | None = attrs.field(default=None, init=False, repr=False)
    _errors: list[tuple[Record, ck.KafkaError]] = attrs.field(factory=list, init=False, repr=False)
    # The records of the batch in hand already delivered, or produced and not yet reported on, so that a retry
    # (the run passes the same objects again) does not produce them twice. Keyed by id, and holding the record,
    # so that no other record can take its id.
    _delivered: dict[int, Record] = attrs.field(factory=dict, init=False, repr=False)
    _in_flight: dict[int, Record] = attrs.field(factory=dict, init=False, repr=False)
    _position_store: tuple[PositionStore, str] | None = attrs.field(default=None, init=False, repr=False)
    _replay: KafkaReplay | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.value not in VALUE_MODES:
            raise ValueError(f"value must be auto, json or raw, found {self.value!r}")
        if self.replay_idle <= 0:
            raise ValueError(f"replay_idle must be positive, found {self.replay_idle}")

    @property
    def replay_group_id(self) -> str:
        """The consumer group whose offsets hold (or, beside a position store, show) where replays stand."""
        return self.replay_group or f"lmnh-pipes-replay.{self.topic}"

    def producer_settings(self) -> dict[str, Any]:
        """The librdkafka producer settings (with secrets)."""
        conf: dict[str, Any] = {"acks": "all", "linger.ms": 5}
        conf.update(self.settings())
        conf["error_cb"] = self._on_error
        return conf

    def open(self) -> None:
        # Reach the cluster first, as the source does: a broker that is not there is retried by the run for
        # retry.startup_timeout, not found out by the first batch's flush_timeout.
        producer = ck.Producer(self.producer_settings())
        try:
            self._reach(producer)
        finally:
            producer.flush(0)
        self._producer = producer

    def check_online(self) -> None:
        """Connect (one attempt) and fetch the cluster's metadata."""
        producer = ck.Producer(self.producer_settings())
        try:
            metadata = self._reach(producer)
        finally:
            producer.flush(0)
        if self.topic not in metadata.topics:
            raise ConfigError(f"topic {self.topic} does not exist on {self.bootstrap_servers}")

    def write(self, records: Sequence[Record]) -> None:
        self.produce(records, self._encode)

    def produce(self, records: Sequence[Record], encode: Callable[[Record], Outgoing]) -> None:
        """Produce each record as ``encode`` makes it a message, and wait until the brokers acknowledged them all.

        Raises as ``write`` does: :class:`TransientError` for an outage (called again with the same records, it
        produces only those neither delivered nor in flight), :class:`RecordRejectedError` for records that can
        never be delivered, :class:`RunError` for a fault of the topic or its rights."""
        producer = self._producer
        if producer is None:
            raise RunError("the kafka sink was not opened")
        self._errors.clear()
        for record in records:
            rid = id(record)
            if self._delivered.get(rid) is record or self._in_flight.get(rid) is record:
                continue
            out = encode(record)
            on_delivery = functools.partial(self._on_delivery, record)
            while True:
                try:
                    producer.produce(
                        self.topic,
                        value=out.value,
                        key=out.key,
                        headers=out.headers,
                        partition=out.partition,
                        timestamp=out.timestamp,
                        on_delivery=on_delivery,
                    )
                    self._in_flight[rid] = record
                    break
                except BufferError:
                    producer.poll(0.05)  # the local queue is full: let deliveries drain it
                except ck.KafkaException as exc:  # refused before it was sent (larger than message.max.bytes, say)
                    self._errors.append((record, exc.args[0]))
                    break
            producer.poll(0)
        left = producer.flush(self.flush_timeout)
        self._raise_if_fatal()
        faults = [(r, e, _fault(e)) for r, e in self._errors]
        for _, error, fault in faults:
            if fault == "config":
                raise RunError(f"producing to {self.topic}: {error.str()}")
        failed = [e for _, e, fault in faults if fault == "outage"]
        if left or failed:
            first = failed[0].str() if failed else f"{left} messages not delivered in {self.flush_timeout:g} s"
            raise TransientError(f"producing to {self.topic}: {first}")
        refused = [(r, f"kafka: {e.str()}") for r, e, fault in faults if fault == "record"]
        if refused:
            raise RecordRejectedError("kafka", refused)
        self._delivered.clear()  # the batch is done

    def use_position_store(self, store: PositionStore, pipeline: str) -> None:
        """As a reject store: read the dead-letter topic from ``store``'s positions for ``pipeline`` (a replay
        whose sink stores them in its rows' transaction), not from the replay group's offsets."""
        self._position_store = (store, pipeline)

    def stored_rejects(self) -> Iterator[StoredReject]:
        """The rejects in the dead-letter topic from its position on (see :mod:`.deadletter`)."""
        if self._replay is not None:
            self._replay.close()
        self._replay = KafkaReplay(sink=self, position_store=self._position_store)
        return self._replay.read()

    def settle(self, settlement: Settlement) -> None:
        """Produce the rejects still refused, and those passed over, again; then commit the replay group."""
        if self._replay is None:
            raise RunError("settle() before stored_rejects(): nothing was read to settle")
        self._replay.settle(settlement)

    def close(self) -> None:
        replay, self._replay = self._replay, None
        if replay is not None:
            replay.close()
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.flush(self.flush_timeout)
        self._delivered.clear()
        self._in_flight.clear()

    def _encode(self, record: Record) -> Outgoing:
        rejected = record.reject is not None
        if self.value == "raw" or rejected or (self.value == "auto" and record.value is None):
            value = record.raw
        else:
            value = json.dumps(record.value, default=json_default).encode("utf-8")
        key: bytes | None = None
        if self.key is not None:
            k = record.get(self.key)
            if k is not MISSING and k is not None:
                key = k if isinstance(k, bytes) else str(k).encode("utf-8")
        elif rejected:
            key = key_bytes(record.meta.key)
        headers: list[Header] = [(name, _header(record.get(path))) for name, path in self.headers.items()]
        if not rejected:
            return Outgoing(value=value, key=key, headers=headers)
        headers += reject_headers(record)
        if self.key is not None:  # the message key is another field: the original key goes in a header
            headers.append((KEY, key_bytes(record.meta.key)))
        return Outgoing(value=value, key=key, headers=headers, timestamp=millis(record.meta.timestamp))

    def _on_delivery(self, record: Record, err: ck.KafkaError | None, msg: ck.Message) -> None:
        self._in_flight.pop(id(record), None)
        if err is None:
            self._delivered[id(record)] = record
        else:
            self._errors.append((record, err))


#: Errors about one record, which no retry can deliver: the record goes to the rejects.
_RECORD_FAULTS = frozenset(
    {
        ck.KafkaError.MSG_SIZE_TOO_LARGE,
        ck.KafkaError.INVALID_MSG_SIZE,
        ck.KafkaError.INVALID_RECORD,
        ck.KafkaError.RECORD_LIST_TOO_LARGE,
    }
)
#: Errors of the sink's configuration (the topic, its rights): every record would fail alike, so the run stops.
_CONFIG_FAULTS = frozenset(
    {
        ck.KafkaError.TOPIC_AUTHORIZATION_FAILED,
        ck.KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        ck.KafkaError.UNKNOWN_TOPIC_OR_PART,
        ck.KafkaError._UNKNOWN_TOPIC,
    }
)


def _fault(error: ck.KafkaError) -> str:
    """``record``, ``config`` or ``outage``: by the error's code, as the client sets ``retriable()`` on none of
    its delivery errors (a timed-out message during an outage included)."""
    if error.code() in _RECORD_FAULTS:
        return "record"
    if error.code() in _CONFIG_FAULTS or error.fatal():
        return "config"
    return "outage"


def _header(value: Any) -> bytes:
    if value is MISSING or value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat().encode()
    return str(value).encode("utf-8", "backslashreplace")
