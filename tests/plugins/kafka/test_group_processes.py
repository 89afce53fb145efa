"""Several `lmnh-pipes run` processes in one consumer group, started and stopped while they run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")

PIPELINE = """\
name: group-test
source:
  type: kafka
  bootstrap_servers: ${BOOTSTRAP}
  topic: ${TOPIC}
  group_id: ${GROUP}
  options:               # Tansu's JoinGroup waits 1 s with these (tests/fixtures/kafka.py)
    session.timeout.ms: 2000
    heartbeat.interval.ms: 500
validators:
  - type: json
sink:
  type: csv
  path: ${OUT}
  columns: [meta.partition, meta.offset, n]
batch:
  max_records: 500
  max_wait: 0.2
"""


def start(workdir: Path, tansu, topic: str, name: str, *extra: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "BOOTSTRAP": tansu.bootstrap,
        "TOPIC": topic,
        "GROUP": f"g-{topic}",
        "OUT": str(workdir / f"{name}.csv"),
    }
    return subprocess.Popen(
        [
            LMNH_PIPES,
            "--log-level",
            "INFO",
            "run",
            str(workdir / "group.yaml"),
            "--idle-timeout",
            "60",
            "--json",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=(workdir / f"{name}.log").open("w"),  # a file: an unread pipe could fill up and block the run
        text=True,
    )


def rows_written(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def complete_ns(path: Path) -> set[bytes]:
    """The ``n`` of each complete row (ended by its CRLF) in a file that may be being written."""
    if not path.exists():
        return set()
    lines = path.read_bytes().split(b"\r\n")[1:-1]  # the header, and the last piece (cut short or empty)
    return {line.rsplit(b",", 1)[-1] for line in lines}


def wait_for_rows(path: Path, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(rows_written(path)) < at_least:
        assert time.monotonic() < deadline, f"{path.name} has fewer than {at_least} rows after {timeout} s"
        time.sleep(0.2)


def wait_for_log(path: Path, text: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert proc.poll() is None, path.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{path.name} has no {text!r} after {timeout} s"
        time.sleep(0.1)


@pytest.mark.slow
def test_three_processes_share_six_partitions_while_one_stops_and_another_starts(tansu, topic_name, tmp_path):
    total = 60_000
    tansu.create_topic(topic_name, partitions=6)
    tansu.produce(topic_name, [json.dumps({"n": i}).encode() for i in range(total // 2)], partitions=6)
    (tmp_path / "group.yaml").write_text(PIPELINE)
    procs = {name: start(tmp_path, tansu, topic_name, name) for name in ("a", "b", "c")}
    try:
        run_the_group(tansu, topic_name, tmp_path, procs, total)
    finally:
        for proc in procs.values():  # a run left going by a failure would load the machine for the next tests
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def run_the_group(tansu, topic_name: str, tmp_path: Path, procs: dict[str, subprocess.Popen[str]], total: int) -> None:
    # Stop a once the group has settled: each of the three has written (and so committed) a share. While members
    # are still joining, a commit can meet a new generation and the member lose its partitions, and then a new
    # owner re-reads from the last commit: at least once, which is not what this test is about.
    for name in ("a", "b", "c"):
        wait_for_rows(tmp_path / f"{name}.csv", 1000)
    procs["a"].send_signal(signal.SIGTERM)
    out_a, _ = procs["a"].communicate(timeout=60)
    assert procs["a"].returncode == 0, (tmp_path / "a.log").read_text()[-3000:]
    assert json.loads(out_a)["stopped_by"] == "signal"
    procs["d"] = start(tmp_path, tansu, topic_name, "d")
    # d must be in the group before the second half is produced, or b and c could read all of it. It logs its
    # partitions once the group has taken it in.
    wait_for_log(tmp_path / "d.log", f"assigned {topic_name}[", procs["d"])
    tansu.produce(topic_name, [json.dumps({"n": i}).encode() for i in range(total // 2, total)], partitions=6)
    # Done when every message is in some file (counting what was written is how a test decides "done" on Tansu:
    # its watermarks are wrong after batches); then a clean stop. A duplicate written meanwhile still shows below.
    deadline = time.monotonic() + 180
    while len(set().union(*(complete_ns(tmp_path / f"{name}.csv") for name in procs))) < total:
        assert time.monotonic() < deadline, "not every message was written after 180 s"
        time.sleep(0.2)
    for name in ("b", "c", "d"):
        procs[name].send_signal(signal.SIGTERM)
    for name in ("b", "c", "d"):
        procs[name].communicate(timeout=60)
        assert procs[name].returncode == 0, (tmp_path / f"{name}.log").read_text()[-3000:]
    written = [int(r["n"]) for name in procs for r in rows_written(tmp_path / f"{name}.csv")]
    assert len(written) == total, f"{len(written) - len(set(written))} duplicates, {total - len(set(written))} lost"
    assert sorted(written) == list(range(total))
    per_process = {name: len(rows_written(tmp_path / f"{name}.csv")) for name in procs}
    assert all(per_process[name] > 0 for name in ("a", "d")), per_process
