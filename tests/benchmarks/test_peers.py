"""The peers' parts that run without their environment: the workers' arguments, the rows they write, the variant
selection, and the duplicates count.

The Quix and Bytewax runs themselves are not tested here: they need ``benchmarks/.peers-venv``, made with a
download, so the harness test leaves the peers out (``--no-peers``) and ``python benchmarks/run.py`` is how they are
checked (BENCHMARKS.md).
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tomllib
from pathlib import Path

import msgspec
import pytest

from benchmarks.data import CATALOGUE, Counts, simulate
from benchmarks.kiosk_rows import COLUMNS, RATING, REJECT, REQUEST, TABLES, as_mapping, converter, table_of
from benchmarks.peer_runs import duplicates
from benchmarks.peers.bytewax_worker import parse_args as parse_bytewax_args
from benchmarks.peers.environment import worker_env
from benchmarks.peers.quix_worker import parse_args, postgres_params
from benchmarks.run import parse_args as parse_run_args
from benchmarks.run import selected
from benchmarks.variants import VARIANTS
from lmnh_pipes_kiosk import KioskValidator

ROOT = Path(__file__).resolve().parents[2]
_WORKER_ARGS = ["--bootstrap", "127.0.0.1:9092", "--dsn", "dbname=x", "--topic", "t", "--group", "g"]
_WORKER_ARGS += ["--messages", "10", "--sink", "copy", "--catalogue", "c", "--state-dir", "s"]


def test_the_worker_takes_its_arguments() -> None:
    args = parse_args(_WORKER_ARGS)
    assert (args.bootstrap, args.dsn, args.topic, args.group) == ("127.0.0.1:9092", "dbname=x", "t", "g")
    assert (args.messages, args.sink, args.catalogue, args.state_dir) == (10, "copy", "c", "s")


@pytest.mark.parametrize("change", [["--sink", "csv"], ["--messages", "0"]], ids=["unknown sink", "no messages"])
def test_the_worker_refuses_bad_arguments(change: list[str]) -> None:
    argv = list(_WORKER_ARGS)
    at = argv.index(change[0])
    argv[at + 1] = change[1]
    with pytest.raises(SystemExit):
        parse_args(argv)


@pytest.mark.parametrize(("worker", "library"), [("quix_worker", "quixstreams"), ("bytewax_worker", "bytewax")])
def test_a_worker_module_imports_no_peer(worker: str, library: str) -> None:
    # In a fresh interpreter of the project's environment, where the peers are not installed.
    code = f"import sys, benchmarks.peers.{worker}; assert {library!r} not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_bytewax_worker_takes_its_arguments() -> None:
    argv = ["--bootstrap", "b:1", "--dsn", "dbname=x", "--topic", "t", "--messages", "3", "--catalogue", "c"]
    args = parse_bytewax_args([*argv, "--recovery-dir", "r"])
    assert (args.bootstrap, args.topic, args.messages, args.recovery_dir) == ("b:1", "t", 3, "r")
    with pytest.raises(SystemExit):
        parse_bytewax_args(argv)  # no recovery folder


def test_postgres_params_split_a_connection_string() -> None:
    params = postgres_params("host=/tmp/pg port=5433 dbname=museum user=u sslmode=disable")
    assert params == {
        "host": "/tmp/pg",
        "port": 5433,
        "dbname": "museum",
        "user": "u",
        "password": "",
        "sslmode": "disable",
    }


def test_rows_follow_the_simulators_truth() -> None:
    raws, kinds = simulate(3000)  # the first messages of a day come before opening time
    validator = KioskValidator(catalogue=str(CATALOGUE))
    validator.open()
    convert = converter(validator, msgspec.json.Decoder().decode, collections.defaultdict(lambda: 7))
    rows = [convert(raw, "t", i % 3, i // 3) for i, raw in enumerate(raws)]
    # benchmarks.data's kinds use the same numbers: 0 rating, 1 request, 2 reject.
    assert bytes(row.table for row in rows) == kinds
    assert {RATING, REQUEST, REJECT} <= {row.table for row in rows}
    for i, row in enumerate(rows):
        assert len(row.values) == len(COLUMNS[row.table])
        mapping = as_mapping(row)
        assert table_of(mapping) == TABLES[row.table]
        if row.table == REJECT:
            assert mapping["raw"] == raws[i]
            assert (mapping["partition"], mapping["offset"]) == (i % 3, i // 3)
        else:
            assert mapping["exhibition_id"] == 7


def test_a_message_that_is_not_json_is_a_json_reject() -> None:
    validator = KioskValidator(catalogue=str(CATALOGUE))
    row = converter(validator, msgspec.json.Decoder().decode, {})(b"{not json", "t", 1, 5)
    assert row.table == REJECT
    assert row.values[:5] == ("t", 1, 5, "json", "json")
    assert row.values[6] == b"{not json"


def test_duplicates_are_the_rows_beyond_the_truth() -> None:
    want = Counts(ratings=10, requests=2, rejects=5)
    assert duplicates(want, want) == 0
    assert duplicates(Counts(ratings=13, requests=2, rejects=6), want) == 4
    assert duplicates(Counts(ratings=9, requests=2, rejects=5), want) == 0  # short: the truth check says so


def test_peers_run_by_default_and_not_with_no_peers() -> None:
    peers = {n for n, v in VARIANTS.items() if v.peer}
    assert peers == {"quix_pg_sink", "quix_copy_sink", "bytewax_copy_sink"}
    assert peers <= set(selected(parse_run_args([])))
    assert not peers & set(selected(parse_run_args(["--no-peers"])))
    assert selected(parse_run_args(["--only", "quix_copy_sink", "handtuned"])) == ["handtuned", "quix_copy_sink"]
    with pytest.raises(SystemExit):
        parse_run_args(["--no-peers", "--only", "quix_pg_sink"])


def test_the_worker_finds_the_repository_first_on_its_path() -> None:
    env = worker_env({"PYTHONPATH": "/elsewhere"})
    assert env["PYTHONPATH"].split(":") == [str(ROOT), str(ROOT / "plugins"), "/elsewhere"]


def test_quix_is_in_no_extra_of_the_project() -> None:
    # quixstreams 3.28 needs confluent-kafka < 2.13; the project and its tests use 2.16.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
    ]
    assert not [r for r in requirements if "quix" in r.lower()]
