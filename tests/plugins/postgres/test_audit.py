"""``lmnh-pipes audit`` against real servers: a run killed three times is proven complete; a row deleted or kept
twice is named; a position moved back to 0 and run again leaves every table as it was (the coordinates' unique
keys, with on_conflict: nothing)."""

from __future__ import annotations

import json
import random

from click.testing import CliRunner

from lmnh_pipes.cli import main
from tests.fixtures.postgres import execute
from tests.plugins.postgres.kiosk_db import rows
from tests.plugins.postgres.test_exactly_once import (
    PARTITIONS,
    PIPELINE,
    assert_exactly_once,
    kill_after_progress,
    produce_truth,
    start,
    stderr_of,
    stop_when_stored,
    stored_total,
)
from tests.plugins.postgres.test_exactly_once import setup as setup

N = 12_000

#: The exactly-once test's pipeline with examples/lmnh/pipeline.yaml's coordinates and on_conflict: nothing.
COORDINATES = "kafka_topic: meta.topic, kafka_partition: meta.partition, kafka_offset: meta.offset"
SKIP = "conflict_key: [kafka_topic, kafka_partition, kafka_offset], on_conflict: nothing"
AUDITED = PIPELINE.replace("event_at: at}}", f"event_at: at, {COORDINATES}}}, {SKIP}}}").replace(
    "  table: kiosk_reject\n",
    "  table: kiosk_reject\n  conflict_key: [topic, partition, offset]\n  on_conflict: nothing\n",
)
TABLES = ("rating_interaction", "request_interaction", "kiosk_reject")


def audit(tmp_path, env) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(main, ["audit", str(tmp_path / "pipeline.yaml"), "--json"], env=env)
    text = CliRunner().invoke(main, ["audit", str(tmp_path / "pipeline.yaml")], env=env).output
    return result.exit_code, json.loads(result.output), text


def everything(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    return {t: rows(dsn, f"SELECT * FROM {t} ORDER BY 1") for t in TABLES}


def test_audit_proves_a_killed_run_names_damage_and_a_reset_writes_nothing_twice(
    tansu, topic_name, pg_dsn, tmp_path, setup
):
    assert AUDITED.count(SKIP) == 2
    assert "  on_conflict: nothing\n" in AUDITED
    (tmp_path / "pipeline.yaml").write_text(AUDITED)
    truth = produce_truth(tansu, topic_name, N)
    rng = random.Random(3)
    for attempt in range(3):
        env = {**setup, "GROUP": f"g-{topic_name}-{attempt}"}
        kill_after_progress(start(tmp_path, env), pg_dsn, rng, N, at_least=(attempt + 1) * N // 5)
    if stored_total(pg_dsn) < N:  # the last kill may have come after the last batch
        final = start(tmp_path, {**setup, "GROUP": f"g-{topic_name}-final"})
        stop_when_stored(final, pg_dsn, N)
        assert final.returncode == 0, stderr_of(final)
    assert_exactly_once(pg_dsn, truth)

    code, report, text = audit(tmp_path, setup)
    assert code == 0, text
    assert report["complete"]
    assert report["unproven"] == []
    parts = {p["partition"]: p for p in report["partitions"]}
    assert sorted(parts) == list(range(PARTITIONS))
    rejected = truth["rejected"]
    for p, account in parts.items():
        size = len(range(p, N, PARTITIONS))
        assert (account["low"], account["high"]) == (0, size)
        assert account["rejects"] == sum(1 for part, _ in rejected if part == p)
        assert account["rows"] + account["rejects"] == size
    assert sum(p["rows"] for p in parts.values()) == sum(truth["rating"].values()) + sum(truth["request"].values())

    # Back to 0 and run again: every message is read again, and every table stays exactly as it was.
    before = everything(pg_dsn)
    moved = CliRunner().invoke(main, ["offsets", str(tmp_path / "pipeline.yaml"), "--reset", "earliest"], env=setup)
    assert moved.exit_code == 0, moved.output
    assert stored_total(pg_dsn) == 0
    again = start(tmp_path, {**setup, "GROUP": f"g-{topic_name}-again"})
    out = stop_when_stored(again, pg_dsn, N)
    assert again.returncode == 0, stderr_of(again)
    assert json.loads(out)["read"] == N
    assert everything(pg_dsn) == before
    assert audit(tmp_path, setup)[0] == 0

    # A row deleted: its partition and offset are named as missing.
    p, o = rows(
        pg_dsn,
        "DELETE FROM rating_interaction WHERE rating_interaction_id = "
        "(SELECT max(rating_interaction_id) FROM rating_interaction) "
        "RETURNING kafka_partition, kafka_offset",
    )[0]
    code, report, text = audit(tmp_path, setup)
    assert code == 1
    assert not report["complete"]
    damaged = [a for a in report["partitions"] if not a["complete"]]
    assert [(a["partition"], a["missing"], a["first_missing"], a["twice"]) for a in damaged] == [(p, 1, [o], 0)]
    assert f"{topic_name}[{p}]: " in text
    assert f"MISSING 1: {o}" in text

    # The row put back, and another copy of it: without the unique key (dropped here), it is kept twice.
    execute(pg_dsn, "DROP INDEX rating_interaction_kafka_key")
    copy = (
        "INSERT INTO rating_interaction (exhibition_id, rating_id, event_at, kafka_topic, kafka_partition,"
        f" kafka_offset) SELECT 1, 1, now(), '{topic_name}', {p}, {o} RETURNING 1"
    )
    rows(pg_dsn, copy)
    assert audit(tmp_path, setup)[0] == 0
    rows(pg_dsn, copy)
    code, report, text = audit(tmp_path, setup)
    assert code == 1
    damaged = [a for a in report["partitions"] if not a["complete"]]
    assert [(a["partition"], a["missing"], a["twice"], a["first_twice"]) for a in damaged] == [(p, 0, 1, [o])]
    assert f"{topic_name}[{p}]: " in text
    assert f"TWICE 1: {o}" in text


def test_audit_cannot_prove_what_a_table_does_not_keep(tansu, topic_name, pg_dsn, tmp_path, setup):
    # The exactly-once test's pipeline keeps no coordinates in the interaction tables: the audit says so, exit 1.
    produce_truth(tansu, topic_name, 300)
    run = start(tmp_path, setup)
    stop_when_stored(run, pg_dsn, 300)
    code, report, text = audit(tmp_path, setup)
    assert code == 1
    assert report["unproven"] == [
        "the sink (PostgresSink): table rating_interaction keeps no meta.partition or meta.offset column; "
        "table request_interaction keeps no meta.partition or meta.offset column"
    ]
    assert "cannot prove: the sink (PostgresSink)" in text
