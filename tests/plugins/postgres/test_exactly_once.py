"""Exactly-once from Kafka into PostgreSQL, through SIGKILLs: Tansu -> kiosk rules -> PostgreSQL.

The truth is the simulator's: every message it meant to be valid (on a simulated day, so opening hours are
exact) must be in its table once, and every other one in kiosk_reject once, at its (partition, offset).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from lmnh_pipes_kiosk import KioskSimulator, Message
from tests.plugins.postgres.kiosk_db import create_schema, rows

ROOT = Path(__file__).resolve().parents[3]
LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")
PARTITIONS = 3

PIPELINE = """\
name: kiosk-exactly-once
x-db: &db
  dsn: ${DSN}
x-exhibition: &exhibition
  path: exhibition
  lookup: {table: exhibition, key: exhibition_public_id, value: exhibition_id}
source:
  type: kafka
  bootstrap_servers: ${BOOTSTRAP}
  topic: ${TOPIC}
  group_id: ${GROUP}
  options:
    session.timeout.ms: 2000
    heartbeat.interval.ms: 500
    partition.assignment.strategy: ${STRATEGY:-range,roundrobin}
validators:
  - type: kiosk
    catalogue: ${CATALOGUE}
sink:
  type: postgres
  <<: *db
  route: kind
  tables:
    rating: {table: rating_interaction, columns: {exhibition_id: *exhibition, rating_id: val, event_at: at}}
    request: {table: request_interaction, columns: {exhibition_id: *exhibition, request_id: type, event_at: at}}
rejects:
  type: postgres
  <<: *db
  table: kiosk_reject
batch: {max_records: 1000, max_wait: 0.2}
"""


Truth = dict[str, Counter[tuple[object, ...]] | set[tuple[int, int]]]


def produce_truth(tansu, topic: str, n: int) -> Truth:
    """Produce ``n`` simulated messages round-robin over the partitions; return what the tables must hold."""
    tansu.create_topic(topic, partitions=PARTITIONS)
    messages = list(KioskSimulator(seed=7, clock="day", invalid_share=0.2).generate(n))
    tansu.produce(topic, [m.raw for m in messages], partitions=PARTITIONS)
    return truth_of(messages, PARTITIONS)


def truth_of(messages: list[Message], partitions: int) -> Truth:
    """What the tables must hold once ``messages``, produced round-robin over ``partitions``, are all in."""
    ratings: Counter[tuple[object, ...]] = Counter()
    requests: Counter[tuple[object, ...]] = Counter()
    rejected: set[tuple[int, int]] = set()
    for i, m in enumerate(messages):
        if m.expected in ("rating", "request"):
            v = json.loads(m.raw)
            key = (
                f"EXH_{int(v['site']):02d}",
                v["val"] if m.expected == "rating" else v["type"],
                datetime.fromisoformat(v["at"]),
            )
            (ratings if m.expected == "rating" else requests)[key] += 1
        else:
            rejected.add((i % partitions, i // partitions))
    return {"rating": ratings, "request": requests, "rejected": rejected}


def table_contents(dsn: str) -> dict[str, object]:
    query = "SELECT e.exhibition_public_id, t.{col}, t.event_at FROM {table} t JOIN exhibition e USING (exhibition_id)"
    return {
        "rating": Counter(rows(dsn, query.format(col="rating_id", table="rating_interaction"))),
        "request": Counter(rows(dsn, query.format(col="request_id", table="request_interaction"))),
        "rejected": rows(dsn, 'SELECT "partition", "offset" FROM kiosk_reject'),
    }


def assert_exactly_once(dsn: str, truth) -> None:
    got = table_contents(dsn)
    assert got["rating"] == truth["rating"], "ratings differ: " + describe(got["rating"], truth["rating"])
    assert got["request"] == truth["request"], "requests differ: " + describe(got["request"], truth["request"])
    assert len(got["rejected"]) == len(set(got["rejected"])), "a reject was written twice"
    assert set(got["rejected"]) == truth["rejected"]


def describe(got: Counter, want: Counter) -> str:
    return f"{sum((got - want).values())} extra, {sum((want - got).values())} missing"


def start(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    # stderr goes to a file, not a pipe: nobody reads a pipe while the run goes, and a full one would block it.
    log = tmp_path / f"stderr-{time.monotonic_ns()}.log"
    proc = subprocess.Popen(
        [LMNH_PIPES, "run", str(tmp_path / "pipeline.yaml"), "--json", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen[str], timeout: float) -> str:
    """The run's standard output once it has ended; a run still going after ``timeout`` is killed, so that it
    does not load the machine for the tests after this one."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return out


def stop_when_stored(proc: subprocess.Popen[str], dsn: str, total: int, timeout: float = 180) -> str:
    """Once the stored positions cover all ``total`` messages, SIGTERM ``proc`` (a clean stop); its standard output.
    Counting what was written is how a test decides "done" here: Tansu's watermarks are wrong after batches."""
    deadline = time.monotonic() + timeout
    while stored_total(dsn) < total and proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"{stored_total(dsn)} of {total} stored after {timeout} s: {stderr_of(proc)}")
        time.sleep(0.1)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return finish(proc, timeout=60)


def stderr_of(proc: subprocess.Popen[str]) -> str:
    return proc.log.read_text()[-3000:]  # type: ignore[attr-defined]


def written(dsn: str) -> int:
    return int(
        rows(dsn, "SELECT (SELECT count(*) FROM rating_interaction) + (SELECT count(*) FROM kiosk_reject)")[0][0]
    )


def stored_total(dsn: str) -> int:
    """How many messages the stored positions cover (every one of them written or rejected)."""
    if rows(dsn, "SELECT to_regclass('lmnh_pipes_offsets') IS NULL")[0][0]:
        return 0  # created by the pipeline when it first stores positions
    return int(rows(dsn, "SELECT coalesce(sum(greatest(next_offset, 0)), 0) FROM lmnh_pipes_offsets")[0][0])


def kill_after_progress(
    proc: subprocess.Popen[str], dsn: str, rng: random.Random, total: int, at_least: int = 0, timeout: float = 120
) -> bool:
    """SIGKILL ``proc`` at a random moment once it has written something, and the stored positions cover
    ``at_least`` messages; False if it had nothing left to do."""
    before = written(dsn)
    deadline = time.monotonic() + timeout
    while (
        (written(dsn) == before or stored_total(dsn) < at_least) and proc.poll() is None and stored_total(dsn) < total
    ):
        assert time.monotonic() < deadline, f"no progress in {timeout} s: {stderr_of(proc)}"
        time.sleep(0.05)
    # A short random delay: the kill must land mid-stream, while messages are left to read.
    time.sleep(rng.uniform(0, 0.25))
    mid_run = stored_total(dsn) < total
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return mid_run


@pytest.fixture
def setup(tansu, topic_name, pg_dsn, tmp_path):
    create_schema(pg_dsn)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    return {
        **os.environ,
        "DSN": pg_dsn,
        "BOOTSTRAP": tansu.bootstrap,
        "TOPIC": topic_name,
        "GROUP": f"g-{topic_name}",
        "CATALOGUE": str(ROOT / "examples" / "lmnh" / "exhibitions"),
    }


@pytest.mark.slow
def test_ten_sigkills_lose_nothing_and_write_nothing_twice(tansu, topic_name, pg_dsn, tmp_path, setup):
    truth = produce_truth(tansu, topic_name, 100_000)
    rng = random.Random(11)
    mid_run = 0
    for attempt in range(10):
        # A fresh group each time: the killed member's partitions would otherwise wait for its session to
        # expire. Positions come from PostgreSQL either way: that is what is under test.
        env = {**setup, "GROUP": f"g-{topic_name}-{attempt}"}
        # Each kill waits for a share of the topic, so the ten land spread over it whatever the machine's speed.
        at_least = (attempt + 1) * 100_000 // 14
        mid_run += kill_after_progress(start(tmp_path, env), pg_dsn, rng, 100_000, at_least)
    assert mid_run >= 8, f"only {mid_run} of the 10 kills came while messages were left"
    # The positions in PostgreSQL say exactly what is left; the idle timeout only bounds a run that lost some.
    left = 100_000 - stored_total(pg_dsn)
    if left:
        final = start(
            tmp_path, {**setup, "GROUP": f"g-{topic_name}-final"}, "--limit", str(left), "--idle-timeout", "60"
        )
        finish(final, timeout=300)
        assert final.returncode == 0, stderr_of(final)
    assert_exactly_once(pg_dsn, truth)
    stored = rows(pg_dsn, "SELECT sum(next_offset) FROM lmnh_pipes_offsets WHERE pipeline = 'kiosk-exactly-once'")
    assert stored == [(100_000,)]


@pytest.mark.slow
def test_two_group_members_with_one_killed(tansu, topic_name, pg_dsn, tmp_path, setup):
    truth = produce_truth(tansu, topic_name, 40_000)
    rng = random.Random(5)
    steady = start(tmp_path, setup)
    for _ in range(2):
        kill_after_progress(start(tmp_path, setup), pg_dsn, rng, 40_000)
    # The steady member takes the killed members' partitions once their sessions expire, and writes the rest.
    stop_when_stored(steady, pg_dsn, 40_000)
    assert steady.returncode == 0, stderr_of(steady)
    assert_exactly_once(pg_dsn, truth)


def test_two_members_under_the_cooperative_assignor(tansu, topic_name, pg_dsn, tmp_path, setup):
    # Under cooperative-sticky, partitions come and go by increments, and assign() would be refused. Two members
    # share the topic; the first stops after 10,000 messages, and its partitions move to the second, which starts
    # them at the positions stored in PostgreSQL.
    env = {**setup, "STRATEGY": "cooperative-sticky"}
    truth = produce_truth(tansu, topic_name, 30_000)
    first = start(tmp_path, env, "--limit", "10000")
    second = start(tmp_path, env)
    reads = []
    for proc, out in ((first, finish(first, timeout=180)), (second, stop_when_stored(second, pg_dsn, 30_000))):
        assert proc.returncode == 0, stderr_of(proc)
        reads.append(json.loads(out)["read"])
    assert_exactly_once(pg_dsn, truth)
    assert reads[0] == 10_000
    assert reads[1] >= 20_000, f"the second member read {reads[1]}, not the first one's partitions: {stderr_of(second)}"
