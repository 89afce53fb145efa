"""The museum's replay story with a Kafka dead-letter topic: Tansu -> kiosk rules -> PostgreSQL, rejects to a topic.

An exhibition's presses arrive before its file reaches the catalogue and go to the dead-letter topic with rule
``exhibition``; the file is added; ``lmnh-pipes replay --rule exhibition`` writes them to their tables once, with the
topic's position stored in the rows' transaction; the other rejects stay in the topic, replayable later.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import attrs
import pytest

import lmnh_pipes
from lmnh_pipes import Record, Rejection
from lmnh_pipes.replaying import StoredReject
from lmnh_pipes_kafka import KafkaSink
from lmnh_pipes_postgres import PostgresSink
from tests.plugins.kafka.test_kafka_cli import committed
from tests.plugins.postgres.kiosk_db import rows
from tests.plugins.postgres.test_exactly_once import PIPELINE, produce_truth, table_contents
from tests.plugins.postgres.test_replay import (
    MISSING,
    _add_the_exhibition,
    _replay,
    kill_replays,
    late_museum,
)
from tests.reliability.helpers import environment, served

N = 1500
DLQ_PARTITIONS = 3
REPLAY_NAME = "kiosk-exactly-once/replay"

REJECTS_TO_POSTGRES = """\
rejects:
  type: postgres
  <<: *db
  table: kiosk_reject
"""
REJECTS_TO_KAFKA = """\
rejects:
  type: kafka
  bootstrap_servers: ${BOOTSTRAP}
  topic: ${DLQ}
  replay_idle: 1
"""
assert REJECTS_TO_POSTGRES in PIPELINE
# A session of 2 s makes Tansu's JoinGroup wait 1 s.
KAFKA_PIPELINE = PIPELINE.replace(REJECTS_TO_POSTGRES, REJECTS_TO_KAFKA).replace(
    "max_records: 1000", "max_records: '${BATCH:-1000}'"
)
assert "session.timeout.ms: 2000" in KAFKA_PIPELINE


@pytest.fixture
def museum(tansu, topic_name, pg_dsn, tmp_path) -> dict[str, Any]:
    """The museum without MISSING, a run over N presses with its rejects in a dead-letter topic, and the truth."""
    dlq = f"{topic_name}-dead"
    tansu.create_topic(dlq, partitions=DLQ_PARTITIONS)
    catalogue = late_museum(pg_dsn, tmp_path)
    (tmp_path / "pipeline.yaml").write_text(KAFKA_PIPELINE)
    env = environment(pg_dsn, tansu.bootstrap, topic_name, CATALOGUE=str(catalogue), DLQ=dlq)
    truth = produce_truth(tansu, topic_name, N)
    report = lmnh_pipes.load(tmp_path / "pipeline.yaml", environ=env).run(limit=N, idle_timeout=60)
    assert (report.read, report.rejects_written) == (N, report.rejected)
    return {
        "env": env,
        "truth": truth,
        "catalogue": catalogue,
        "dir": tmp_path,
        "dsn": pg_dsn,
        "dlq": dlq,
        "bootstrap": tansu.bootstrap,
        "rejected": report.rejected,
    }


def live_rejects(museum: dict[str, Any]) -> dict[tuple[int, int], StoredReject]:
    """The rejects in the topic past the replays' stored position, by their source (partition, offset); failing if a
    replay would find a leftover copy there, or one reject twice."""
    store = KafkaSink(bootstrap_servers=museum["bootstrap"], topic=museum["dlq"], replay_idle=1)
    store.use_position_store(PostgresSink(dsn=museum["dsn"], table="kiosk_reject"), REPLAY_NAME)
    stored = list(store.stored_rejects())
    assert not [s for s in stored if s.duplicate], "a crashed replay's copies are still past the position"
    by_source = {(s.record.meta.partition, s.record.meta.offset): s for s in stored}
    assert len(by_source) == len(stored), "a reject is in the topic twice"
    return by_source


def assert_the_tables_hold_the_truth(dsn: str, truth: dict[str, Any]) -> None:
    got = table_contents(dsn)
    assert got["rating"] == truth["rating"]
    assert got["request"] == truth["request"]


def refusals(pipeline: lmnh_pipes.Pipeline, records: list[Record]) -> list[Rejection]:
    """Why the pipeline's validators refuse each of ``records``' raw bytes now."""
    for validator in pipeline.validators:
        validator.open()
    now = lmnh_pipes.validate_all(pipeline.validators, [Record(raw=r.raw, meta=r.meta) for r in records])
    assert all(r.reject is not None for r in now)
    return [r.reject for r in now]  # type: ignore[misc]  # all refused


def state(museum: dict[str, Any]) -> dict[str, Any]:
    """Everything a replay may change: rows, stored positions, the replay group's offsets, the topic's messages."""
    dsn, sink = museum["dsn"], KafkaSink(bootstrap_servers=museum["bootstrap"], topic=museum["dlq"])
    return {
        "rows": table_contents(dsn),
        "positions": rows(
            dsn, "SELECT pipeline, topic, partition, next_offset FROM lmnh_pipes_offsets ORDER BY 1, 2, 3"
        ),
        "group": committed(museum["bootstrap"], sink.replay_group_id, museum["dlq"], DLQ_PARTITIONS),
        "topic": served(museum["bootstrap"], museum["dlq"], quiet=0.5),
    }


def test_a_replay_from_a_dead_letter_topic_writes_the_late_exhibition_once(museum):
    dsn, truth = museum["dsn"], museum["truth"]
    before = live_rejects(museum)
    assert len(before) == museum["rejected"]
    by_rule = Counter(s.record.reject.rule for s in before.values())
    # Rejected now, valid once the exhibition is there: the late exhibition's presses, and only those.
    late = set(before) - truth["rejected"]
    assert truth["rejected"] <= set(before)
    assert len(late) > 50, "the late exhibition should have caused many rejects"
    assert all(MISSING in before[k].record.reject.reason for k in late)
    assert by_rule["exhibition"] > len(late), "some presses name sites that are no exhibition at all"
    _add_the_exhibition(museum)

    unchanged = state(museum)
    pipeline = lmnh_pipes.load(museum["dir"] / "pipeline.yaml", environ=museum["env"])
    dry = pipeline.replay(rule="exhibition", dry_run=True)
    assert state(museum) == unchanged, "a dry run changed rows, positions, offsets or the topic"
    assert (dry.read, dry.chosen, dry.accepted) == (len(before), by_rule["exhibition"], len(late))

    report = _replay(museum, "--rule", "exhibition")
    assert report["delivery"].startswith("exactly-once, by position")
    assert (report["chosen"], report["accepted"], report["written"]) == (dry.chosen, len(late), len(late))
    assert_the_tables_hold_the_truth(dsn, truth)
    after = live_rejects(museum)
    assert set(after) == truth["rejected"], "a reject was lost, or a late press is still a reject"
    chosen = [k for k in after if before[k].record.reject.rule == "exhibition"]
    now = dict(zip(chosen, refusals(pipeline, [before[k].record for k in chosen]), strict=True))
    for where, s in after.items():
        was = before[where].record
        assert (s.record.raw, s.record.meta, s.record.reject.validator) == (was.raw, was.meta, was.reject.validator)
        if where not in now:
            assert s.record.reject == was.reject  # not chosen: as it was
        else:  # chosen and still refused: as the current validators refuse it, one replay counted
            assert s.record.reject == attrs.evolve(now[where], replays=1)

    # In Python this time, as Pipeline.replay: the same replay as the command's.
    again = lmnh_pipes.load(museum["dir"] / "pipeline.yaml", environ=museum["env"]).replay(rule="exhibition")
    now_by_rule = Counter(s.record.reject.rule for s in after.values())
    assert (again.chosen, again.written, again.dropped) == (now_by_rule["exhibition"], 0, 0)
    assert_the_tables_hold_the_truth(dsn, truth)
    # The other rules' rejects are still there for a later replay.
    other = next(rule for rule in now_by_rule if rule != "exhibition")
    later = lmnh_pipes.load(museum["dir"] / "pipeline.yaml", environ=museum["env"]).replay(rule=other, dry_run=True)
    assert (later.read, later.chosen, later.accepted) == (len(after), now_by_rule[other], 0)


def test_a_replay_from_a_dead_letter_topic_killed_again_and_again_writes_each_press_once(museum):
    # A kill between producing a batch's copies and committing its rows leaves copies that the next replay drops.
    dsn, truth = museum["dsn"], museum["truth"]
    _add_the_exhibition(museum)
    assert kill_replays(museum, random.Random(13)) >= 2, "the replays ended before they could be killed"
    final = _replay(museum, "--rule", "exhibition")
    assert final["delivery"].startswith("exactly-once, by position")
    assert_the_tables_hold_the_truth(dsn, truth)
    assert set(live_rejects(museum)) == truth["rejected"]
