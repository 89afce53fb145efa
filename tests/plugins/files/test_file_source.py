"""The ``file`` source: every format, local files and globs, compression, S3 (moto) and HTTP, and edge cases."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmnh_pipes import ConfigError, EndOfInput, Meta, Record, Rejection, RunError, validate_all
from lmnh_pipes_files import FileSource
from lmnh_pipes_files._readers import iter_line_chunks
from lmnh_pipes_rules import Cast, JsonValidator


def read_all(source: FileSource, batch: int = 1000) -> list[Record]:
    """Open, read until EndOfInput, close."""
    source.open()
    out: list[Record] = []
    try:
        while True:
            got = source.read(batch, 0.1)
            assert 0 < len(got) <= batch
            out.extend(got)
    except EndOfInput:
        pass
    finally:
        source.close()
    return out


def raws(records: list[Record]) -> list[bytes]:
    return [r.raw for r in records]


# --- lines ---------------------------------------------------------------------------------------------------


def test_lines_records_carry_raw_and_meta(write_file):
    path = write_file("in.txt", b"alpha\nbeta\n\ngamma\n")
    records = read_all(FileSource(path=str(path)))
    assert raws(records) == [b"alpha", b"beta", b"", b"gamma"]
    assert [r.meta for r in records] == [
        Meta(source="file", topic=str(path), partition=0, offset=i, key=None) for i in range(4)
    ]
    assert all(r.value is None and r.reject is None for r in records)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a\nb", [b"a", b"b"]),  # a final line without a newline
        (b"a\r\nb\r\n\r\nc", [b"a", b"b", b"", b"c"]),  # CRLF
        (b"a\r\nb\nc\r\n", [b"a", b"b", b"c"]),  # mixed endings
        (b"x\ry\n", [b"x\ry"]),  # a lone CR is data
        (b"end\r", [b"end\r"]),  # ... also at the very end, where no LF follows
        (b"\n", [b""]),
        (b"\n\n", [b"", b""]),
        (b"only", [b"only"]),
        (b"\xff\xfe binary \x00\n", [b"\xff\xfe binary \x00"]),
    ],
)
def test_line_endings(write_file, data, expected):
    assert raws(read_all(FileSource(path=str(write_file("in.txt", data))))) == expected


def test_read_returns_at_most_max_records_then_end_of_input(write_file):
    source = FileSource(path=str(write_file("in.txt", b"".join(b"%d\n" % i for i in range(10)))))
    source.open()
    try:
        sizes = [len(source.read(3, 0.1)) for _ in range(4)]
        assert sizes == [3, 3, 3, 1]
        with pytest.raises(EndOfInput):
            source.read(3, 0.1)
        with pytest.raises(EndOfInput):  # and it stays ended
            source.read(3, 0.1)
    finally:
        source.close()


@pytest.mark.parametrize("fmt", ["lines", "jsonl", "csv", "json"])
def test_empty_file_ends_at_once(write_file, fmt):
    source = FileSource(path=str(write_file("empty.txt", b"")), format=fmt)
    source.open()
    with pytest.raises(EndOfInput):
        source.read(10, 0.1)
    source.close()


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b and not b.endswith(b"\r")), max_size=30),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    chunk_size=st.integers(min_value=1, max_value=64),
)
def test_line_splitting_returns_exactly_the_lines(lines, crlf, final_newline, chunk_size):
    ending = b"\r\n" if crlf else b"\n"
    data = ending.join(lines)
    if lines and (final_newline or lines[-1] == b""):
        data += ending  # without it, a last empty line would not exist
    got = [line for chunk in iter_line_chunks(io.BytesIO(data), chunk_size) for line in chunk]
    assert got == lines


@settings(max_examples=50, deadline=None)
@given(lines=st.lists(st.binary(max_size=200).filter(lambda b: b"\n" not in b and not b.endswith(b"\r")), max_size=50))
def test_source_returns_random_lines_in_order(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("lines") / "in.bin"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    records = read_all(FileSource(path=str(path)), batch=7)
    assert raws(records) == lines
    assert [r.meta.offset for r in records] == list(range(len(lines)))


def test_long_line_across_many_chunks(write_file):
    long = b"x" * (3 * (1 << 20) + 5)
    assert raws(read_all(FileSource(path=str(write_file("long.txt", b"a\n" + long + b"\r\nb"))))) == [b"a", long, b"b"]


# --- paths, globs, compression ----------------------------------------------------------------------------------


def test_missing_file_is_a_config_error_at_open_not_at_construction(tmp_path):
    source = FileSource(path=str(tmp_path / "nope.txt"))  # the constructor touches nothing
    with pytest.raises(ConfigError, match=r"nope\.txt"):
        source.open()
    source.close()


def test_glob_reads_files_in_sorted_order_with_offsets_per_file(write_file, tmp_path):
    write_file("data/b.txt", b"b0\nb1\n")
    write_file("data/a.txt", b"a0\n")
    write_file("data/c.txt", b"c0\nc1\nc2")
    write_file("data/skip.csv", b"no\n")
    (tmp_path / "data" / "dir.txt").mkdir()  # a directory that matches is not a file to read
    records = read_all(FileSource(path=str(tmp_path / "data" / "*.txt")), batch=2)
    assert raws(records) == [b"a0", b"b0", b"b1", b"c0", b"c1", b"c2"]
    assert [(Path(r.meta.topic).name, r.meta.offset) for r in records] == [
        ("a.txt", 0),
        ("b.txt", 0),
        ("b.txt", 1),
        ("c.txt", 0),
        ("c.txt", 1),
        ("c.txt", 2),
    ]


def test_recursive_glob(write_file, tmp_path):
    write_file("logs/2026/01/x.log", b"one\n")
    write_file("logs/2026/y.log", b"two\n")
    records = read_all(FileSource(path=str(tmp_path / "logs" / "**" / "*.log")))
    assert sorted(raws(records)) == [b"one", b"two"]


@pytest.mark.parametrize("path", ["nope.txt", "in/*.jsonl", "file://nope.txt"])
def test_a_relative_path_that_reads_nothing_names_the_option_and_the_working_directory(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    source = FileSource(path=path)
    for attempt in (source.check, source.open):
        with pytest.raises(ConfigError) as caught:
            attempt()
        [problem] = caught.value.problems
        assert problem.path == "path"
        assert problem.hint == f"relative to the working directory {tmp_path}"
        assert str(problem).startswith("path: ")
        assert str(problem).endswith(f" (relative to the working directory {tmp_path})")


def test_an_absolute_path_that_reads_nothing_names_the_option_only(tmp_path):
    with pytest.raises(ConfigError) as caught:
        FileSource(path=str(tmp_path / "nope.txt")).check()
    [problem] = caught.value.problems
    assert (problem.path, problem.hint) == ("path", "")
    assert problem.message == f"cannot read {str(tmp_path / 'nope.txt')!r}: No such file or directory"


def test_glob_matching_nothing_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no file matches"):
        FileSource(path=str(tmp_path / "*.jsonl")).open()


def test_a_real_name_with_glob_characters_is_read(write_file):
    path = write_file("odd[1].txt", b"bracket\n")
    assert raws(read_all(FileSource(path=str(path)))) == [b"bracket"]


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_compressed_by_suffix(write_file, suffix):
    path = write_file(f"in.jsonl{suffix}", b'{"a": 1}\n{"a": 2}\n')
    records = read_all(FileSource(path=str(path), format="jsonl"))
    assert [r.value for r in records] == [{"a": 1}, {"a": 2}]
    assert records[0].meta.topic == str(path)


def test_compression_can_be_forced_or_disabled(write_file):
    path = write_file("packed.bin", gzip.compress(b"x\ny\n"))
    assert raws(read_all(FileSource(path=str(path), compression="gz"))) == [b"x", b"y"]
    gz = write_file("in.gz", gzip.compress(b"z\n"))
    undecompressed = raws(read_all(FileSource(path=str(gz), compression="none")))
    assert b"\n".join(undecompressed).startswith(b"\x1f\x8b")  # the gzip magic: bytes as stored


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="format"):
        FileSource(path="x", format="xml")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="compression"):
        FileSource(path="x", compression="rar")
    with pytest.raises(ConfigError, match="delimiter"):
        FileSource(path="x", delimiter=";;")
    with pytest.raises(ConfigError, match="encoding"):
        FileSource(path="x", encoding="utf-99")


def test_check_online_opens_and_closes(write_file, tmp_path):
    before = len(os.listdir("/proc/self/fd"))
    FileSource(path=str(write_file("in.txt", b"x\n"))).check_online()
    assert len(os.listdir("/proc/self/fd")) == before
    with pytest.raises(ConfigError, match="no file matches"):
        FileSource(path=str(tmp_path / "none" / "*.txt")).check_online()


def test_close_releases_the_file_mid_read(write_file):
    path = write_file("in.txt", b"1\n2\n3\n")
    before = len(os.listdir("/proc/self/fd"))
    source = FileSource(path=str(path))
    source.open()
    assert len(source.read(1, 0.1)) == 1
    assert len(os.listdir("/proc/self/fd")) == before + 1
    source.close()
    assert len(os.listdir("/proc/self/fd")) == before
    source.close()  # twice is harmless


# --- jsonl ------------------------------------------------------------------------------------------------------


def test_jsonl_rejects_undecodable_lines_itself_with_the_reason_and_the_bytes(write_file):
    data = b'{"a": 1}\nnot json\n\n{"a": 1, "a": 2}\n[1]\n{"b": "\xc3\xa9"}\r\n{"c": "\xff"}\n'
    records = read_all(FileSource(path=str(write_file("in.jsonl", data)), format="jsonl"))
    assert [r.value for r in records] == [{"a": 1}, None, None, None, None, {"b": "é"}, None]
    assert raws(records) == [
        b'{"a": 1}',
        b"not json",
        b"",
        b'{"a": 1, "a": 2}',
        b"[1]",
        b'{"b": "\xc3\xa9"}',
        b'{"c": "\xff"}',
    ]
    assert [r.meta.offset for r in records] == list(range(7))
    # Rejected by the source, so that no record without a value is ever accepted, even with no json validator.
    assert [(r.reject.validator, r.reject.rule, r.reject.reason) for r in records if r.reject] == [
        ("file", "json", "not valid JSON: Expecting value at character 0"),
        ("file", "json", "empty value"),
        ("file", "json", "duplicate key 'a'"),
        ("file", "json", "expected a JSON object, found [1] (an array)"),
        ("file", "json", "not valid UTF-8 (byte 7)"),
    ]
    assert [r.reject is None for r in records] == [True, False, False, False, False, True, False]
    # The runner passes a record that arrives rejected through the validators unchanged.
    assert validate_all([JsonValidator()], records) == records


# --- csv --------------------------------------------------------------------------------------------------------


def test_csv_rows_are_mappings_of_strings(write_file):
    data = b'site,count,note\r\nlmnh,3,"a, b"\r\ntring,,"two\r\nlines"\r\n'
    records = read_all(FileSource(path=str(write_file("in.csv", data)), format="csv"))
    assert [r.value for r in records] == [
        {"site": "lmnh", "count": "3", "note": "a, b"},
        {"site": "tring", "count": "", "note": "two\r\nlines"},
    ]
    assert raws(records) == [b'lmnh,3,"a, b"', b'tring,,"two\r\nlines"']
    assert [r.meta.offset for r in records] == [0, 1]


def test_csv_rows_of_the_wrong_width_are_rejected_with_their_counts_and_blank_lines_are_skipped(write_file):
    data = b"a,b\n1,2\n\n3\n4,5,6\n7,8\n"
    records = read_all(FileSource(path=str(write_file("in.csv", data)), format="csv"))
    assert [r.value for r in records] == [{"a": "1", "b": "2"}, None, None, {"a": "7", "b": "8"}]
    assert raws(records) == [b"1,2", b"3", b"4,5,6", b"7,8"]
    assert [r.meta.offset for r in records] == [0, 1, 2, 3]
    assert [r.reject for r in records] == [
        None,
        Rejection(validator="file", rule="csv", reason="row has 1 field; the header has 2"),
        Rejection(validator="file", rule="csv", reason="row has 3 fields; the header has 2"),
        None,
    ]
    # Not a JSON reason ("Extra data at character 1") from a json validator, nor "not decoded" from cast:
    # the validators never see these rows.
    chain = [JsonValidator(), Cast(fields={"a": "int"})]
    assert validate_all(chain, records)[1:3] == records[1:3]


def test_csv_bytes_that_are_not_text_reject_that_row_only_and_keep_its_bytes(write_file):
    data = b'site,val\r\nlmnh,1\r\n\xff\xfeab,2\r\ntring,"x\xe9y"\r\nsouth,3\r\n'
    records = read_all(FileSource(path=str(write_file("in.csv", data)), format="csv"))
    assert [r.value for r in records] == [{"site": "lmnh", "val": "1"}, None, None, {"site": "south", "val": "3"}]
    assert raws(records) == [b"lmnh,1", b"\xff\xfeab,2", b"tring,x\xe9y", b"south,3"]
    assert [(r.reject.rule, r.reject.reason) for r in records if r.reject] == [
        ("encoding", "not utf-8 text: byte 0xff in column 'site'"),
        ("encoding", "not utf-8 text: byte 0xe9 in column 'val'"),
    ]
    assert [r.meta.offset for r in records] == [0, 1, 2, 3]


def test_csv_bytes_that_are_not_text_in_a_field_beyond_the_header(write_file):
    records = read_all(FileSource(path=str(write_file("in.csv", b"a\n1,\x80\n")), format="csv"))
    assert [(r.raw, r.reject.reason if r.reject else None) for r in records] == [
        (b"1,\x80", "not utf-8 text: byte 0x80 in field 2")
    ]


def test_csv_header_that_is_not_text_stops_the_read(write_file):
    source = FileSource(path=str(write_file("in.csv", b"s\xffite,val\n1,2\n")), format="csv")
    # The byte as \xNN, not the lone surrogate ('s\udcffite') that decoding left in its place.
    with pytest.raises(RunError, match=r"in\.csv: line 1: the CSV header is not utf-8 text: column 1 is 's\\xffite'$"):
        read_all(source)


def test_csv_header_only_gives_nothing(write_file):
    assert read_all(FileSource(path=str(write_file("in.csv", b"a,b\n")), format="csv")) == []


def test_csv_encoding_delimiter_and_byte_order_mark(write_file):
    latin = write_file("latin.csv", "nom;ville\nJosé;Besançon\n".encode("latin-1"))
    records = read_all(FileSource(path=str(latin), format="csv", encoding="latin-1", delimiter=";"))
    assert [r.value for r in records] == [{"nom": "José", "ville": "Besançon"}]
    assert raws(records) == ["José;Besançon".encode()]
    bom = write_file("bom.csv", b"\xef\xbb\xbfsite\nlmnh\n")
    assert [r.value for r in read_all(FileSource(path=str(bom), format="csv"))] == [{"site": "lmnh"}]


def test_csv_repeated_header_name_fails_the_read(write_file):
    source = FileSource(path=str(write_file("in.csv", b"a,b,a\n1,2,3\n")), format="csv")
    with pytest.raises(RunError, match=r"in\.csv: line 1: the CSV header repeats the column 'a'$"):
        read_all(source)


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b'a,b\n1,"x\n2,y\n3,z\n', 2, "unterminated quoted field"),
        (b'a,b\n1,2\n\n2,"ab"c\n3,4\n', 4, "text after the closing quote of a quoted field"),
        (b'a,b\n1,"x\ny"\n2,"ab" \n', 4, "text after the closing quote of a quoted field"),
    ],
)
def test_csv_quoting_error_stops_the_read_at_the_line_where_its_row_starts(write_file, data, line, reason):
    source = FileSource(path=str(write_file("q.csv", data)), format="csv")
    source.open()
    try:
        with pytest.raises(RunError, match=rf"q\.csv: line {line}: {reason}"):
            source.read(1000, 0.1)
    finally:
        source.close()


def test_csv_quoted_fields_may_hold_delimiters_quotes_and_line_breaks(write_file):
    data = b'a,b\n1,"x,\r\ny"\n2,"say ""hi"""\n3,a"b\n'
    records = read_all(FileSource(path=str(write_file("in.csv", data)), format="csv"))
    assert [r.value for r in records] == [
        {"a": "1", "b": "x,\r\ny"},
        {"a": "2", "b": 'say "hi"'},
        {"a": "3", "b": 'a"b'},  # a quote inside an unquoted field is data
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a,b,a\n1\n", "line 1: the CSV header repeats the column 'a'"),
        (b"\n\xffa\n1\n", r"line 2: the CSV header is not utf-8 text: column 1 is '\\xffa'"),
        (b'"a\n1\n', "line 1: unterminated quoted field"),
    ],
)
def test_check_reads_each_local_csv_header(write_file, tmp_path, data, message):
    write_file("d/1.csv", b"a,b\n1,2\n")
    write_file("d/2.csv.gz", data)
    source = FileSource(path=str(tmp_path / "d" / "*"), format="csv")
    with pytest.raises(ConfigError) as info:
        source.check()
    [problem] = info.value.problems
    assert problem.path == "path"
    assert re.search(re.escape(str(tmp_path / "d" / "2.csv.gz")) + ": " + message, problem.message), problem.message
    FileSource(path=str(tmp_path / "d" / "1.csv"), format="csv").check()
    FileSource(path=str(tmp_path / "d" / "2.csv.gz"), format="lines").check()  # only csv has a header


# --- json -------------------------------------------------------------------------------------------------------


def test_json_single_object(write_file):
    records = read_all(FileSource(path=str(write_file("one.json", b'\n{"a": [1, 2]}\n')), format="json"))
    assert [(r.value, r.raw, r.meta.offset) for r in records] == [({"a": [1, 2]}, b'{"a": [1, 2]}', 0)]


def test_json_array_elements_keep_their_own_text(write_file):
    data = b'[ {"a": 1},\n  {"b" : "\xc3\xa9"}, 7, {"c": 1, "c": 2}, [] ]'
    records = read_all(FileSource(path=str(write_file("many.json", data)), format="json"))
    assert [r.value for r in records] == [{"a": 1}, {"b": "é"}, None, None, None]
    assert raws(records) == [b'{"a": 1}', b'{"b" : "\xc3\xa9"}', b"7", b'{"c": 1, "c": 2}', b"[]"]
    assert [r.meta.offset for r in records] == [0, 1, 2, 3, 4]
    assert [r.reject.reason if r.reject else None for r in records] == [
        None,
        None,
        "expected a JSON object, found 7 (an integer)",
        "duplicate key 'c'",
        "expected a JSON object, found [] (an array)",
    ]


@pytest.mark.parametrize("data", [b"[]", b" [ ] \n"])
def test_json_empty_array_gives_nothing(write_file, data):
    assert read_all(FileSource(path=str(write_file("e.json", data)), format="json")) == []


@pytest.mark.parametrize("data", [b'{"a": 1', b'[{"a": 1}, ', b'[{"a": 1}] x', b"42", b'"text"'])
def test_json_file_that_is_not_objects_is_one_record_to_reject(write_file, data):
    records = read_all(FileSource(path=str(write_file("bad.json", data)), format="json"))
    assert [(r.value, r.raw) for r in records] == [(None, data.strip())]
    assert records[0].reject is not None
    assert (records[0].reject.validator, records[0].reject.rule) == ("file", "json")
    assert records[0].reject.reason == JsonValidator().validate(records[0]).reject.reason  # type: ignore[union-attr]


# --- S3 (a real moto server) -------------------------------------------------------------------------------------


def test_s3_single_key(s3):
    url = s3.put("in/events.jsonl", b'{"n": 1}\n{"n": 2}\n')
    records = read_all(FileSource(path=url, format="jsonl"))
    assert [r.value for r in records] == [{"n": 1}, {"n": 2}]
    assert {r.meta.topic for r in records} == {url}


def test_s3_prefix_glob_sorted_and_segment_wise(s3):
    s3.put("data/b.csv", b"k\nb0\nb1\n")
    s3.put("data/a.csv", b"k\na0\n")
    s3.put("data/c.csv.gz", gzip.compress(b"k\nc0\n"))
    s3.put("data/nested/z.csv", b"k\nz0\n")
    s3.put("data/readme.txt", b"not csv\n")
    records = read_all(FileSource(path=s3.url("data/*.csv"), format="csv"))
    assert [(r.meta.topic, r.meta.offset, r.value) for r in records] == [
        (s3.url("data/a.csv"), 0, {"k": "a0"}),
        (s3.url("data/b.csv"), 0, {"k": "b0"}),
        (s3.url("data/b.csv"), 1, {"k": "b1"}),
    ]
    deep = read_all(FileSource(path=s3.url("data/**/*.csv*"), format="csv"))
    assert [r.value["k"] for r in deep] == ["a0", "b0", "b1", "c0", "z0"]


def test_s3_missing_key_bucket_or_match_is_a_config_error(s3):
    with pytest.raises(ConfigError, match=r"missing\.txt"):
        FileSource(path=s3.url("missing.txt")).open()
    with pytest.raises(ConfigError, match="no S3 object matches"):
        FileSource(path=s3.url("none/*.txt")).open()
    with pytest.raises(ConfigError):
        FileSource(path="s3://no-such-bucket-here/*.txt").open()


# --- HTTP (a real local server) ----------------------------------------------------------------------------------


def test_http_plain_and_gzipped(http_root, write_file):
    root, base = http_root
    write_file("plain.txt", b"h1\nh2\n", root=root)
    write_file("packed.json.gz", json.dumps([{"a": 1}, {"a": 2}]).encode(), root=root)
    records = read_all(FileSource(path=f"{base}/plain.txt"))
    assert raws(records) == [b"h1", b"h2"]
    assert records[0].meta.topic == f"{base}/plain.txt"
    assert [r.value for r in read_all(FileSource(path=f"{base}/packed.json.gz", format="json"))] == [
        {"a": 1},
        {"a": 2},
    ]


def test_http_not_found_is_a_config_error(http_root):
    _, base = http_root
    with pytest.raises(ConfigError, match="404"):
        FileSource(path=f"{base}/missing.txt").open()
