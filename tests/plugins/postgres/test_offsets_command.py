"""``lmnh-pipes offsets`` for an exactly-once pipeline: its positions are in PostgreSQL, beside the rows."""

from __future__ import annotations

import json

from click.testing import CliRunner

from lmnh_pipes.cli import main
from tests.plugins.postgres.kiosk_db import create_schema, rows
from tests.reliability.helpers import PARTITIONS, PIPELINE, environment, finish, produce, simulate, start

#: A reset backwards reads rejects again: kiosk_reject's unique coordinates then refuse them, unless the rejects
#: sink skips what it holds, as the museum's pipeline file does.
KEEPING_REJECTS = PIPELINE.replace(
    "  table: kiosk_reject\n",
    "  table: kiosk_reject\n  conflict_key: [topic, partition, offset]\n  on_conflict: nothing\n",
)
assert KEEPING_REJECTS != PIPELINE


def stored(dsn: str, pipeline: str) -> dict[int, int]:
    found = rows(dsn, f"SELECT partition, next_offset FROM lmnh_pipes_offsets WHERE pipeline = '{pipeline}'")
    return {int(p): int(o) for p, o in found}


def test_offsets_in_postgres_show_what_the_next_run_resumes_from_and_move_in_one_transaction(
    tansu, topic_name, pg_dsn, tmp_path
):
    create_schema(pg_dsn)
    tansu.create_topic(topic_name, partitions=PARTITIONS)
    values, _ = simulate(60)
    produce(tansu.bootstrap, topic_name, values)
    path = tmp_path / "pipeline.yaml"
    path.write_text(KEEPING_REJECTS)
    env = environment(pg_dsn, tansu.bootstrap, topic_name)
    # Done at the 60th record (the idle timeout only bounds a run that lost some): a run that read a record twice
    # would fall short of 20 in some partition below.
    report, _ = finish(start(path, env, "--limit", "60", "--idle-timeout", "30"))
    assert report["read"] == 60

    def offsets(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["offsets", str(path), *args], env=env)
        return result.exit_code, result.output

    code, text = offsets("--json")
    assert code == 0, text
    view = json.loads(text)
    assert view["in_sink"] is True
    shown = {r["partition"]: (r["stored"], r["kept_by"]) for r in view["partitions"]}
    assert shown == dict.fromkeys(range(PARTITIONS), (20, "sink"))
    assert stored(pg_dsn, "kiosk-exactly-once") == dict.fromkeys(range(PARTITIONS), 20)

    code, text = offsets("--reset", "earliest", "--partition", "0", "--dry-run")
    assert code == 0, text
    assert "dry run" in text
    assert stored(pg_dsn, "kiosk-exactly-once") == dict.fromkeys(range(PARTITIONS), 20)

    code, text = offsets("--reset", "15", "--partition", "0", "--partition", "2", "--json")
    assert code == 0, text
    assert [(m["partition"], m["old"], m["new"]) for m in json.loads(text)["moves"]] == [(0, 20, 15), (2, 20, 15)]
    assert stored(pg_dsn, "kiosk-exactly-once") == {0: 15, 1: 20, 2: 15}

    # The next run starts there: it reads the five records after 15 in partitions 0 and 2, and nothing else.
    report, _ = finish(start(path, env, "--idle-timeout", "4"))
    assert report["read"] == 10
    assert stored(pg_dsn, "kiosk-exactly-once") == dict.fromkeys(range(PARTITIONS), 20)

    code, text = offsets("--reset", "earliest", "--partition", "7")
    assert code == 2
    assert "no partition 7" in text
