"""The museum's replay story, with Tansu and PostgreSQL: an exhibition's presses arrive before its file reaches the
catalogue and are rejected by ``exhibition``; the file is added; ``lmnh-pipes replay --rule exhibition`` writes
them to their tables, once, in the transaction that removes them from kiosk_reject.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.plugins.postgres.kiosk_db import EXHIBITIONS, SCHEMA, exhibition_rows, rows
from tests.plugins.postgres.test_exactly_once import (
    PIPELINE,
    assert_exactly_once,
    produce_truth,
    stop_when_stored,
    stored_total,
    table_contents,
    written,
)
from tests.plugins.postgres.test_exactly_once import start as start_run
from tests.reliability.helpers import Run, environment

MISSING = "EXH_03"  # the exhibition whose file is late
N = 3000


def _missing_file() -> Path:
    return next(p for p in EXHIBITIONS if json.loads(p.read_text())["EXHIBITION_ID"] == MISSING)


def late_museum(dsn: str, directory: Path) -> Path:
    """The museum's database, and a catalogue in ``directory``, both without MISSING; the catalogue."""
    catalogue = directory / "exhibitions"
    catalogue.mkdir()
    for path in EXHIBITIONS:
        if path != _missing_file():
            shutil.copy(path, catalogue)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        for row in exhibition_rows():
            if row[0] != MISSING:
                conn.execute("INSERT INTO exhibition_file VALUES (%s, %s, %s, %s, %s, %s)", row)
    return catalogue


@pytest.fixture
def museum(tansu, topic_name, pg_dsn, tmp_path):
    """The museum's database and catalogue without MISSING, a run over N presses, and the truth to compare with."""
    catalogue = late_museum(pg_dsn, tmp_path)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE.replace("max_records: 1000", "max_records: '${BATCH:-1000}'"))
    env = environment(pg_dsn, tansu.bootstrap, topic_name, CATALOGUE=str(catalogue))
    truth = produce_truth(tansu, topic_name, N)
    out = stop_when_stored(start_run(tmp_path, env), pg_dsn, N)
    assert json.loads(out)["read"] == N
    return {"env": env, "truth": truth, "catalogue": catalogue, "dir": tmp_path, "dsn": pg_dsn}


def _add_the_exhibition(museum: dict[str, Any]) -> None:
    shutil.copy(_missing_file(), museum["catalogue"])
    row = next(r for r in exhibition_rows() if r[0] == MISSING)
    with psycopg.connect(museum["dsn"], autocommit=True) as conn:
        conn.execute("INSERT INTO exhibition_file VALUES (%s, %s, %s, %s, %s, %s)", row)


def _replay(museum: dict[str, Any], *args: str) -> dict[str, Any]:
    proc = Run(["replay", str(museum["dir"] / "pipeline.yaml"), "--json", *args], museum["env"])
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, proc.err()[-3000:]
    report: dict[str, Any] = json.loads(out)
    return report


def _rejects(dsn: str) -> dict[int, tuple[Any, ...]]:
    query = (
        'SELECT kiosk_reject_id, topic, "partition", "offset", validator, rule, reason, raw, key, "timestamp", replays '
        "FROM kiosk_reject"
    )
    return {r[0]: r[1:] for r in rows(dsn, query)}


def _state(dsn: str) -> dict[str, Any]:
    """Everything a replay may change: the rows, the rejects, the stored positions."""
    return {
        "rating": rows(dsn, "SELECT * FROM rating_interaction ORDER BY 1"),
        "request": rows(dsn, "SELECT * FROM request_interaction ORDER BY 1"),
        "rejects": _rejects(dsn),
        "positions": rows(
            dsn, "SELECT pipeline, topic, partition, next_offset FROM lmnh_pipes_offsets ORDER BY 1, 2, 3"
        ),
    }


def _by_exhibition_rule(dsn: str) -> set[int]:
    """The rejects of the exhibition rule: those the late exhibition caused, and those of unknown sites."""
    return {i for i, r in _rejects(dsn).items() if r[4] == "exhibition"}


def test_a_replay_after_the_catalogue_is_fixed_writes_the_late_exhibition_once(museum):
    dsn = museum["dsn"]
    chosen = _by_exhibition_rule(dsn)
    late = {i for i in chosen if MISSING in _rejects(dsn)[i][5]}
    assert len(late) > 50, "the late exhibition should have caused many rejects"
    assert len(chosen) > len(late), "some presses name sites that are no exhibition at all"
    _add_the_exhibition(museum)

    before = _state(dsn)
    dry = _replay(museum, "--rule", "exhibition", "--dry-run")
    assert _state(dsn) == before, "a dry run changed something"
    assert dry["dry_run"] is True
    assert dry["chosen"] == len(chosen)
    assert dry["read"] == len(before["rejects"])

    report = _replay(museum, "--rule", "exhibition")
    assert report["delivery"].startswith("exactly-once")
    assert (report["chosen"], report["accepted"], report["still_rejected"]) == (
        dry["chosen"],
        dry["accepted"],
        dry["still_rejected"],
    )
    assert report["still_rejected_by"] == dry["still_rejected_by"]
    assert report["written"] == report["accepted"] > 0
    # Now the tables hold exactly what they would have, had the file been there from the start.
    assert_exactly_once(dsn, museum["truth"])
    after = _rejects(dsn)
    # Every other reject is untouched, byte for byte.
    assert {i: r for i, r in after.items() if i not in chosen} == {
        i: r for i, r in before["rejects"].items() if i not in chosen
    }
    # Those chosen and still refused (at night, say, or no exhibition at all) have their new reason and one replay
    # counted; none of the late exhibition is refused by its rule any more.
    assert not late & {i for i in after if after[i][4] == "exhibition"}
    for i in chosen & set(after):
        assert after[i][-1] == 1
        assert after[i][:3] == before["rejects"][i][:3]
        assert after[i][6:9] == before["rejects"][i][6:9], "raw, key or timestamp changed"
    assert len(chosen & set(after)) == report["still_rejected"]
    assert len(chosen - set(after)) == report["accepted"]
    assert _state(dsn)["positions"] == before["positions"], "a replay moved the pipeline's positions"

    again = _replay(museum, "--rule", "exhibition")
    assert again["written"] == 0
    assert again["chosen"] == report["still_rejected_by"][0]["count"]  # the unknown sites, refused again
    assert_exactly_once(dsn, museum["truth"])


def test_a_replay_killed_again_and_again_loses_nothing_and_writes_nothing_twice(museum):
    dsn = museum["dsn"]
    _add_the_exhibition(museum)
    assert kill_replays(museum, random.Random(3)) >= 2, "the replays ended before they could be killed"
    _replay(museum, "--rule", "exhibition")
    assert_exactly_once(dsn, museum["truth"])
    assert stored_total(dsn) == N


def kill_replays(museum: dict[str, Any], rng: random.Random, times: int = 4) -> int:
    """Start ``lmnh-pipes replay --rule exhibition`` ``times`` times, in batches of 10 (so that kills land between
    and inside transactions), each SIGKILLed at a random moment after it wrote a row; after each, no press may be
    in its table twice. How many were killed before they ended."""
    dsn = museum["dsn"]
    env = {**museum["env"], "BATCH": "10"}
    kills = 0
    for _ in range(times):
        before = written(dsn)
        proc = Run(["replay", str(museum["dir"] / "pipeline.yaml"), "--rule", "exhibition"], env)
        while proc.poll() is None and written(dsn) == before:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.1))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=30)
        assert_nothing_twice(dsn, museum["truth"])
    return kills


def assert_nothing_twice(dsn: str, truth: dict[str, Any]) -> None:
    """No press is in its table more often than the truth has it."""
    got = table_contents(dsn)
    for kind in ("rating", "request"):
        assert not got[kind] - truth[kind], f"a {kind} was written twice"
