"""SIGTERM mid-run: the batch in hand is written and committed, the run exits 0 within the shutdown timeout, the
committed offsets cover exactly what was written, and a restart finishes the topic with nothing twice."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import confluent_kafka as ck
import pytest

from tests.plugins.kafka.test_kafka_cli import PIPELINE as CSV_PIPELINE
from tests.plugins.kafka.test_kafka_cli import read_outputs
from tests.plugins.postgres.kiosk_db import create_schema, rows
from tests.plugins.postgres.test_exactly_once import assert_exactly_once

from .helpers import (
    PARTITIONS,
    PIPELINE,
    SteadyProducer,
    consumed,
    environment,
    finish,
    served,
    simulate,
    start,
    stop,
    stop_when_written,
    truth_of,
    wait_for,
)

SHUTDOWN_SECONDS = 30


def terminate(proc, written, producer: SteadyProducer) -> dict:
    """SIGTERM ``proc`` once it has written something, while traffic still comes; it must exit 0 in time,
    stopped by the signal."""
    wait_for("writing", lambda: written() > 0, 60, proc)
    time.sleep(0.5)
    assert producer.producing, "the traffic ended before SIGTERM: make it longer"
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    report, _ = finish(proc, timeout=SHUTDOWN_SECONDS + 15)
    assert time.monotonic() - started < SHUTDOWN_SECONDS
    assert report["stopped_by"] == "signal"
    return report


@pytest.mark.slow
def test_sigterm_with_postgres_commits_exactly_what_was_written(tansu, topic_name, pg_dsn, tmp_path: Path):
    tansu.create_topic(topic_name, partitions=PARTITIONS)
    create_schema(pg_dsn)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    values, expected = simulate(16_000, seed=17)
    producer = SteadyProducer(tansu.bootstrap, topic_name, values, rate=2_000)
    producer.start()
    env = environment(pg_dsn, tansu.bootstrap, topic_name)
    proc = start(tmp_path / "pipeline.yaml", env)
    try:
        first = terminate(proc, lambda: consumed(pg_dsn), producer)
        positions = dict(
            rows(pg_dsn, "SELECT partition, next_offset FROM lmnh_pipes_offsets WHERE pipeline = 'kiosk-exactly-once'")
        )
        producer.join(60)
        truth = served(tansu.bootstrap, topic_name)
        # Exactly what the stored offsets cover is in the tables, once: no more, no less.
        written = {(p, o): raw for (p, o), raw in truth.items() if o < positions.get(p, 0)}
        assert 0 < len(written) < len(truth)
        assert first["read"] == len(written)  # the batch in hand was written, not dropped
        assert_exactly_once(pg_dsn, truth_of(written, expected))
        proc = start(tmp_path / "pipeline.yaml", env)
        stop_when_written(proc, pg_dsn, len(truth))
    finally:
        stop(proc)
        producer.stop()
    assert_exactly_once(pg_dsn, truth_of(truth, expected))


def csv_rows(directory: Path) -> int:
    """Rows written so far (without parsing: a row may be half-written)."""
    return sum(max(0, p.read_bytes().count(b"\n") - 1) for p in directory.glob("*.csv"))


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        offsets = consumer.committed([ck.TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: max(tp.offset, 0) for tp in offsets}  # OFFSET_INVALID (-1001): nothing committed


@pytest.mark.slow
def test_sigterm_with_a_csv_sink_commits_exactly_what_was_written(tansu, topic_name, tmp_path: Path):
    tansu.create_topic(topic_name, partitions=PARTITIONS)
    (tmp_path / "pipeline.yaml").write_text(CSV_PIPELINE)
    values, expected = simulate(16_000, seed=19)
    producer = SteadyProducer(tansu.bootstrap, topic_name, values, rate=2_000)
    producer.start()
    group = f"g-{uuid.uuid4()}"
    first, second = tmp_path / "run1", tmp_path / "run2"
    proc = start(tmp_path / "pipeline.yaml", environment("", tansu.bootstrap, topic_name, GROUP=group, OUT=str(first)))
    try:
        report = terminate(proc, lambda: csv_rows(first), producer)
        offsets = committed(tansu.bootstrap, group, topic_name)
        written = read_outputs(first)
        assert max(written.values()) == 1, "a message was written twice"
        assert {(p, o) for p, o, _ in written} == {(p, o) for p in range(PARTITIONS) for o in range(offsets[p])}, (
            "the committed offsets differ from what was written"
        )
        assert report["read"] == sum(written.values())
        producer.join(60)
        truth = served(tansu.bootstrap, topic_name)
        assert sum(written.values()) < len(truth)
        # The same group resumes from the committed offsets: the member before left cleanly, so at once.
        proc = start(
            tmp_path / "pipeline.yaml", environment("", tansu.bootstrap, topic_name, GROUP=group, OUT=str(second))
        )
        wait_for("everything written", lambda: csv_rows(first) + csv_rows(second) >= len(truth), 60, proc)
        proc.send_signal(signal.SIGTERM)
        finish(proc, timeout=SHUTDOWN_SECONDS)
    finally:
        stop(proc)
        producer.stop()
    seen = read_outputs(first) + read_outputs(second)
    assert max(seen.values()) == 1, "a message was written twice"
    got = {(p, o): what for p, o, what in seen}
    assert set(got) == set(truth), "a message was lost"
    wrong = [w for w, raw in truth.items() if kind(got[w]) != kind(expected[raw])]
    assert not wrong, f"{len(wrong)} messages went to the wrong place, e.g. {wrong[:3]}"


def kind(what: str) -> str:
    """``rating``, ``request``, or ``rejected`` for a reject (``reject:RULE``) or an invalid kind of message."""
    return what if what in ("rating", "request") else "rejected"
