"""The broker goes away mid-run, or is not there yet at the start: the run waits, resumes by itself, and writes
every message the broker serves exactly once (Kafka -> kiosk -> PostgreSQL, offsets in the rows' transaction)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fixtures.kafka import free_port, start_tansu
from tests.plugins.postgres.kiosk_db import create_schema
from tests.plugins.postgres.test_exactly_once import assert_exactly_once

from .helpers import (
    PARTITIONS,
    PIPELINE,
    SteadyProducer,
    consumed,
    environment,
    produce,
    served,
    simulate,
    start,
    stop,
    stop_when_written,
    truth_of,
    wait_for,
)

CUT_SECONDS = 20


@pytest.mark.slow
def test_a_20_s_network_cut_mid_run_loses_nothing_and_writes_nothing_twice(proxied, pg_dsn, tmp_path: Path):
    broker, proxy = proxied
    topic = "kiosk"
    broker.create_topic(topic, partitions=PARTITIONS)
    create_schema(pg_dsn)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    values, expected = simulate(40_000)
    # Everyone reaches the broker through the proxy, even for bootstrapping: a cut leaves no way round.
    producer = SteadyProducer(proxy.address, topic, values, rate=2_000)  # traffic before, during and after the cut
    producer.start()
    proc = start(tmp_path / "pipeline.yaml", environment(pg_dsn, proxy.address, topic, CONNECT_TIMEOUT="60"))
    try:
        wait_for("writing", lambda: consumed(pg_dsn) > 0, 60, proc)
        proxy.cut()
        sent_at = producer.sent
        time.sleep(CUT_SECONDS)
        assert proc.poll() is None, f"the run ended during the cut: {proc.err()[-3000:]}"
        # What was fetched before the cut may still be written (a batch or two: how much depends on the machine's
        # speed, which made a fixed bound flaky); nothing produced after the cut can come.
        assert consumed(pg_dsn) <= sent_at, "the run went on reading through a cut network"
        assert producer.sent > sent_at, "no traffic during the cut: make it longer"
        reconnections = proxy.accepted
        proxy.restore()
        producer.join(150)
        assert producer.undelivered == 0, "the producer could not deliver everything after the cut"
        # The truth is what the broker serves: more than `values` when the producer resent a batch whose
        # acknowledgement the cut lost.
        truth = served(proxy.address, topic)
        assert len(truth) >= len(values)
        stop_when_written(proc, pg_dsn, len(truth), timeout=90)
    finally:
        stop(proc)
        producer.stop()
    assert proxy.accepted > reconnections, "the pipeline never came back through the proxy"
    assert_exactly_once(pg_dsn, truth_of(truth, expected))
    assert consumed(pg_dsn) == len(truth)


@pytest.mark.slow
def test_a_broker_that_is_not_up_yet_is_waited_for(pg_dsn, tmp_path: Path):
    port = free_port()
    topic = "kiosk"
    create_schema(pg_dsn)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    proc = start(tmp_path / "pipeline.yaml", environment(pg_dsn, f"127.0.0.1:{port}", topic, CONNECT_TIMEOUT="30"))
    broker = None
    try:
        time.sleep(5)
        assert proc.poll() is None, f"the run did not wait for the broker: {proc.err()[-3000:]}"
        broker = start_tansu(tmp_path, port=port)
        broker.create_topic(topic, partitions=PARTITIONS)
        values, expected = simulate(10_000, seed=3)
        produce(broker.bootstrap, topic, values)
        truth = served(broker.bootstrap, topic)
        report, _ = stop_when_written(proc, pg_dsn, len(truth), timeout=60)
    finally:
        stop(proc)
        if broker is not None:
            broker.stop()
    assert report["read"] == len(truth) == len(values)
    assert_exactly_once(pg_dsn, truth_of(truth, expected))


@pytest.mark.slow
def test_a_broker_gone_for_longer_than_connect_timeout_fails_the_run_with_one_line(proxied, pg_dsn, tmp_path: Path):
    broker, proxy = proxied
    topic = "kiosk"
    broker.create_topic(topic, partitions=PARTITIONS)
    create_schema(pg_dsn)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    values, _ = simulate(2_000)
    produce(broker.bootstrap, topic, values)
    proc = start(tmp_path / "pipeline.yaml", environment(pg_dsn, proxy.address, topic, CONNECT_TIMEOUT="3"))
    try:
        wait_for("writing", lambda: consumed(pg_dsn) > 0, 60, proc)
        proxy.cut()
        cut_at = time.monotonic()
        proc.wait(timeout=60)
        elapsed = time.monotonic() - cut_at
    finally:
        stop(proc)
    err = proc.err()
    assert proc.returncode == 1, err
    assert 3 <= elapsed < 3 + 20
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "unreachable" in errors[0] or "cannot reach" in errors[0], errors[0]
