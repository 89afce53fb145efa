"""What a new user trips on at the edges of the file components: input that does not decode, CSV rows that do not
fit, output paths that cannot be written, and relative paths; through the command line, as a user meets them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lmnh_pipes.cli import main


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, holding the pipeline file; only the file and rules plug-ins are loaded."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LMNH_PIPES_PLUGINS", "files,rules")
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_jsonl_without_a_validator_rejects_what_is_not_json_and_says_which_keys_have_no_column(here):
    (here / "in.jsonl").write_bytes(b'{"a": 1, "b": 2}\nnot json\n{"a": 3, "c": 4}\n')
    (here / "p.yaml").write_text(
        "source: {type: file, path: in.jsonl, format: jsonl}\n"
        "sink: {type: csv, path: out.csv}\n"
        "rejects: {type: csv, path: rejects.csv, columns: [meta.offset, reject.reason, raw]}\n"
    )
    code, output = invoke("run", "p.yaml")
    assert code == 0, output
    assert (here / "out.csv").read_bytes() == b"a,b\r\n1,2\r\n3,\r\n"  # before: a row ",\r\n" for "not json"
    assert (here / "rejects.csv").read_bytes() == (
        b"meta.offset,reject.reason,raw\r\n1,not valid JSON: Expecting value at character 0,not json\r\n"
    )
    assert "file / json" in output
    [warning] = [line for line in output.splitlines() if "WARNING" in line]
    assert "csv sink out.csv leaves out key 'c': no column names it (columns: a, b)" in warning


@pytest.mark.parametrize("first", ["{type: json}", "{type: cast, fields: {val: int}}"])
def test_csv_rows_that_do_not_fit_are_rejected_each_with_its_own_reason(here, first):
    (here / "in.csv").write_bytes(b"site,val\n3,2\n4,1,9\n\xff,2\n5,3\n")
    (here / "p.yaml").write_text(
        "source: {type: file, path: in.csv, format: csv}\n"
        f"validators: [{first}]\n"
        "sink: {type: csv, path: out.csv}\n"
        "rejects: {type: csv, path: rejects.csv, columns: [meta.offset, reject.rule, reject.reason]}\n"
    )
    code, output = invoke("run", "p.yaml")
    assert code == 0, output  # before: exit 1, "ValueError: in.csv, line 1: not utf-8-sig text"
    assert (here / "rejects.csv").read_bytes() == (
        b"meta.offset,reject.rule,reject.reason\r\n"
        b"1,csv,row has 3 fields; the header has 2\r\n"
        b"2,encoding,not utf-8 text: byte 0xff in column 'site'\r\n"
    )
    assert (here / "out.csv").read_bytes().count(b"\r\n") == 3


def test_check_finds_csv_paths_that_cannot_be_written_and_creates_nothing(here):
    (here / "taken").mkdir()
    (here / "p.yaml").write_text(
        "source: {type: file, path: in.txt}\n"
        "sink: {type: csv, path: /proc/out.csv}\n"
        "rejects: {type: csv, path: taken}\n"
    )
    (here / "in.txt").write_text("x\n")
    code, output = invoke("check", "p.yaml")
    assert code == 2, output  # before: "p.yaml: ok"
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    if os.path.ismount("/proc"):
        assert errors[0].startswith("error: p.yaml:2: sink.path: cannot write '/proc/out.csv': /proc is on a pseudo")
    assert errors[-1] == (
        f"error: p.yaml:3: rejects.path: cannot write 'taken': it is a directory (relative to the working directory "
        f"{here})"
    )
    assert sorted(p.name for p in here.iterdir()) == ["in.txt", "p.yaml", "taken"]


def test_a_missing_source_file_is_placed_at_source_path_with_the_working_directory(here):
    (here / "p.yaml").write_text(
        "source:\n  type: file\n  path: data/in.csv\n  format: csv\nsink: {type: csv, path: o}\n"
    )
    for command in ("check", "run"):
        code, output = invoke(command, "p.yaml")
        assert code == 2, output
        # The line is the source's (the component's origin); the key path is the option's.
        [error] = output.splitlines()
        assert re.fullmatch(
            r"error: p\.yaml:[13]: source\.path: cannot read 'data/in\.csv': No such file or directory "
            rf"\(relative to the working directory {re.escape(str(here))}\)",
            error,
        ), error


def test_types_and_cast_take_each_others_spellings_and_say_what_was_meant(here):
    (here / "in.csv").write_text("val\n2\n")
    (here / "p.yaml").write_text(
        "source: {type: file, path: in.csv, format: csv}\n"
        "validators:\n"
        "  - {type: cast, fields: {val: integer}}\n"
        "  - {type: types, fields: {val: int}}\n"
        "sink: {type: csv, path: out.csv}\n"
        "rejects: {type: csv, path: rejects.csv}\n"
    )
    code, output = invoke("run", "p.yaml")
    assert code == 0, output
    assert (here / "out.csv").read_bytes() == b"val\r\n2\r\n"
    (here / "p.yaml").write_text(
        (here / "p.yaml").read_text().replace("val: integer", "val: integr").replace("val: int}", "val: flaot}")
    )
    code, output = invoke("check", "p.yaml")
    assert code == 2, output
    assert output.splitlines() == [
        "error: p.yaml:3: validators[0].fields.val: unknown kind 'integr' (did you mean 'int'?)",
        "error: p.yaml:4: validators[1].fields.val: unknown type 'flaot' (did you mean 'number'?)",
    ]
