"""The kafka source through `lmnh-pipes run`: a 200k-message run against the simulator's truth, SIGKILL and
restart with a file sink (durable at each write, or only at close), and a wrong password."""

from __future__ import annotations

import bz2
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import confluent_kafka as ck
import pytest

import lmnh_pipes
from lmnh_pipes_kiosk import KioskSimulator
from tests.fixtures.kafka import start_tansu

ROOT = Path(__file__).resolve().parents[3]
LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")

PIPELINE = """\
name: kiosk-files
source:
  type: kafka
  bootstrap_servers: ${BOOTSTRAP}
  topic: ${TOPIC}
  group_id: ${GROUP}
  options: {session.timeout.ms: 2000, heartbeat.interval.ms: 500}
validators:
  - {type: json}
  - type: kiosk
    catalogue: ${CATALOGUE}
sink:
  type: csv
  path: ${OUT}/{}.csv
  split_by: kind
  columns: [meta.partition, meta.offset, kind]
rejects:
  type: csv
  path: ${OUT}/rejects.csv
  columns: [meta.partition, meta.offset, reject.rule]
batch: {max_records: 5000, max_wait: 0.3}
"""


def fill(tansu, topic: str, n: int, partitions: int) -> dict[tuple[int, int], str]:
    """Produce ``n`` simulated messages round-robin; return (partition, offset) -> expected kind or rule."""
    tansu.create_topic(topic, partitions=partitions)
    messages = list(KioskSimulator(seed=1, clock="day").generate(n))
    tansu.produce(topic, [m.raw for m in messages], partitions=partitions)
    return {
        (i % partitions, i // partitions): (m.expected if not m.rule else f"reject:{m.rule}")
        for i, m in enumerate(messages)
    }


def read_outputs(directory: Path) -> Counter[tuple[int, int, str]]:
    seen: Counter[tuple[int, int, str]] = Counter()
    for path in directory.glob("**/*.csv"):
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                what = row["kind"] if "kind" in row else f"reject:{row['reject.rule']}"
                seen[(int(row["meta.partition"]), int(row["meta.offset"]), what)] += 1
    return seen


def complete_rows(directory: Path) -> set[tuple[int, int]]:
    """(partition, offset) of each complete row (ended by its CRLF) in files that may be being written."""
    seen: set[tuple[int, int]] = set()
    for path in directory.glob("**/*.csv"):
        for line in path.read_bytes().split(b"\r\n")[1:-1]:  # the header, and the last piece (cut or empty)
            partition, offset, _ = line.split(b",", 2)
            seen.add((int(partition), int(offset)))
    return seen


def environment(tansu, topic: str, out: Path, group: str | None = None) -> dict[str, str]:
    return {
        "BOOTSTRAP": tansu.bootstrap,
        "TOPIC": topic,
        "GROUP": group or f"g-{topic}",
        "OUT": str(out),
        "CATALOGUE": str(ROOT / "examples/lmnh/exhibitions"),
    }


@pytest.mark.slow
def test_200k_messages_in_six_partitions_match_the_truth(tansu, topic_name, tmp_path):
    truth = fill(tansu, topic_name, 200_000, partitions=6)
    (tmp_path / "p.yaml").write_text(PIPELINE)
    report = lmnh_pipes.load(tmp_path / "p.yaml", environ=environment(tansu, topic_name, tmp_path / "out")).run(
        limit=200_000, idle_timeout=30
    )
    seen = read_outputs(tmp_path / "out")
    assert max(seen.values()) == 1, "a message was written twice"
    assert {(p, o): what for p, o, what in seen} == truth
    expected_rejects = sum(1 for v in truth.values() if v.startswith("reject:"))
    assert (report.read, report.rejected) == (200_000, expected_rejects)


@pytest.mark.slow
def test_sigkill_and_restart_lose_nothing_with_a_file_sink(tansu, topic_name, tmp_path):
    truth = fill(tansu, topic_name, 60_000, partitions=3)
    (tmp_path / "p.yaml").write_text(PIPELINE.replace("max_records: 5000", "max_records: 500"))
    first = tmp_path / "run1"
    env = {**os.environ, **environment(tansu, topic_name, first)}
    proc = subprocess.Popen(
        [LMNH_PIPES, "run", str(tmp_path / "p.yaml")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while sum(read_outputs(first).values()) < 5000:
        assert time.monotonic() < deadline, "the first run wrote nothing"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    written_before = sum(read_outputs(first).values())
    assert written_before < len(truth), "killed too late to test anything"
    second = tmp_path / "run2"
    # The same group: it resumes from the offsets committed before the kill, once the killed member's session
    # has expired (about 3 s on Tansu with session.timeout.ms 2000), and a join (1 s more). Done when every
    # message is in some file; then a clean stop.
    proc = subprocess.Popen(
        [LMNH_PIPES, "run", str(tmp_path / "p.yaml"), "--json"],
        env={**os.environ, **environment(tansu, topic_name, second)},
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "run2.log").open("w"),  # a file: an unread pipe could fill up and block the run
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while complete_rows(first) | complete_rows(second) < set(truth):
            assert proc.poll() is None, (tmp_path / "run2.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "not every message was written after 180 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, (tmp_path / "run2.log").read_text()[-3000:]
    seen = read_outputs(first) + read_outputs(second)
    assert {(p, o) for p, o, _ in seen} == set(truth), "a message was lost"
    replayed = sum(seen.values()) - len(truth)
    assert replayed <= 500 * 3, f"{replayed} replayed: more than one batch per partition"
    assert json.loads(stdout)["read"] == len(truth) - written_before + replayed


def read_bz2_outputs(directory: Path) -> Counter[tuple[int, int, str]]:
    """Like :func:`read_outputs`, for ``.csv.bz2`` files; a file cut short by a kill yields no rows."""
    seen: Counter[tuple[int, int, str]] = Counter()
    for path in directory.glob("**/*.csv.bz2"):
        try:
            with bz2.open(path, "rt", newline="") as fh:
                rows = list(csv.DictReader(fh))
        except (EOFError, OSError):
            continue
        for row in rows:
            what = row["kind"] if "kind" in row else f"reject:{row['reject.rule']}"
            seen[(int(row["meta.partition"]), int(row["meta.offset"]), what)] += 1
    return seen


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets (-1 where none)."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        offsets = consumer.committed([ck.TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: max(tp.offset, -1) for tp in offsets}


@pytest.mark.slow
def test_a_sink_durable_only_at_close_holds_the_commits_so_a_sigkill_loses_nothing(tansu, topic_name, tmp_path):
    # A .bz2 stream cannot be flushed part-way: its rows are durable only when the file closes. Committing after
    # each batch, a SIGKILL would lose every row of the committed batches.
    truth = fill(tansu, topic_name, 30_000, partitions=3)
    (tmp_path / "p.yaml").write_text(
        PIPELINE.replace("max_records: 5000", "max_records: 500").replace(".csv", ".csv.bz2")
    )
    first = tmp_path / "run1"
    env = {**os.environ, **environment(tansu, topic_name, first)}
    log = tmp_path / "run1.log"
    proc = subprocess.Popen(
        [LMNH_PIPES, "--log-level", "INFO", "run", str(tmp_path / "p.yaml"), "--status-interval", "0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    try:
        deadline = time.monotonic() + 60
        while not (found := re.findall(r"written ([\d,]+)", log.read_text())) or int(found[-1].replace(",", "")) < 5000:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the first run wrote nothing"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert "the source commits only then" in log.read_text()
    assert committed(tansu.bootstrap, f"g-{topic_name}", topic_name, 3) == {0: -1, 1: -1, 2: -1}
    second = tmp_path / "run2"
    proc2 = subprocess.run(
        [LMNH_PIPES, "run", str(tmp_path / "p.yaml"), "--limit", str(len(truth)), "--idle-timeout", "60", "--json"],
        env={**os.environ, **environment(tansu, topic_name, second)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc2.returncode == 0, proc2.stderr
    seen = read_bz2_outputs(second)
    assert max(seen.values()) == 1, "a message was written twice"
    assert {(p, o): what for p, o, what in seen} == truth
    # The second run closed its files cleanly, and only then committed.
    assert committed(tansu.bootstrap, f"g-{topic_name}", topic_name, 3) == {0: 10_000, 1: 10_000, 2: 10_000}


def test_wrong_password_exits_1_fast_with_one_line_and_no_password(tmp_path):
    broker = start_tansu(tmp_path, "--authentication")
    try:
        (tmp_path / "p.yaml").write_text(
            "source: {type: kafka, bootstrap_servers: '" + broker.bootstrap + "', topic: lmnh, group_id: g,"
            " security_protocol: SASL_PLAINTEXT, sasl_mechanism: SCRAM-SHA-512, username: museum,"
            " password: '${PASSWORD}'}\nsink: {type: csv, path: out.csv}\n"
        )
        started = time.monotonic()
        proc = subprocess.run(
            [LMNH_PIPES, "run", str(tmp_path / "p.yaml")],
            capture_output=True,
            text=True,
            env={**os.environ, "PASSWORD": "Tr0ub4dor&3-secret"},
            cwd=tmp_path,
            timeout=60,
        )
        elapsed = time.monotonic() - started
    finally:
        broker.stop()
    assert proc.returncode == 1
    assert elapsed < 10
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "SASL authentication failed" in errors[0]
    assert "Tr0ub4dor&3-secret" not in proc.stdout + proc.stderr
