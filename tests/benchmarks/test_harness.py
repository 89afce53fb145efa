"""The benchmark harness cannot rot: it runs every variant but the peers on a tiny input and the row counts match the
truth.

No speed is asserted: the figures of a tiny run on a shared machine mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.data import Counts, Topic
from benchmarks.profiling import rank
from benchmarks.report import CPU_RATIOS, RATIOS
from benchmarks.variants import VARIANTS

ROOT = Path(__file__).resolve().parents[2]

#: benchmarks/run.py with the tests' consumer-group settings: the harness's own (benchmarks/context.py) make each
#: of its seven group joins wait 3 s on Tansu, those of tests/fixtures/kafka.py 1 s. No speed is asserted here, and
#: every variant still joins a group, reads, writes and is checked against the truth.
RUN = (
    "import sys; from benchmarks.context import GROUP_SETTINGS; from benchmarks.run import main; "
    "from tests.fixtures.kafka import FAST_GROUP; GROUP_SETTINGS.update(FAST_GROUP); sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.slow
def test_every_variant_produces_a_figure_and_the_truth(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    command = [sys.executable, "-c", RUN, "--messages", "3000", "--runs", "1"]
    # The peers need their own environment, made with a download: tests/benchmarks/test_peers.py says what is tested.
    command += ["--cap", "300", "--executemany-cap", "1000", "--output", str(out), "--no-peers"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "check: every variant wrote the truth" in done.stdout
    document = json.loads(out.read_text())
    assert document["ok"] is True
    assert document["errors"] == {}
    ours = {name for name, variant in VARIANTS.items() if not variant.peer}
    assert set(document["variants"]) == ours
    for name, figures in document["variants"].items():
        assert figures["median"] > 0, name
        assert figures["rows_ok"] is True, (name, figures["rows"], figures["truth"])
        assert len(figures["runs"]) == 1, name
        assert figures["cpu_s"] >= 0, name
    measured = [(name, top, bottom) for name, top, bottom in (*RATIOS, *CPU_RATIOS) if {top, bottom} <= ours]
    assert set(document["ratios"]) == {name for name, _, _ in measured}
    assert all(document["ratios"][name] > 0 for name, _, _ in measured)
    assert document["variants"]["naive"]["messages"] == 300
    machine = document["machine"]
    assert machine["cores"] > 0
    assert machine["libraries"]["lmnh-pipes"]
    assert "peers" not in machine["libraries"]


def test_truth_of_prefixes_takes_each_partitions_first_messages() -> None:
    # Message i is at partition i % 3, offset i // 3; kinds: 0 rating, 1 request, 2 reject.
    topic = Topic(name="t", raws=[b""] * 7, kinds=bytes([0, 1, 2, 2, 0, 0, 1]))
    assert topic.truth == Counts(ratings=3, requests=2, rejects=2)
    assert topic.partition_sizes() == {0: 3, 1: 2, 2: 2}
    # Partition 0: messages 0, 3; partition 1: message 1; partition 2: none.
    assert topic.truth_of_prefixes({0: 2, 1: 1, 2: 0}) == Counts(ratings=1, requests=1, rejects=1)
    # With --partitions 2: message i is at partition i % 2, offset i // 2.
    two = Topic(name="t", raws=[b""] * 7, kinds=bytes([0, 1, 2, 2, 0, 0, 1]), partitions=2)
    assert two.partition_sizes() == {0: 4, 1: 3}
    assert two.truth_of_prefixes({0: 3, 1: 1}) == Counts(ratings=2, requests=1, rejects=1)


def test_rank_orders_functions_by_own_and_total_samples() -> None:
    folded = "\n".join(
        [
            "main (a.py:1);loop (a.py:5);decode (b.py:9) 6",
            "main (a.py:1);loop (a.py:6);decode (b.py:10) 2",
            "main (a.py:1);loop (a.py:7) 2",
        ]
    )
    text = rank(folded, top=2)
    own = text.split("functions by own time:")[1].split("\n\n")[0]
    assert own.strip().splitlines()[0].split() == ["80.0%", "decode", "(b.py)"]
    files = text.split("files by own time:")[1].split("\n\n")[0]
    assert files.strip().splitlines()[0].split() == ["80.0%", "b.py"]
    total = text.split("by total time")[1]
    assert "main (a.py)" not in total  # on every stack
    assert "80.0%  decode (b.py)" in total


def test_rank_leaves_out_each_threads_own_callers() -> None:
    folded = "\n".join(
        [
            "thread (1): MainThread;main (a.py:1);loop (a.py:5);validate (v.py:3) 6",
            "thread (2): writer;bootstrap (t.py:1);write (w.py:2);copy (c.py:7) 4",
        ]
    )
    text = rank(folded)
    assert "by thread: MainThread 60.0%, writer 40.0%" in text
    total = text.split("by total time")[1]
    assert "main (a.py)" not in total  # on all the main thread's stacks
    assert "bootstrap (t.py)" not in total  # on all the writer's stacks
