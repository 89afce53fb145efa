"""What a new user trips on with CSV files: a quote never closed, a bad header, and appending under another
header; through the command line, as a user meets them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_input_edges import invoke


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, holding the pipeline file; only the file plug-ins are loaded."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LMNH_PIPES_PLUGINS", "files")
    return tmp_path


def failure(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("error:")]
    return line


def csv_to_csv(here: Path, name: str, data: bytes, sink: str = "{type: csv, path: out.csv}") -> None:
    (here / name).write_bytes(data)
    (here / "p.yaml").write_text(f"source: {{type: file, path: {name}, format: csv}}\nsink: {sink}\n")


def test_an_unterminated_quote_stops_the_run_at_its_line_rather_than_merge_rows(here):
    csv_to_csv(here, "q.csv", b'a,b\n1,"x\n2,y\n3,z\n4,w\n')
    code, output = invoke("run", "p.yaml")
    # before: exit 0, "read 1, accepted 1", rows 2..4 inside the second cell
    assert code == 1, output
    assert failure(output) == (
        "error: run failed: q.csv: line 2: unterminated quoted field: a quote opened in this row is never closed"
    )
    assert b"2,y" not in (here / "out.csv").read_bytes()


def test_text_after_a_closing_quote_stops_the_run_at_its_line(here):
    csv_to_csv(here, "q.csv", b'a,b\n1,2\n2,"ab"c\n3,4\n')
    code, output = invoke("run", "p.yaml")
    assert code == 1, output  # before: exit 0, the row read as {"a": "2", "b": "abc"}
    assert failure(output).startswith(
        "error: run failed: q.csv: line 3: text after the closing quote of a quoted field"
    )


def test_a_quoted_field_across_lines_is_still_one_field(here):
    csv_to_csv(here, "ok.csv", b'a,b\n1,"x\ny"\n2,"say ""hi"""\n')
    code, output = invoke("run", "p.yaml")
    assert code == 0, output
    assert (here / "out.csv").read_bytes() == b'a,b\r\n1,"x\ny"\r\n2,"say ""hi"""\r\n'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a,b,a\n1,2,3\n", "bad.csv: line 1: the CSV header repeats the column 'a'"),
        (b"\n\xff\xfeb,c\n1,2\n", r"bad.csv: line 2: the CSV header is not utf-8 text: column 1 is '\xff\xfeb'"),
        (b'a,"b\n1,2\n', "bad.csv: line 1: unterminated quoted field: a quote opened in this row is never closed"),
    ],
)
def test_a_bad_header_is_found_by_check_and_stops_run_with_file_and_line(here, data, message):
    csv_to_csv(here, "bad.csv", data)
    code, output = invoke("check", "p.yaml")
    assert code == 2, output  # before: "ok"; nothing looked at the header until the run
    assert f"p.yaml:1: source.path: {message}" in output
    assert not (here / "out.csv").exists()
    code, output = invoke("run", "p.yaml")
    assert code == 1, output
    # before: "error: run failed: ValueError: ...", and '\udcff\udcfeb' for the bytes
    assert failure(output) == f"error: run failed: {message}"


def test_append_under_another_header_is_refused_before_anything_starts(here):
    (here / "out").mkdir()
    (here / "out" / "ap.csv").write_bytes(b"x,y\r\n7,8\r\n")
    csv_to_csv(here, "in.csv", b"a\n1\n", sink="{type: csv, path: out/ap.csv, columns: [a], append: true}")
    for command in ("check", "run"):
        code, output = invoke(command, "p.yaml")
        assert code == 2, output  # before: exit 0, a row "1" under the header "x,y"
        assert (
            "p.yaml:2: sink.path: cannot append to 'out/ap.csv': its header is x, y, but the sink's columns are a;"
            in output
        )
    assert (here / "out" / "ap.csv").read_bytes() == b"x,y\r\n7,8\r\n"


def test_append_under_the_same_header_adds_rows(here):
    (here / "ap.csv").write_bytes(b"a,b\r\n7,8\r\n")
    csv_to_csv(here, "in.csv", b"a,b\n1,2\n", sink="{type: csv, path: ap.csv, columns: [a, b], append: true}")
    code, output = invoke("run", "p.yaml")
    assert code == 0, output
    assert (here / "ap.csv").read_bytes() == b"a,b\r\n7,8\r\n1,2\r\n"


def test_append_without_columns_follows_the_files_order_or_fails_at_the_first_write(here):
    (here / "ap.csv").write_bytes(b"b,a\r\n8,7\r\n")
    csv_to_csv(here, "in.csv", b"a,b\n1,2\n", sink="{type: csv, path: ap.csv, append: true}")
    code, output = invoke("run", "p.yaml")
    assert code == 0, output
    assert (here / "ap.csv").read_bytes() == b"b,a\r\n8,7\r\n2,1\r\n"  # each value under its own column
    (here / "in.csv").write_bytes(b"a,c\n1,2\n")
    code, output = invoke("run", "p.yaml")
    assert code == 1, output  # before: exit 0, "1,2" under "b,a"
    assert failure(output) == (
        "error: run failed: cannot append to 'ap.csv': its header is b, a, but the sink's columns are a, c; "
        "write to another file, or give columns that match"
    )
    assert (here / "ap.csv").read_bytes() == b"b,a\r\n8,7\r\n2,1\r\n"
