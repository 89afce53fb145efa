"""The ``csv`` sink: columns, defaults for values and rejects, cell formats, header, durability, gzip and S3."""

from __future__ import annotations

import csv
import gzip
import io
import logging
import os
import re
import shutil
import zlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lmnh_pipes import ConfigError, Meta, Record, RecordRejectedError, RunError
from lmnh_pipes_files import CsvSink, FileSource
from lmnh_pipes_files.csv_sink import REJECT_COLUMNS, cell

from .test_file_source import read_all


def rows(data: bytes | Path) -> list[list[str]]:
    text = (data.read_bytes() if isinstance(data, Path) else data).decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def write_all(sink: CsvSink, *batches: list[Record]) -> None:
    sink.open()
    try:
        for batch in batches:
            sink.write(batch)
    finally:
        sink.close()


def rec(value: object = None, raw: bytes = b"", **meta: object) -> Record:
    return Record(value=value, raw=raw, meta=Meta(**meta))  # type: ignore[arg-type]


def test_columns_are_dotted_paths_and_the_header_holds_them_exactly(tmp_path):
    path = tmp_path / "out.csv"
    sink = CsvSink(path=str(path), columns=["meta.offset", "site", "visit.room", "meta.topic", "raw", "absent"])
    write_all(
        sink,
        [rec({"site": "lmnh", "visit": {"room": "H1"}}, b"r0", topic="f.txt", offset=0)],
        [rec({"site": "tring"}, b"r1", topic="f.txt", offset=1)],
    )
    assert rows(path) == [
        ["meta.offset", "site", "visit.room", "meta.topic", "raw", "absent"],
        ["0", "lmnh", "H1", "f.txt", "r0", ""],
        ["1", "tring", "", "f.txt", "r1", ""],
    ]
    assert path.read_bytes().endswith(b"\r\n")


def test_default_columns_are_the_first_values_keys(tmp_path):
    path = tmp_path / "out.csv"
    write_all(CsvSink(path=str(path)), [rec({"b": 1, "a": 2}), rec({"a": 3, "c": 4}), rec({"b": 5, "a": 6})])
    assert rows(path) == [["b", "a"], ["1", "2"], ["", "3"], ["5", "6"]]


def test_default_columns_for_rejects(tmp_path):
    path = tmp_path / "rejects.csv"
    bad = rec(None, b"\xffnot json", source="file", topic="in.txt", offset=7).rejected_by("json", "not UTF-8", "json")
    write_all(CsvSink(path=str(path)), [bad])
    assert rows(path) == [
        list(REJECT_COLUMNS),
        ["file", "in.txt", "0", "7", "", "", "json", "json", "not UTF-8", "0", "\\xffnot json"],
    ]
    assert rows(path)[0] == [
        "meta.source",
        "meta.topic",
        "meta.partition",
        "meta.offset",
        "meta.key",
        "meta.timestamp",
        "reject.validator",
        "reject.rule",
        "reject.reason",
        "reject.replays",
        "raw",
    ]


def test_default_columns_without_a_mapping_value(tmp_path):
    path = tmp_path / "out.csv"
    write_all(CsvSink(path=str(path)), [rec(None, b"line", source="file", topic="t", offset=2)])
    assert rows(path) == [
        ["meta.source", "meta.topic", "meta.partition", "meta.offset", "meta.key", "raw"],
        ["file", "t", "0", "2", "", "line"],
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (1.5, "1.5"),
        (Decimal("2.50"), "2.50"),
        (datetime(2026, 5, 1, 10, 0, tzinfo=ZoneInfo("Europe/London")), "2026-05-01T10:00:00+01:00"),
        (datetime(2026, 1, 1, 9, 30, 15, 250000, tzinfo=UTC), "2026-01-01T09:30:15.250000+00:00"),
        (datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))), "2026-01-01T00:00:00-05:00"),
        (b"caf\xc3\xa9", "café"),
        (b"\xff\x00ok", "\\xff\\x00ok"),
        ({"a": [1, None, "é"]}, '{"a":[1,null,"é"]}'),
        ([1, 2], "[1,2]"),
        ("plain", "plain"),
    ],
)
def test_cell_formats(value, text):
    assert cell(value) == text


def test_awkward_text_survives_a_round_trip(tmp_path):
    path = tmp_path / "out.csv"
    values = ["a,b", 'say "hi"', "two\nlines", "cr\ronly", " spaced ", ""]
    write_all(CsvSink(path=str(path), columns=["v"]), [rec({"v": v}) for v in values])
    assert [r[0] for r in rows(path)[1:]] == values
    back = read_all(FileSource(path=str(path), format="csv"))
    assert [r.value for r in back] == [{"v": v} for v in values]


def test_header_false_and_delimiter(tmp_path):
    path = tmp_path / "out.tsv"
    write_all(CsvSink(path=str(path), columns=["a", "b"], header=False, delimiter="\t"), [rec({"a": 1, "b": "x y"})])
    assert path.read_bytes() == b"1\tx y\r\n"


def test_no_records_header_only_with_columns_empty_without(tmp_path):
    with_columns = tmp_path / "a.csv"
    write_all(CsvSink(path=str(with_columns), columns=["meta.offset", "site"]))
    assert with_columns.read_bytes() == b"meta.offset,site\r\n"
    without = tmp_path / "b.csv"
    write_all(CsvSink(path=str(without)), [])
    assert without.exists()
    assert without.read_bytes() == b""


def test_parent_directories_are_created_and_file_replaced(tmp_path):
    path = tmp_path / "deep" / "er" / "out.csv"
    write_all(CsvSink(path=str(path), columns=["a"]), [rec({"a": 1})])
    write_all(CsvSink(path=str(path), columns=["a"]), [rec({"a": 2})])
    assert rows(path) == [["a"], ["2"]]


def test_append_writes_the_header_once(tmp_path):
    path = tmp_path / "out.csv"
    write_all(CsvSink(path=str(path), append=True), [rec({"a": 1})])
    write_all(CsvSink(path=str(path), append=True), [rec({"a": 2})])
    write_all(CsvSink(path=str(path), columns=["a"], append=True), [rec({"a": 3})])
    assert rows(path) == [["a"], ["1"], ["2"], ["3"]]


def test_append_to_gzip_and_reopen_the_same_sink(tmp_path):
    path = tmp_path / "out.csv.gz"
    sink = CsvSink(path=str(path), append=True)
    write_all(sink, [rec({"a": 1})])
    write_all(sink, [rec({"a": 2})])  # the same object, opened again
    assert rows(gzip.decompress(path.read_bytes())) == [["a"], ["1"], ["2"]]
    again = CsvSink(path=str(tmp_path / "plain.csv"), columns=["a"])
    write_all(again, [rec({"a": 1})])
    write_all(again, [rec({"a": 2})])
    assert rows(tmp_path / "plain.csv") == [["a"], ["2"]]


def test_append_under_another_header_is_a_config_error_at_check_and_open(tmp_path):
    path = tmp_path / "ap.csv.gz"
    path.write_bytes(gzip.compress(b"x;y\r\n7;8\r\n"))
    sink = CsvSink(path=str(path), columns=["x", "z"], append=True, delimiter=";")
    message = r"cannot append to '.*ap\.csv\.gz': its header is x, y, but the sink's columns are x, z;"
    for step in (sink.check, sink.open):
        with pytest.raises(ConfigError, match=message) as info:
            step()
        assert info.value.problems[0].path == "path"
    sink.close()
    assert gzip.decompress(path.read_bytes()) == b"x;y\r\n7;8\r\n"  # untouched
    write_all(CsvSink(path=str(path), columns=["x", "y"], append=True, delimiter=";"), [rec({"x": 1, "y": 2})])
    assert gzip.decompress(path.read_bytes()) == b"x;y\r\n7;8\r\n1;2\r\n"
    # Without a header in the sink (the file's first row is data), or with an empty file, nothing is compared.
    write_all(CsvSink(path=str(path), columns=["x"], append=True, header=False, delimiter=";"), [rec({"x": 3})])
    empty = tmp_path / "empty.csv"
    empty.touch()
    write_all(CsvSink(path=str(empty), columns=["a"], append=True), [rec({"a": 1})])
    assert rows(empty) == [["a"], ["1"]]


def test_append_with_split_by_compares_each_existing_file(tmp_path):
    (tmp_path / "rating.csv").write_bytes(b"kind,n\r\nrating,1\r\n")
    (tmp_path / "request.csv").write_bytes(b"kind,m\r\nrequest,1\r\n")
    sink = CsvSink(path=str(tmp_path / "{}.csv"), split_by="kind", columns=["kind", "n"], append=True)
    with pytest.raises(ConfigError, match=r"request\.csv': its header is kind, m, but the sink's columns are kind, n"):
        sink.check()
    sink.open()
    sink.write([Record.of({"kind": "rating", "n": 2})])
    with pytest.raises(RunError, match=r"request\.csv': its header is kind, m"):
        sink.write([Record.of({"kind": "request", "n": 2})])
    sink.close()
    assert rows(tmp_path / "rating.csv") == [["kind", "n"], ["rating", "1"], ["rating", "2"]]
    assert rows(tmp_path / "request.csv") == [["kind", "m"], ["request", "1"]]


def test_append_without_columns_compares_the_first_records_keys_at_the_first_write(tmp_path):
    path = tmp_path / "ap.csv"
    path.write_bytes(b"b,a\r\n")
    sink = CsvSink(path=str(path), append=True)
    sink.check()  # the columns are not known yet
    write_all(sink, [rec({"a": 1, "b": 2})])
    assert rows(path) == [["b", "a"], ["2", "1"]]
    sink.open()
    with pytest.raises(RunError, match=r"its header is b, a, but the sink's columns are a\b"):
        sink.write([rec({"a": 1})])
    sink.close()
    assert rows(path) == [["b", "a"], ["2", "1"]]


def test_rows_are_on_disk_when_write_returns(tmp_path):
    path = tmp_path / "out.csv"
    sink = CsvSink(path=str(path))
    sink.open()
    try:
        sink.write([rec({"a": 1})])
        assert rows(path) == [["a"], ["1"]]  # read by another handle before close
        sink.write([rec({"a": 2})])
        assert rows(path) == [["a"], ["1"], ["2"]]
    finally:
        sink.close()


def test_gzip_by_suffix_is_readable_after_each_write(tmp_path):
    path = tmp_path / "out.csv.gz"
    sink = CsvSink(path=str(path), columns=["a"])
    sink.open()
    try:
        sink.write([rec({"a": 1}), rec({"a": 2})])
        # Before close there is no gzip trailer, but every row written so far decompresses (sync flush).
        partial = zlib.decompressobj(wbits=31).decompress(path.read_bytes())
        assert rows(partial) == [["a"], ["1"], ["2"]]
    finally:
        sink.close()
    assert rows(gzip.decompress(path.read_bytes())) == [["a"], ["1"], ["2"]]


def test_s3_url(s3):
    url = s3.url("out/accepted.csv")
    write_all(CsvSink(path=url, columns=["site", "meta.offset"]), [rec({"site": "lmnh"}, offset=3)])
    assert rows(s3.get("out/accepted.csv")) == [["site", "meta.offset"], ["lmnh", "3"]]


def test_bad_options_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="append"):
        CsvSink(path="s3://bucket/x.csv", append=True)
    with pytest.raises(ConfigError, match="columns"):
        CsvSink(path="x.csv", columns=[])
    with pytest.raises(ConfigError, match="delimiter"):
        CsvSink(path="x.csv", delimiter="")
    with pytest.raises(ConfigError, match="encoding"):
        CsvSink(path="x.csv", encoding="nope")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write"):
        CsvSink(path=str(blocker / "out.csv")).open()  # a parent that is a file


def test_write_before_open_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="before open"):
        CsvSink(path=str(tmp_path / "x.csv")).write([rec({"a": 1})])


def test_split_by_writes_one_file_per_value(tmp_path):
    sink = CsvSink(path=str(tmp_path / "out" / "{}.csv"), split_by="kind", columns=["kind", "n"])
    sink.open()
    sink.write(
        [
            Record.of({"kind": "rating", "n": 1}),
            Record.of({"kind": "request", "n": 2}),
            Record.of({"kind": "rating", "n": 3}),
            Record.of({"n": 4}),
            Record.of({"kind": "../x", "n": 5}),
        ]
    )
    sink.write([Record.of({"kind": "rating", "n": 6})])
    sink.close()
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["_x.csv", "none.csv", "rating.csv", "request.csv"]
    assert (tmp_path / "out" / "rating.csv").read_bytes() == b"kind,n\r\nrating,1\r\nrating,3\r\nrating,6\r\n"
    assert (tmp_path / "out" / "request.csv").read_bytes() == b"kind,n\r\nrequest,2\r\n"
    with pytest.raises(ConfigError, match="must hold one"):
        CsvSink(path=str(tmp_path / "x.csv"), split_by="kind")


@pytest.mark.parametrize(
    ("path", "durable"),
    [
        ("out.csv", True),
        ("file:///tmp/out.csv", True),
        ("out/{}.csv.gz", True),
        ("out.csv.GZ", True),
        ("out.csv.bz2", False),
        ("out.csv.BZ2", False),  # smart-open picks bz2 by the suffix in any case
        ("out.csv.xz", False),
        ("out.csv.zst", False),
        ("out.csv.lz4", False),
        ("s3://bucket/out.csv", False),
        ("https://example.org/out.csv", False),
    ],
)
def test_which_files_are_durable_at_each_write(path, durable):
    assert CsvSink(path=path, split_by="kind" if "{}" in path else None).durable_writes is durable


def test_existing_output_names_a_file_with_rows_that_opening_would_replace(tmp_path):
    plain = CsvSink(path=str(tmp_path / "x.csv"))
    assert plain.existing_output([]) is None  # no file yet
    (tmp_path / "x.csv").write_bytes(b"")
    assert plain.existing_output([]) is None  # an empty file loses nothing
    (tmp_path / "x.csv").write_bytes(b"a\r\n")
    assert plain.existing_output([]) is None  # nor does a header alone
    assert CsvSink(path=str(tmp_path / "x.csv"), header=False).existing_output([]) is not None  # there, a row
    (tmp_path / "x.csv").write_bytes(b"a\r\n1\r\n")
    assert plain.existing_output([]) == f"{tmp_path / 'x.csv'} holds rows (6 bytes)"
    assert CsvSink(path=str(tmp_path / "x.csv"), append=True).existing_output([]) is None
    assert CsvSink(path="s3://bucket/x.csv").existing_output([]) is None  # not looked at


def test_existing_output_of_a_compressed_file_counts_rows_not_bytes(tmp_path):
    sink = CsvSink(path=str(tmp_path / "x.csv.gz"), columns=["a"])
    sink.open()
    sink.close()  # a header-only run: a gzip frame of some 30 bytes
    assert (tmp_path / "x.csv.gz").stat().st_size > 0
    assert sink.existing_output([]) is None
    sink.open()
    sink.write([Record.of({"a": 1})])
    sink.close()
    assert sink.existing_output([]) is not None


def test_existing_output_of_split_files_leaves_other_files_and_other_sinks_alone(tmp_path):
    split = CsvSink(path=str(tmp_path / "out" / "{}.csv"), split_by="kind")
    rejects = CsvSink(path=str(tmp_path / "out" / "rejects.csv"), append=True)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "rejects.csv").write_bytes(b"r\r\n1\r\n")  # the rejects sink's, appended to
    (tmp_path / "out" / "notes.csv.txt").write_bytes(b"r\r\n1\r\n")  # no split value gives this name
    (tmp_path / "out" / "a b.csv").write_bytes(b"r\r\n1\r\n")  # nor this one (a space)
    assert split.existing_output([rejects]) is None
    assert split.existing_output([]) == f"{tmp_path / 'out' / 'rejects.csv'} holds rows (6 bytes)"
    (tmp_path / "out" / "rating.csv").write_bytes(b"kind\r\nrating\r\n")
    assert split.existing_output([rejects]) == f"{tmp_path / 'out' / 'rating.csv'} holds rows (14 bytes)"


def test_a_split_file_that_cannot_be_created_mid_run_fails_the_run_not_the_config(tmp_path):
    from lmnh_pipes import RunError

    (tmp_path / "request.csv").mkdir()  # in the way of the file for "request"
    sink = CsvSink(path=str(tmp_path / "{}.csv"), split_by="kind")
    sink.open()
    sink.write([Record.of({"kind": "rating"})])
    with pytest.raises(RunError, match=r"request\.csv"):
        sink.write([Record.of({"kind": "request"})])
    sink.close()


# --- what a row would lose ---------------------------------------------------------------------------------------


def test_an_accepted_record_without_a_decoded_value_is_refused_not_written_as_an_empty_row(tmp_path):
    path = tmp_path / "out.csv"
    sink = CsvSink(path=str(path), columns=["a", "b", "meta.offset"])
    good = rec({"a": 1, "b": 2}, offset=0)
    undecoded = rec(None, b"not json", offset=1)
    a_list = rec([1, 2], b"[1, 2]", offset=2)
    sink.open()
    try:
        with pytest.raises(RecordRejectedError) as caught:
            sink.write([good, undecoded, a_list])
        assert path.read_bytes() == b"a,b,meta.offset\r\n"  # nothing of the batch was written
        assert caught.value.sink == "csv"
        assert [(r, reason.split(",")[0]) for r, reason in caught.value.records] == [
            (undecoded, "the value is not decoded"),
            (a_list, "the value is an array"),
        ]
        assert "put a decoding validator such as 'json' first" in caught.value.records[0][1]
        sink.write([good])  # what the runner does next: the rest, again
    finally:
        sink.close()
    assert rows(path) == [["a", "b", "meta.offset"], ["1", "2", "0"]]


def test_records_without_a_value_are_written_when_no_column_reads_the_value(tmp_path):
    path = tmp_path / "out.csv"
    write_all(CsvSink(path=str(path), columns=["meta.offset", "raw"]), [rec(None, b"line", offset=4)])
    assert rows(path) == [["meta.offset", "raw"], ["4", "line"]]


def test_rejected_records_are_never_refused_nor_warned_of(tmp_path, caplog):
    path = tmp_path / "rejects.csv"
    bad = rec({"a": 1, "zz": 2}, b"x", offset=3).rejected_by("json", "why")
    undecoded = rec(None, b"y", offset=4).rejected_by("file", "why", "json")
    write_all(CsvSink(path=str(path), columns=["a", "reject.reason"], extra_keys="reject"), [bad, undecoded])
    assert rows(path) == [["a", "reject.reason"], ["1", "why"], ["", "why"]]
    assert not caplog.records


def test_keys_without_a_column_are_warned_of_once_per_key_set(tmp_path, caplog):
    path = tmp_path / "out.csv"
    sink = CsvSink(path=str(path), columns=["a", "b"])
    batches = [
        [rec({"a": 1, "c": 2}), rec({"a": 3, "c": 4}), rec({"a": 5, "b": 6})],
        [rec({"a": 7, "c": 8}, topic="in.jsonl", offset=9), rec({"d": 1, "c": 2, "a": 0})],
    ]
    with caplog.at_level(logging.WARNING, logger="lmnh_pipes.csv"):
        write_all(sink, *batches)
    assert rows(path) == [["a", "b"], ["1", ""], ["3", ""], ["5", "6"], ["7", ""], ["0", ""]]
    assert [r.getMessage() for r in caplog.records] == [
        f"csv sink {path} leaves out key 'c': no column names it (columns: a, b). extra_keys: ignore leaves such "
        "keys out without a word; extra_keys: reject makes such records rejects",
        f"csv sink {path} leaves out keys 'd' and 'c': no column names them (columns: a, b). extra_keys: ignore "
        "leaves such keys out without a word; extra_keys: reject makes such records rejects",
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lmnh_pipes.csv"):
        write_all(sink, batches[0])  # a new run says it again
    assert len(caplog.records) == 1


def test_keys_that_are_data_do_not_flood_the_log(tmp_path, caplog):
    sink = CsvSink(path=str(tmp_path / "out.csv"), columns=["a"])
    with caplog.at_level(logging.WARNING, logger="lmnh_pipes.csv"):
        write_all(sink, [rec({"a": 1, f"id-{i}": i}) for i in range(500)])
    assert len(caplog.records) == 21
    assert caplog.records[-1].getMessage().endswith("more keys without a column are left out, and not reported")


def test_no_warning_when_the_whole_record_has_a_column_or_with_ignore(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="lmnh_pipes.csv"):
        write_all(CsvSink(path=str(tmp_path / "1.csv"), columns=["a", "raw"]), [rec({"a": 1, "c": 2}, b"{}")])
        write_all(CsvSink(path=str(tmp_path / "2.csv"), columns=["value"]), [rec({"a": 1, "c": 2})])
        write_all(CsvSink(path=str(tmp_path / "3.csv"), columns=["a"], extra_keys="ignore"), [rec({"a": 1, "c": 2})])
        write_all(CsvSink(path=str(tmp_path / "4.csv"), columns=["x.y"]), [rec({"x": {"y": 1, "z": 2}})])
        write_all(CsvSink(path=str(tmp_path / "{}.csv"), split_by="kind"), [rec({"kind": "k", "a": 1})])
    assert not caplog.records
    assert rows(tmp_path / "2.csv") == [["value"], ['{"a":1,"c":2}']]


def test_extra_keys_reject_refuses_those_records_having_written_nothing(tmp_path):
    path = tmp_path / "out.csv"
    sink = CsvSink(path=str(path), columns=["a", "b"], extra_keys="reject")
    keeps = rec({"a": 1, "b": 2})
    loses = rec({"a": 3, "c": 4, "d": 5})
    sink.open()
    try:
        with pytest.raises(RecordRejectedError) as caught:
            sink.write([keeps, loses])
        assert caught.value.records == [(loses, "no column in the csv sink for keys 'c' and 'd' (columns: a, b)")]
        assert path.read_bytes() == b"a,b\r\n"
    finally:
        sink.close()


def test_split_by_refuses_before_any_file_is_written(tmp_path):
    sink = CsvSink(path=str(tmp_path / "{}.csv"), split_by="kind", columns=["kind", "n"], extra_keys="reject")
    sink.open()
    try:
        with pytest.raises(RecordRejectedError):
            sink.write([Record.of({"kind": "rating", "n": 1}), Record.of({"kind": "request", "n": 2, "x": 3})])
    finally:
        sink.close()
    assert list(tmp_path.iterdir()) == []


def test_extra_keys_must_be_known():
    with pytest.raises(ConfigError, match="extra_keys must be one of warn, ignore, reject; found 'drop'"):
        CsvSink(path="x.csv", extra_keys="drop")  # type: ignore[arg-type]


# --- check: could the file be written? ----------------------------------------------------------------------------


def test_check_accepts_a_new_file_in_new_folders_and_creates_nothing(tmp_path):
    CsvSink(path=str(tmp_path / "a" / "b" / "out.csv")).check()
    CsvSink(path=str(tmp_path / "out" / "{}.csv"), split_by="kind").check()
    (tmp_path / "old.csv").write_text("x\n")
    CsvSink(path=str(tmp_path / "old.csv")).check()
    CsvSink(path="/dev/null").check()  # a device: whether it takes rows is found when it opens
    CsvSink(path="s3://bucket/out.csv").check()  # a URL needs --online
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv"]


def test_check_finds_a_directory_and_a_parent_that_is_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("")
    for path, reason in [
        ("dir", "it is a directory"),
        ("file/out.csv", f"{tmp_path / 'file'} is not a directory"),
        ("file/deeper/{}.csv", f"{tmp_path / 'file'} is not a directory"),
    ]:
        sink = CsvSink(path=path, split_by="k" if "{}" in path else None)
        with pytest.raises(ConfigError) as caught:
            sink.check()
        [problem] = caught.value.problems
        assert (problem.path, problem.message) == ("path", f"cannot write {path!r}: {reason}")
        assert problem.hint == f"relative to the working directory {tmp_path}"
        if "{}" not in path:
            with pytest.raises(ConfigError, match=re.escape(reason)):  # opening says the same
                sink.open()
        else:
            sink.open()
            with pytest.raises(RunError, match=re.escape(reason)):  # a file made mid-run fails the run
                sink.write([Record.of({"k": "v"})])
        sink.close()


@pytest.mark.skipif(not os.path.ismount("/proc") or not hasattr(os, "statvfs"), reason="needs a /proc file system")
def test_check_finds_a_pseudo_file_system(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot write '/proc/out\.csv': /proc is on a pseudo file system"):
        CsvSink(path="/proc/out.csv").check()
    with pytest.raises(ConfigError, match=r"/proc is on a pseudo file system"):
        CsvSink(path="/proc/out.csv").open()


def test_check_finds_a_folder_that_may_not_be_written():
    # Root may write anywhere, so as root (CI) the check runs in a forked child that has become 'nobody'.
    import pwd
    import tempfile

    base = Path(tempfile.mkdtemp())
    base.chmod(0o755)
    locked = base / "locked"
    locked.mkdir(mode=0o555)
    sink = CsvSink(path=str(locked / "x" / "out.csv"))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, check, report, and leave without running pytest's exit handlers
        message = b""
        try:
            if os.geteuid() == 0:
                nobody = pwd.getpwnam("nobody")
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
            sink.check()
        except ConfigError as exc:
            message = str(exc).encode()
        except BaseException as exc:
            message = f"unexpected {type(exc).__name__}: {exc}".encode()
        os.write(write, message)
        os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read, "rb") as pipe:
            said = pipe.read().decode()
        os.waitpid(pid, 0)
        assert f"permission denied in {locked}" in said
    finally:
        locked.chmod(0o700)
        shutil.rmtree(base)
