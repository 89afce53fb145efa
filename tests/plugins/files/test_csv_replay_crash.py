"""A replay from a CSV rejects file into CSV files, SIGKILLed before each step that makes something durable (an
fsync, a rename, a removal, a cut), then replayed again: every reject now accepted is one row, exactly once, and
every reject still refused is still a reject, once."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmnh_pipes import Record
from lmnh_pipes.replay import ReplayReport, replay
from lmnh_pipes.testing import ListSource
from lmnh_pipes_files import CsvSink

COUNT = 20
BROKEN = {n for n in range(COUNT) if n % 3 == 0}  # still refused after the fix


class Fixed:
    """The validators after the fix: JSON decoded; ``n`` divisible by 3 still refused."""

    name = "fixed"

    def validate(self, record: Record) -> Record:
        value = json.loads(record.raw)
        if value["n"] % 3 == 0:
            return record.rejected_by("fixed", f"n {value['n']} is still wrong", "three")
        return record.with_value(value)


def make_rejects(folder: Path) -> None:
    """COUNT rejects of ratings and requests, refused by a rule that has since been fixed."""
    sink = CsvSink(path=str(folder / "rejects.csv"))
    sink.open()
    kinds = ["rating", "request"]
    sink.write(
        [
            Record(raw=json.dumps({"n": n, "kind": kinds[n % 2]}).encode()).rejected_by(
                "kiosk", "missing", "exhibition"
            )
            for n in range(COUNT)
        ]
    )
    sink.close()


def replay_into(folder: Path) -> ReplayReport:
    return replay(
        pipeline="crash",
        source=ListSource([]),
        validators=[Fixed()],
        sink=CsvSink(path=str(folder / "out" / "{}.csv"), split_by="kind", columns=["n", "kind"]),
        store=CsvSink(path=str(folder / "rejects.csv")),
        batch_size=7,
    )


def _dies_at(point: int, calls: list[int]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            if calls[0] == point:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        return step

    return wrap


def replay_killed_at(folder: Path, point: int) -> bool:
    """Replay in a child process that SIGKILLs itself before its ``point``-th durable step; whether it did."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            dies = _dies_at(point, [0])
            os.fsync, os.replace, os.remove, os.ftruncate = map(dies, (os.fsync, os.replace, os.remove, os.ftruncate))
            replay_into(folder)
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, "the replay failed (its traceback is in the captured stderr)"
    return False


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def assert_exactly_once(folder: Path) -> None:
    written = Counter(int(row["n"]) for path in (folder / "out").glob("*.csv") for row in rows(path))
    assert written == Counter(n for n in range(COUNT) if n not in BROKEN), "a row was lost or written twice"
    kept = Counter(json.loads(row["raw"])["n"] for row in rows(folder / "rejects.csv"))
    assert kept == Counter(BROKEN), "a reject was lost or kept twice"
    assert sorted(p.name for p in folder.iterdir()) == ["out", "rejects.csv"]  # no journal, no temporary file
    for path in (folder / "out").glob("*.csv"):
        assert path.read_text().count("n,kind") == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the child that kills itself is forked")
def test_a_replay_killed_at_any_step_and_replayed_again_writes_each_row_once(tmp_path):
    template = tmp_path / "template"
    template.mkdir()
    make_rejects(template)
    point = 0
    while True:
        point += 1
        folder = tmp_path / f"kill-{point}"
        shutil.copytree(template, folder)
        if not replay_killed_at(folder, point):
            break  # the replay finished before this step: every step was tried
        second = replay_killed_at(folder, point % 7 + 1)  # recovering may be cut short too
        report = replay_into(folder)
        assert report.rejected == len(BROKEN)
        assert_exactly_once(folder)
        assert second or report.read == len(BROKEN)
    assert point > 3 * 10  # three batches, each with at least ten durable steps
    assert_exactly_once(folder)
