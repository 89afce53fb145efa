"""A dead-letter topic keeps each reject exactly: value, key, timestamp and ``lmnh.*`` headers, read back by Tansu."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from lmnh_pipes import Meta, Record
from lmnh_pipes_kafka import KafkaSink
from lmnh_pipes_kafka.messages import millis, stored_record
from tests.plugins.kafka.test_kafka_broker import consume_all

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
