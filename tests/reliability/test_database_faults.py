"""The sink database's connections are killed, or it refuses connections for a while, mid-run: the run retries
and every message lands exactly once (Kafka -> kiosk -> PostgreSQL, offsets in the rows' transaction)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.plugins.postgres.kiosk_db import create_schema
from tests.plugins.postgres.test_exactly_once import assert_exactly_once

from .helpers import (
    PARTITIONS,
    PIPELINE,
    SteadyProducer,
    consumed,
    environment,
    served,
    simulate,
    start,
    stop,
    stop_when_written,
    truth_of,
    wait_for,
)

TERMINATE_OTHERS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
COUNT_OTHERS = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


def begin(tansu, topic: str, pg_dsn: str, tmp_path: Path, n: int, rate: float):
    """Steady traffic into a new topic, and a run reading it."""
    tansu.create_topic(topic, partitions=PARTITIONS)
    create_schema(pg_dsn)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    values, expected = simulate(n, seed=5)
    producer = SteadyProducer(tansu.bootstrap, topic, values, rate=rate)
    producer.start()
    proc = start(tmp_path / "pipeline.yaml", environment(pg_dsn, tansu.bootstrap, topic))
    return producer, proc, expected


@pytest.mark.slow
def test_connections_killed_five_times_mid_run_lose_nothing_and_write_nothing_twice(
    tansu, topic_name, pg_dsn, tmp_path: Path
):
    producer, proc, expected = begin(tansu, topic_name, pg_dsn, tmp_path, n=24_000, rate=2_000)
    try:
        wait_for("writing", lambda: consumed(pg_dsn) > 0, 60, proc)
        killed: list[tuple[int, bool]] = []
        rng = random.Random(3)
        with psycopg.connect(pg_dsn, autocommit=True) as killer:
            for _ in range(5):
                time.sleep(rng.uniform(0.5, 1.0))
                # The run reconnects at its next write, after a random back-off: kill once it has.
                wait_for("reconnected", lambda: killer.execute(COUNT_OTHERS).fetchone()[0] > 0, 30, proc)
                n = killer.execute(TERMINATE_OTHERS).fetchone()[0]
                killed.append((n, producer.producing))
        assert all(n >= 1 for n, _ in killed), f"a kill found no connection of the pipeline: {killed}"
        assert all(alive for _, alive in killed), "the traffic ended before the last kill: make it longer"
        producer.join(60)
        assert producer.undelivered == 0
        truth = served(tansu.bootstrap, topic_name)
        report, err = stop_when_written(proc, pg_dsn, len(truth))
    finally:
        stop(proc)
        producer.stop()
    assert "retry" in err, "no write was retried: the kills missed the run"
    assert report["read"] >= len(truth)  # with the replays of batches whose commit was cut
    assert_exactly_once(pg_dsn, truth_of(truth, expected))
    assert consumed(pg_dsn) == len(truth)


@pytest.mark.slow
def test_a_5_s_database_outage_mid_run_is_retried_and_loses_nothing(
    tansu, topic_name, pg_server: str, pg_dsn: str, tmp_path: Path
):
    database = sql.Identifier(conninfo_to_dict(pg_dsn)["dbname"])
    producer, proc, expected = begin(tansu, topic_name, pg_dsn, tmp_path, n=20_000, rate=2_000)
    try:
        wait_for("writing", lambda: consumed(pg_dsn) > 0, 60, proc)
        with psycopg.connect(pg_server, autocommit=True) as admin:
            try:
                admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(database))
                killed = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                    (conninfo_to_dict(pg_dsn)["dbname"],),
                ).fetchone()[0]
                time.sleep(5)
                assert proc.poll() is None, "the run ended during the outage"
            finally:
                admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(database))
        assert killed >= 1, "the outage found no connection of the pipeline"
        assert producer.producing, "the traffic ended during the outage: make it longer"
        producer.join(60)
        assert producer.undelivered == 0
        truth = served(tansu.bootstrap, topic_name)
        report, err = stop_when_written(proc, pg_dsn, len(truth))
    finally:
        stop(proc)
        producer.stop()
    assert "retry" in err, "no write was retried: the outage missed the run"
    assert report["read"] >= len(truth)
    assert_exactly_once(pg_dsn, truth_of(truth, expected))
    assert consumed(pg_dsn) == len(truth)
