"""The museum's story on the quickstart's CSV files: presses from exhibitions missing from the catalogue are
rejected by ``exhibition``; the exhibitions' files are added; ``lmnh-pipes replay --rule exhibition`` appends them
to rating.csv and request.csv and takes them out of rejects.csv, once, even when it is SIGKILLed half-way."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import lmnh_pipes
from lmnh_pipes.cli import main

ROOT = Path(__file__).resolve().parents[3]
LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")
OUT = Path("out/quickstart")
NEW = ("EXH_06", "EXH_07", "EXH_08")  # rejected today; their files arrive late. EXH_09 and later stay unknown.
#: The CLI, in a process that SIGKILLs itself when the replay first settles: its rows are written, not settled.
KILLED_BEFORE_SETTLING = """\
import os, signal, sys
from lmnh_pipes.cli import main
from lmnh_pipes_files import CsvSink
CsvSink.settle = lambda self, settlement: os.kill(os.getpid(), signal.SIGKILL)
main(sys.argv[1:])
"""


@pytest.fixture
def quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/ as the working directory, and the quickstart run in it."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("out", "build"))
    monkeypatch.chdir(tmp_path)
    lmnh_pipes.load("examples/quickstart.yaml").run(handle_signals=False)
    return tmp_path


def add_the_new_exhibitions() -> None:
    folder = Path("examples/lmnh/exhibitions")
    template = json.loads((folder / "lmnh_exhibition_bugs.json").read_text())
    for ident in NEW:
        exhibition = {**template, "EXHIBITION_ID": ident, "EXHIBITION_NAME": f"New gallery {ident}"}
        (folder / f"lmnh_exhibition_{ident.lower()}.json").write_text(json.dumps(exhibition))


def files() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(OUT.iterdir())}


def rows(data: bytes) -> list[tuple[bytes, list[str]]]:
    """A CSV file's rows after its header, each as its bytes and its cells (a quickstart row is one line)."""
    lines = data.split(b"\r\n")[:-1]
    cells = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert len(cells) == len(lines)
    return list(zip(lines, cells, strict=True))[1:]


def replay_cli(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["replay", "examples/quickstart.yaml", "--json", *args])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def from_the_start() -> dict[str, bytes]:
    """What the quickstart writes when the exhibitions' files are there from the start."""
    config = Path("examples/quickstart.yaml").read_text().replace("out/quickstart/", "out/fresh/")
    Path("examples/fresh.yaml").write_text(config)
    lmnh_pipes.load("examples/fresh.yaml").run(handle_signals=False)
    return {path.name: path.read_bytes() for path in sorted(Path("out/fresh").iterdir())}


def without_replays(data: bytes) -> list[list[str]]:
    """The rejects file's rows, without the count of replays."""
    columns = ["meta.offset", "reject.validator", "reject.rule", "reject.reason", "reject.replays", "raw"]
    assert data.startswith(",".join(columns).encode() + b"\r\n")
    return [cells[:4] + cells[5:] for _, cells in rows(data)]


def test_the_late_exhibitions_are_replayed_into_their_files_once(quickstart):
    before = files()
    exhibition = [line for line, cells in rows(before["rejects.csv"]) if cells[2] == "exhibition"]
    assert len(exhibition) > 100
    add_the_new_exhibitions()

    dry = replay_cli("--rule", "exhibition", "--dry-run")
    assert files() == before, "a dry run changed a file"
    assert (dry["read"], dry["chosen"]) == (len(rows(before["rejects.csv"])), len(exhibition))

    report = replay_cli("--rule", "exhibition")
    assert report["delivery"].startswith("exactly-once, journaled")
    for key in ("chosen", "accepted", "still_rejected", "still_rejected_by"):
        assert report[key] == dry[key], key
    assert report["written"] == report["accepted"] > 40
    after = files()
    assert sorted(after) == ["rating.csv", "rejects.csv", "request.csv"]  # no journal, no temporary file left

    # The rows are appended: each file holds what it held, then the late presses.
    for name in ("rating.csv", "request.csv"):
        assert after[name].startswith(before[name])
    appended = sum(len(rows(after[n])) - len(rows(before[n])) for n in ("rating.csv", "request.csv"))
    assert appended == report["accepted"]
    # Every other reject is untouched, byte for byte, in its order; the chosen ones still refused count a replay.
    untouched = [line for line, cells in rows(after["rejects.csv"]) if cells[4] == "0"]
    assert untouched == [line for line, cells in rows(before["rejects.csv"]) if cells[2] != "exhibition"]
    assert sum(cells[4] == "1" for _, cells in rows(after["rejects.csv"])) == report["still_rejected"]
    # The files now hold what they would have, had the exhibitions' files been there from the start: the same
    # rows (the late ones last), and the same rejects in the same order.
    fresh = from_the_start()
    for name in ("rating.csv", "request.csv"):
        assert sorted(rows(after[name])) == sorted(rows(fresh[name]))
    assert without_replays(after["rejects.csv"]) == without_replays(fresh["rejects.csv"])

    again = replay_cli("--rule", "exhibition")
    unknown = [c["count"] for c in report["still_rejected_by"] if c["rule"] == "exhibition"]  # EXH_09 and later
    assert (again["chosen"], again["accepted"], again["written"]) == (*unknown, 0, 0)
    final = files()
    assert {n: final[n] for n in ("rating.csv", "request.csv")} == {n: after[n] for n in ("rating.csv", "request.csv")}
    assert without_replays(final["rejects.csv"]) == without_replays(after["rejects.csv"])


def assert_as_from_the_start(fresh: dict[str, bytes]) -> None:
    now = files()
    assert sorted(now) == ["rating.csv", "rejects.csv", "request.csv"]
    for name in ("rating.csv", "request.csv"):
        assert sorted(rows(now[name])) == sorted(rows(fresh[name])), f"{name}: a row lost or written twice"
    assert without_replays(now["rejects.csv"]) == without_replays(fresh["rejects.csv"]), "a reject lost or kept twice"


def test_a_replay_killed_between_its_rows_and_its_settlement_is_undone_and_done_once(quickstart):
    add_the_new_exhibitions()
    fresh = from_the_start()
    before = files()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BEFORE_SETTLING, "replay", "examples/quickstart.yaml", "--rule", "exhibition"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    journal = json.loads((OUT / "rejects.csv.replay-journal").read_text())
    assert journal["state"] == "begun"
    assert len(files()["rating.csv"]) > len(before["rating.csv"])  # the rows are written, the rejects not settled
    assert files()["rejects.csv"] == before["rejects.csv"]

    run = subprocess.run([LMNH_PIPES, "run", "examples/quickstart.yaml"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "was cut short" in run.stderr + run.stdout
    assert files()["rating.csv"].startswith(before["rating.csv"]), "the refused run touched the sink's files"

    again = subprocess.run(
        [LMNH_PIPES, "replay", "examples/quickstart.yaml", "--rule", "exhibition", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert "an earlier replay did not finish" in again.stderr
    assert_as_from_the_start(fresh)
    assert all(cells[4] in ("0", "1") for _, cells in rows(files()["rejects.csv"]))  # the undone batch counts once


def sizes() -> list[int]:
    """The sizes of the quickstart's three files, while a replay may be renaming one."""
    return [(OUT / name).stat().st_size for name in ("rating.csv", "rejects.csv", "request.csv")]


def test_replays_killed_at_random_moments_lose_nothing_and_write_nothing_twice(quickstart):
    add_the_new_exhibitions()
    fresh = from_the_start()
    config = Path("examples/quickstart.yaml")
    config.write_text(config.read_text() + "batch: {max_records: 20}\n")  # many batches for the kills to land in
    rng = random.Random(13)
    kills = 0
    for _ in range(3):
        before = sizes()
        proc = subprocess.Popen(
            [LMNH_PIPES, "replay", str(config), "--rule", "exhibition"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if sizes() != before:
                break  # it is replaying: kill it a moment later
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.1))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        for name in ("rating.csv", "request.csv"):
            got = [line for line, _ in rows(files()[name])]
            assert len(got) == len(set(got)), f"{name}: a row written twice"
            assert set(got) <= {line for line, _ in rows(fresh[name])}
    assert kills >= 2, "the replays ended before they could be killed"
    replay_cli("--rule", "exhibition")
    assert_as_from_the_start(fresh)
