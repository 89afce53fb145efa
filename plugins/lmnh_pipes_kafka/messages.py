"""A rejected record as a Kafka message, and back: the dead-letter topic's format.

The value is the original bytes, the key the original key, the timestamp the original timestamp, and ``lmnh.*``
headers hold the rest of the record: why it was refused, where it came from, how often a replay found it still
refused. A record read back from such a message is the one that was written, byte for byte.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import attrs
import confluent_kafka as ck

from lmnh_pipes import Meta, Record, Rejection

__all__ = [
    "KEY",
    "REPLAYED_FROM",
    "REPLAY_RUN",
    "REWRITTEN",
    "Header",
    "Outgoing",
    "copy_digest",
    "key_bytes",
    "key_text",
    "meta_headers",
    "millis",
    "reject_headers",
    "stored_record",
]

#: A message header as the producer takes it (the sink writes bytes or None).
Header = tuple[str, str | bytes | None]

VALIDATOR, RULE, REASON = "lmnh.validator", "lmnh.rule", "lmnh.reason"
TOPIC, PARTITION, OFFSET = "lmnh.topic", "lmnh.partition", "lmnh.offset"
SOURCE, TIMESTAMP, REPLAYS = "lmnh.source", "lmnh.timestamp", "lmnh.replays"
#: The original key, when the message is keyed by another field (the sink's ``key`` option): absent otherwise.
KEY = "lmnh.key"
#: On a copy that a replay produced: that replay's id, and the dead-letter message it copies (``partition:offset``).
REPLAY_RUN, REPLAYED_FROM = "lmnh.replay-run", "lmnh.replayed-from"
#: The headers that a replay's copy of a message writes afresh; it keeps the others (the sink's ``headers``).
REWRITTEN = frozenset(
    {VALIDATOR, RULE, REASON, TOPIC, PARTITION, OFFSET, SOURCE, TIMESTAMP, REPLAYS, REPLAY_RUN, REPLAYED_FROM}
)


@attrs.frozen(kw_only=True)
class Outgoing:
    """One message to produce: ``partition`` -1 lets the partitioner choose, ``timestamp`` 0 means now."""

    value: bytes
    key: bytes | None
    headers: list[Header]
    partition: int = -1
    timestamp: int = 0


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _text(value: str) -> bytes:
    return value.encode("utf-8", "backslashreplace")


def reject_headers(record: Record) -> list[Header]:
    """The ``lmnh.*`` headers of a rejected record: its rejection, then its :func:`meta_headers`."""
    reject = record.reject
    assert reject is not None
    return [
        (VALIDATOR, _text(reject.validator)),
        (RULE, _text(reject.rule)),
        (REASON, _text(reject.reason)),
        *meta_headers(record.meta),
        (REPLAYS, str(reject.replays).encode()),
    ]


def meta_headers(meta: Meta) -> list[Header]:
    """Where a record came from, and its timestamp exactly (ISO 8601, empty for none: a message's own timestamp
    can neither say "none" nor keep an offset or microseconds). Its key is the message key."""
    return [
        (TOPIC, _text(meta.topic)),
        (PARTITION, str(meta.partition).encode()),
        (OFFSET, str(meta.offset).encode()),
        (SOURCE, _text(meta.source)),
        (TIMESTAMP, meta.timestamp.isoformat().encode() if meta.timestamp is not None else b""),
    ]


def key_bytes(key: str | bytes | None) -> bytes | None:
    """A record's ``meta.key`` as the message key it was (text is a key that was valid UTF-8)."""
    return key.encode("utf-8") if isinstance(key, str) else key


def key_text(key: bytes | None) -> str | bytes | None:
    """A message key as ``meta.key`` holds it: text when it is valid UTF-8, else the bytes. (``KafkaSource.read``
    applies the same rule inline: a call per message costs on its hot path.)"""
    if key is None:
        return None
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return key


def millis(timestamp: datetime | None) -> int:
    """A message timestamp (milliseconds since 1970) for ``timestamp``; 0, which the producer reads as "now",
    for none or one it cannot carry (before 1970). A naive time is taken as UTC."""
    if timestamp is None:
        return 0
    aware = timestamp if timestamp.tzinfo is not None else timestamp.replace(tzinfo=UTC)
    return max((aware - _EPOCH) // _MS, 0)


def stored_record(message: ck.Message, headers: dict[str, bytes | None]) -> Record:
    """The rejected record a dead-letter message (whose headers are ``headers``) holds. A message without
    ``lmnh.*`` headers (produced by something else) is a record without a rejection, at its own coordinates."""
    topic: str = message.topic()  # type: ignore[assignment]  # a message without an error has coordinates
    partition: int = message.partition()  # type: ignore[assignment]
    offset: int = message.offset()  # type: ignore[assignment]
    raw = message.value() or b""
    key = headers[KEY] if KEY in headers else message.key()
    if TOPIC not in headers:
        meta = Meta(
            source="kafka", topic=topic, partition=partition, offset=offset, key=key_text(key), timestamp=_time(message)
        )
    else:
        meta = Meta(
            source=_str(headers.get(SOURCE)),
            topic=_str(headers[TOPIC]),
            partition=_int(headers.get(PARTITION)),
            offset=_int(headers.get(OFFSET)),
            key=key_text(key),
            timestamp=_header_time(headers[TIMESTAMP], message) if TIMESTAMP in headers else _time(message),
        )
    reject = None
    if VALIDATOR in headers:
        reject = Rejection(
            validator=_str(headers[VALIDATOR]),
            rule=_str(headers.get(RULE)),
            reason=_str(headers.get(REASON)),
            replays=_int(headers.get(REPLAYS)),
        )
    return Record(value=None, raw=raw, meta=meta, reject=reject)


def copy_digest(record: Record) -> bytes:
    """What every copy of one reject shares, and two different rejects do not: the source message's coordinates
    and its bytes (a topic made again reuses offsets, for other messages)."""
    meta = record.meta
    where = f"{meta.source}\0{meta.topic}\0{meta.partition}\0{meta.offset}\0".encode("utf-8", "backslashreplace")
    return hashlib.blake2b(where + record.raw, digest_size=16).digest()


def _str(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def _int(value: bytes | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def _header_time(value: bytes | None, message: ck.Message) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.decode("ascii"))
    except ValueError:  # not written by this sink: the message's own timestamp is the best there is
        return _time(message)


def _time(message: ck.Message) -> datetime | None:
    kind, ts = message.timestamp()
    return datetime.fromtimestamp(ts / 1000, UTC) if kind != ck.TIMESTAMP_NOT_AVAILABLE else None
