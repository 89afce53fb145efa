"""A row that the database refuses (here: a CHECK constraint against one exhibition's ratings) lands in the
rejects with the database's message, and the other rows of its batch land in their tables, exactly once."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.postgres import execute
from tests.plugins.postgres.kiosk_db import create_schema, rows
from tests.plugins.postgres.test_exactly_once import assert_exactly_once, describe, table_contents

from .helpers import (
    PARTITIONS,
    PIPELINE,
    environment,
    produce,
    served,
    simulate,
    start,
    stop,
    stop_when_written,
    truth_of,
)

CONSTRAINT = "no_exh_3"

POSTGRES_REJECTS = """\
rejects:
  type: postgres
  <<: *db
  table: kiosk_reject
"""
CSV_REJECTS = """\
rejects:
  type: csv
  path: ${OUT}/rejects.csv
  columns: [meta.partition, meta.offset, reject.validator, reject.rule, reject.reason, raw]
"""
assert POSTGRES_REJECTS in PIPELINE


def refuse_exhibition_3(dsn: str) -> None:
    (exh_3,) = rows(dsn, "SELECT exhibition_id FROM exhibition WHERE exhibition_public_id = 'EXH_03'")[0]
    execute(dsn, f"ALTER TABLE rating_interaction ADD CONSTRAINT {CONSTRAINT} CHECK (exhibition_id <> {int(exh_3)})")


def csv_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
@pytest.mark.parametrize("rejects_to", ["postgres", "csv"])
def test_rows_the_database_refuses_are_rejected_with_its_message_and_the_rest_is_written(
    tansu, topic_name, pg_dsn, tmp_path: Path, rejects_to: str
):
    create_schema(pg_dsn)
    refuse_exhibition_3(pg_dsn)
    pipeline = PIPELINE if rejects_to == "postgres" else PIPELINE.replace(POSTGRES_REJECTS, CSV_REJECTS)
    (tmp_path / "pipeline.yaml").write_text(pipeline)
    tansu.create_topic(topic_name, partitions=PARTITIONS)
    values, expected = simulate(6_000, seed=13)
    produce(tansu.bootstrap, topic_name, values)
    truth = served(tansu.bootstrap, topic_name)
    proc = start(tmp_path / "pipeline.yaml", environment(pg_dsn, tansu.bootstrap, topic_name, OUT=str(tmp_path)))
    try:
        stop_when_written(proc, pg_dsn, len(truth), timeout=60)
    finally:
        stop(proc)

    # What the database must refuse: every valid rating of EXH_03 ("site": "3").
    refused = {where for where, raw in truth.items() if expected[raw] == "rating" and int(json.loads(raw)["site"]) == 3}
    assert refused, "no rating of EXH_03 in the traffic: nothing tested"
    want = truth_of(truth, expected)
    want["rating"] = Counter({k: n for k, n in want["rating"].items() if k[0] != "EXH_03"})
    want["rejected"] = want["rejected"] | refused

    if rejects_to == "postgres":
        assert_exactly_once(pg_dsn, want)
        by_database = rows(pg_dsn, 'SELECT "partition", "offset", validator, reason FROM kiosk_reject')
    else:
        got = table_contents(pg_dsn)
        assert got["rating"] == want["rating"], "ratings differ: " + describe(got["rating"], want["rating"])
        assert got["request"] == want["request"], "requests differ: " + describe(got["request"], want["request"])
        lines = csv_rejects(tmp_path / "rejects.csv")
        at = Counter((int(r["meta.partition"]), int(r["meta.offset"])) for r in lines)
        assert max(at.values()) == 1, "a reject was written twice"
        assert set(at) == want["rejected"]
        by_database = [
            (int(r["meta.partition"]), int(r["meta.offset"]), r["reject.validator"], r["reject.reason"]) for r in lines
        ]
    reasons = {(p, o): (validator, reason) for p, o, validator, reason in by_database}
    for where in refused:
        validator, reason = reasons[where]
        assert validator == "postgres", f"{where}: rejected by {validator!r}, not the postgres sink"
        assert CONSTRAINT in reason, f"{where}: the reason does not give the database's message: {reason!r}"
    assert {v for w, (v, _) in reasons.items() if w not in refused} == {"kiosk"}
