"""The reject-rate breaker end to end, exactly once: Tansu -> kiosk rules -> PostgreSQL.

An exhibition's kiosks start sending before its file reaches the catalogue: a burst of presses rejected by
``exhibition`` in the middle of the topic stops the run (exit 1) before the batch that crossed the limit is written
or its position stored. Once the file is in the catalogue, a restart writes that batch and the rest, each message
once.
"""

from __future__ import annotations

import json
import shutil

from confluent_kafka import Consumer, TopicPartition

from lmnh_pipes_kiosk import KioskSimulator
from tests.plugins.postgres.kiosk_db import rows
from tests.plugins.postgres.test_exactly_once import (
    PIPELINE,
    ROOT,
    assert_exactly_once,
    finish,
    setup,  # noqa: F401 -- a fixture used by the test here
    start,
    stderr_of,
    truth_of,
)

LIMITED = PIPELINE.replace(
    "batch: {max_records: 1000, max_wait: 0.2}\n",
    # Batches are always full (max_wait is never reached), so the burst at 3000 starts a batch.
    "batch: {max_records: 500, max_wait: 30}\nreject_limit: {window: 500, max_share: 0.5}\n",
)
OTHER_SITES = ["0", "2", "3", "4", "5"]


def committed(bootstrap: str, group: str, topic: str) -> int:
    """The offset that ``group`` committed in Kafka for partition 0 of ``topic`` (negative: none)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        [position] = consumer.committed([TopicPartition(topic, 0)], timeout=10)
    finally:
        consumer.close()
    return int(position.offset)


def test_a_burst_stops_the_run_before_its_batch_and_a_restart_after_the_fix_writes_it(
    tansu,
    topic_name,
    pg_dsn,
    tmp_path,
    setup,  # noqa: F811 -- the fixture imported above
):
    assert LIMITED != PIPELINE
    catalogue = tmp_path / "catalogue"
    shutil.copytree(ROOT / "examples/lmnh/exhibitions", catalogue)
    exhibition_file = catalogue / "lmnh_exhibition_bugs.json"  # EXH_01: the kiosks of site 1
    late = exhibition_file.read_bytes()
    exhibition_file.unlink()
    (tmp_path / "pipeline.yaml").write_text(LIMITED)
    env = {**setup, "CATALOGUE": str(catalogue)}

    others = KioskSimulator(seed=3, invalid_share=0.05, sites=OTHER_SITES)
    burst = KioskSimulator(seed=4, invalid_share=0.0, sites=["1"])
    messages = [*others.generate(3000), *burst.generate(600), *others.generate(1400)]
    tansu.create_topic(topic_name, partitions=1)
    tansu.produce(topic_name, [m.raw for m in messages], partitions=1)

    tripped = start(tmp_path, env)
    out = finish(tripped, timeout=120)
    error = stderr_of(tripped)
    assert tripped.returncode == 1, error
    assert out == ""
    assert "error: run failed: reject limit crossed: 500 of the last 500 records (100.0%) were rejected" in error
    assert "more than max_share 0.5; top rules: kiosk / exhibition " in error
    # The batch of offsets 3000-3499 crossed the limit: none of its rows or rejects are in the tables, and the
    # position stored with the rows (and the group's commit in Kafka) is its first offset.
    assert_exactly_once(pg_dsn, truth_of(messages[:3000], 1))
    assert rows(pg_dsn, "SELECT topic, partition, next_offset FROM lmnh_pipes_offsets") == [(topic_name, 0, 3000)]
    assert committed(tansu.bootstrap, env["GROUP"], topic_name) == 3000

    # The exhibition's file reaches the catalogue: the next run reads the burst again, from the stored position.
    exhibition_file.write_bytes(late)
    fixed = start(tmp_path, env, "--limit", "2000")
    out = finish(fixed, timeout=120)
    assert fixed.returncode == 0, stderr_of(fixed)
    summary = json.loads(out)
    assert (summary["read"], summary["stopped_by"]) == (2000, "limit")
    assert_exactly_once(pg_dsn, truth_of(messages, 1))
    assert rows(pg_dsn, "SELECT topic, partition, next_offset FROM lmnh_pipes_offsets") == [(topic_name, 0, 5000)]
