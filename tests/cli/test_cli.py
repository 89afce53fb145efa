"""The lmnh-pipes command, through click's CliRunner and as real subprocesses on examples/."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lmnh_pipes.cli import main

ROOT = Path(__file__).resolve().parents[2]
LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")
SHIPPED = {
    ("source", "file"),
    ("source", "kafka"),
    ("validator", "json"),
    ("validator", "keys"),
    ("validator", "types"),
    ("validator", "range"),
    ("validator", "one_of"),
    ("validator", "pattern"),
    ("validator", "in_catalogue"),
    ("validator", "timestamp"),
    ("validator", "time_window"),
    ("validator", "not_future"),
    ("validator", "cast"),
    ("validator", "set"),
    ("sink", "csv"),
    ("sink", "kafka"),
    ("sink", "postgres"),
}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_run_puts_every_line_in_exactly_one_csv(workdir):
    result = CliRunner().invoke(main, ["run", "examples/files-to-csv.yaml"])
    assert result.exit_code == 0, result.output
    lines = (workdir / "examples/files/presses.txt").read_bytes().split(b"\n")[:-1]
    accepted = read_csv(workdir / "out/files/accepted.csv")
    rejects = read_csv(workdir / "out/files/rejects.csv")
    offsets = [int(r["meta.offset"]) for r in accepted] + [int(r["meta.offset"]) for r in rejects]
    assert sorted(offsets) == list(range(len(lines)))
    assert list(rejects[0]) == ["meta.offset", "reject.validator", "reject.reason", "raw"]
    for row in rejects:
        assert row["reject.validator"]
        assert row["reject.reason"]
        assert row["raw"].encode() == lines[int(row["meta.offset"])]
    assert f"read             {len(lines)}" in result.output
    assert f"rejected         {len(rejects)}" in result.output
    assert "json / json" in result.output


def test_run_json_summary_and_limit(workdir):
    result = CliRunner().invoke(main, ["run", "examples/files-to-csv.yaml", "--limit", "5", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["read"] == 5
    assert summary["stopped_by"] == "limit"
    assert summary["accepted"] + summary["rejected"] == 5


def write_pipeline(workdir: Path, text: str) -> Path:
    path = workdir / "broken.yaml"
    path.write_text(text)
    return path


BASE = """\
source:
  type: file
  path: examples/files/presses.txt
validators:
  - type: json
  - type: range
    field: val
    max: 4
sink:
  type: csv
  path: out/x.csv
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("type: range", "type: rnage"),
            "broken.yaml:6: validators[1].type: unknown validator type 'rnage' (did you mean 'range'?)",
        ),
        (("    field: val\n", ""), "broken.yaml:6: validators[1]: missing required option 'field'"),
        (
            ("    max: 4\n", "    max: 4\n    maxx: 5\n"),
            "broken.yaml:9: validators[1].maxx: unknown option 'maxx' (did you mean 'max'?)",
        ),
        (
            ("path: out/x.csv", "path: ${OUT_DIR}/x.csv"),
            "broken.yaml:11: sink.path: environment variable OUT_DIR is not set",
        ),
    ],
    ids=["misspelt-type", "missing-option", "unknown-key", "unset-variable"],
)
@pytest.mark.parametrize("command", ["run", "check"])
def test_config_errors_exit_2_naming_line_and_key(workdir, monkeypatch, change, message, command):
    monkeypatch.delenv("OUT_DIR", raising=False)
    path = write_pipeline(workdir, BASE.replace(*change))
    result = CliRunner().invoke(main, [command, str(path)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (workdir / "out").exists(), "nothing may be started on a config error"


def test_traceback_flag_shows_the_traceback(workdir):
    path = write_pipeline(workdir, BASE.replace("type: range", "type: rnage"))
    result = CliRunner().invoke(main, ["run", str(path), "--traceback"])
    assert result.exit_code == 2
    assert "Traceback" in result.output


def test_check_reports_ok(workdir):
    result = CliRunner().invoke(main, ["check", "examples/files-to-csv.yaml"])
    assert result.exit_code == 0, result.output
    assert "ok (pipeline presses-to-csv: FileSource -> 4 validators -> CsvSink, rejects to CsvSink)" in result.output
    assert not (workdir / "out").exists()


def test_env_file_option_and_dotenv(workdir):
    path = write_pipeline(workdir, BASE.replace("path: out/x.csv", "path: ${OUT_DIR}/x.csv"))
    (workdir / "my.env").write_text("OUT_DIR=out/from-env-file\n")
    result = CliRunner().invoke(main, ["run", str(path), "--env-file", "my.env"])
    assert result.exit_code == 0, result.output
    assert (workdir / "out/from-env-file/x.csv").exists()
    (workdir / ".env").write_text("OUT_DIR=out/from-dotenv\n")
    assert CliRunner().invoke(main, ["run", str(path)]).exit_code == 0
    assert (workdir / "out/from-dotenv/x.csv").exists()


def test_missing_input_exits_2_before_any_output(workdir):
    path = write_pipeline(workdir, BASE.replace("path: examples/files/presses.txt", "path: examples/files/nope.txt"))
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2  # found when the source opens, before any sink: a configuration error
    assert "nope.txt" in result.output
    assert not (workdir / "out").exists()


def test_failure_while_running_exits_1(workdir):
    # /dev/full opens, then refuses every write with "No space left on device".
    result = CliRunner().invoke(main, ["run", str(write_pipeline(workdir, BASE.replace("out/x.csv", "/dev/full")))])
    assert result.exit_code == 1, result.output
    # One error line, last (after the warning that this pipeline keeps no rejects), and no traceback.
    assert result.output.splitlines()[-1].startswith("error: run failed: ")
    assert "No space left on device" in result.output.splitlines()[-1]
    assert "Traceback" not in result.output


def test_plugins_json_lists_every_shipped_type_with_its_distribution():
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    listed = {(r["kind"], r["type"]) for r in rows}
    assert listed >= SHIPPED
    for row in rows:
        if (row["kind"], row["type"]) in SHIPPED:
            assert row["distribution"] == "lmnh-pipes"
            assert row["version"]
            assert row["summary"], f"{row['type']} has no docstring"


def test_subprocess_run_of_an_example(workdir):
    proc = subprocess.run(
        [LMNH_PIPES, "run", "examples/files-to-csv.yaml"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "pipeline presses-to-csv" in proc.stdout
    assert (workdir / "out/files/rejects.csv").exists()


def test_third_party_plugin_installs_lists_and_runs(workdir, plugin_example_site):
    env = {**os.environ, "PYTHONPATH": str(plugin_example_site)}
    listed = subprocess.run([LMNH_PIPES, "plugins", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    [row] = [r for r in json.loads(listed.stdout) if r["type"] == "no_test_sites"]
    assert (row["kind"], row["distribution"], row["version"]) == ("validator", "lmnh-pipes-example", "0.1.0")
    run = subprocess.run(
        [LMNH_PIPES, "run", "examples/plugin-example/pipeline.yaml"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    rejects = read_csv(workdir / "out/example-plugin/rejects.csv")
    assert {r["reject.validator"] for r in rejects} == {"no_test_sites", "json"}
    assert [r["site"] for r in read_csv(workdir / "out/example-plugin/accepted.csv")] == ["3", "1"]


def test_check_finds_missing_local_inputs_with_their_lines(workdir):
    path = write_pipeline(
        workdir,
        "source: {type: file, path: nope/*.txt}\n"
        "validators:\n"
        "  - type: kiosk\n"
        "    catalogue: /nowhere\n"
        "sink: {type: csv, path: out/x.csv}\n",
    )
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert f"error: {path}:1: source.path: no file matches 'nope/*.txt' (relative to the working" in result.output
    assert f"error: {path}:3: validators[0]: catalogue '/nowhere' does not exist" in result.output
    run = CliRunner().invoke(main, ["run", str(path)])
    assert run.exit_code == 2
    assert f"error: {path}:3: validators[0]: catalogue '/nowhere' does not exist" in run.output


def test_rejects_durable_only_at_close_beside_stored_positions_exit_2(workdir):
    # Kafka into PostgreSQL stores positions with each batch; a .bz2 rejects file is durable only when it closes,
    # so a crash would lose rejects whose positions were already stored. Found offline, and before anything opens.
    path = write_pipeline(
        workdir,
        "name: p\n"
        "source: {type: kafka, bootstrap_servers: 127.0.0.1:1, topic: t, group_id: g}\n"
        "sink: {type: postgres, dsn: 'host=/nowhere dbname=x', table: t}\n"
        "rejects: {type: csv, path: out/rejects.csv.bz2}\n",
    )
    for command in ("check", "run"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exit_code == 2, result.output
        assert f"error: {path}:4: rejects: CsvSink makes its rows durable only when it closes" in result.output
    assert not (workdir / "out").exists()


def test_a_committing_source_refuses_to_replace_an_earlier_runs_output(workdir):
    # The kafka source resumes after what it committed: a CSV written afresh would lose the earlier run's rows.
    path = write_pipeline(
        workdir,
        "name: p\n"
        "source: {type: kafka, bootstrap_servers: 127.0.0.1:1, topic: t, group_id: g}\n"
        "sink: {type: csv, path: out/rows.csv}\n"
        "rejects: {type: csv, path: out/rejects.csv, append: true}\n",
    )
    (workdir / "out").mkdir()
    (workdir / "out/rows.csv").write_text("n\r\n1\r\n")
    (workdir / "out/rejects.csv").write_text("r\r\n1\r\n")  # appended to: fine
    for command in ("check", "run"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exit_code == 2, result.output
        assert (
            f"error: {path}:3: sink: out/rows.csv holds rows (6 bytes), and opening would replace it" in result.output
        )
        assert "rejects" not in result.output
    assert (workdir / "out/rows.csv").read_bytes() == b"n\r\n1\r\n"


@pytest.mark.parametrize(
    ("sink", "expected"),
    [
        (
            "  table: t\n  conflict_key: [a]\n  on_conflict: updte\n",
            "7: sink.on_conflict: expected error, nothing or update, found 'updte'",
        ),
        (
            "  route: kind\n  tables:\n    rating: {table: r}\n    request:\n      tabel: q\n",
            "9: sink.tables.request.tabel: unknown key 'tabel' (expected table, columns, conflict_key, on_conflict)",
        ),
        (
            "  table: t\n  columns:\n    a: x\n    c: {pth: x}\n",
            "8: sink.columns.c.pth: unknown key 'pth' (expected path, value or lookup)",
        ),
    ],
)
def test_a_nested_sink_option_is_reported_at_its_own_line_and_key(workdir, sink, expected):
    path = write_pipeline(
        workdir,
        "source: {type: file, path: examples/files/presses.txt}\nsink:\n  type: postgres\n  dsn: host=/x\n" + sink,
    )
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert result.output == f"error: {path}:{expected}\n"


def test_check_finds_a_missing_input_file_as_run_would(workdir):
    path = write_pipeline(workdir, "source: {type: file, path: nope.txt}\nsink: {type: csv, path: out/x.csv}\n")
    for command in ("check", "run"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exit_code == 2
        assert result.output == (
            f"error: {path}:1: source.path: cannot read 'nope.txt': No such file or directory (relative to the "
            f"working directory {workdir})\n"
        )


def test_a_misspelt_choice_gets_a_did_you_mean(workdir):
    path = write_pipeline(
        workdir, "source: {type: file, path: nope.txt, format: jsnol}\nsink: {type: csv, path: x.csv}\n"
    )
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert (
        f"error: {path}:1: source.format: expected one of 'lines', 'jsonl', 'csv', 'json', found 'jsnol' "
        "(did you mean 'jsonl'?)" in result.output
    )
