"""The ``csv`` sink in a replay: its rejects file read back exactly and settled in place, its output cut back."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lmnh_pipes import ConfigError, Meta, Record, RunError
from lmnh_pipes.replay import ReplayMode, Selection, plan_replay, replay
from lmnh_pipes.replaying import Settlement, StoredReject
from lmnh_pipes.testing import ListSink, ListSource
from lmnh_pipes_files import CsvSink
from lmnh_pipes_files.csv_sink import REJECT_COLUMNS
from lmnh_pipes_files.rejectsfile import READ_BACK

MEGABYTE = bytes(range(256)) * 4096
HOSTILE = [
    b"\xd0\x00\xff not UTF-8",
    b"\x00",
    b"\x01\x02\x1b[31m\x7f controls",
    b"\\xd0",  # the four characters, not the byte
    b"ends in a backslash \\",
    b"line one\r\nline two\n\rthree\r",
    b'{"site": "caf\xc3\xa9 \xf0\x9f\xa6\x95", "tab": "a\tb"}',
    b"",
    MEGABYTE,
]


class Accept:
    """A validator that accepts everything, decoding nothing."""

    name = "accept"

    def validate(self, record: Record) -> Record:
        return record


class RejectOdd:
    """A validator that refuses the records whose raw bytes have an odd length."""

    name = "odd"

    def validate(self, record: Record) -> Record:
        return record.rejected_by("odd", f"{len(record.raw)} bytes", "length") if len(record.raw) % 2 else record


def reject(raw: bytes, offset: int, **meta: object) -> Record:
    record = Record(raw=raw, meta=Meta(source="file", topic="in.txt", offset=offset, **meta))
    return record.rejected_by("json", f'reason {offset}, with a comma and a "quote"\nand a line', "json")


def write_rejects(path: Path, records: Sequence[Record], **options: object) -> CsvSink:
    sink = CsvSink(path=str(path), **options)
    sink.open()
    try:
        sink.write(records)
    finally:
        sink.close()
    return CsvSink(path=str(path), **options)


def test_hostile_raw_bytes_read_back_exactly_from_one_line_each(tmp_path):
    path = tmp_path / "rejects.csv"
    keys: list[str | bytes | None] = ["k", b"\xff\x00key", None, "back\\slash", "é\r\n"]
    times = [datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))), None]
    records = [
        reject(raw, i, partition=i % 3, key=keys[i % len(keys)], timestamp=times[i % 2])
        for i, raw in enumerate(HOSTILE)
    ]
    store = write_rejects(path, records)
    data = path.read_bytes()
    assert b"\x00" not in data
    assert data.count(b"\n") == 1 + len(HOSTILE) + len(HOSTILE)  # the header, the rows, and each reason's line
    back = list(store.stored_rejects())
    assert [s.record.raw for s in back] == HOSTILE
    assert [s.record.meta for s in back] == [r.meta for r in records]
    assert [s.record.reject for s in back] == [r.reject for r in records]
    assert [s.handle for s in back] == [(str(path), i) for i in range(len(HOSTILE))]


def test_a_rejects_file_with_the_default_columns_keeps_all_that_a_replay_reads_back():
    assert set(REJECT_COLUMNS) == READ_BACK


def test_each_reject_is_one_line_when_no_other_column_holds_a_line_break(tmp_path):
    path = tmp_path / "rejects.csv"
    write_rejects(path, [reject(raw, i) for i, raw in enumerate(HOSTILE)], columns=["meta.offset", "raw"])
    lines = path.read_bytes().split(b"\r\n")
    assert len(lines) == 1 + len(HOSTILE) + 1  # and the empty string after the last row's end
    assert [line.split(b",", 1)[0] for line in lines[1:-1]] == [str(i).encode() for i in range(len(HOSTILE))]
    assert all(b"\n" not in line and b"\r" not in line for line in lines)


def test_a_replay_gives_the_validators_and_the_sink_the_same_bytes(tmp_path):
    path = tmp_path / "rejects.csv"
    store = write_rejects(path, [reject(raw, i) for i, raw in enumerate(HOSTILE)])
    sink = ListSink()
    report = replay(pipeline="p", source=ListSource([]), validators=[Accept()], sink=sink, store=store)
    assert [r.raw for r in sink.records] == HOSTILE
    assert report.accepted == report.written == len(HOSTILE)
    assert list(csv.reader(io.StringIO(path.read_text(), newline="")))[1:] == []  # the header alone


def test_settling_removes_the_accepted_rewrites_the_refused_and_copies_the_rest(tmp_path):
    path = tmp_path / "rejects.csv"
    raws = [b"even", b"odd", b"\xff\xfe", b"odd\x00\x00", b"passed over", b"last"]
    records = [reject(raw, i) for i, raw in enumerate(raws)]
    records[4] = Record(raw=raws[4], meta=Meta(offset=4)).rejected_by("kiosk", "closed", "hours")
    store = write_rejects(path, records)
    before = path.read_bytes()
    report = replay(
        pipeline="p",
        source=ListSource([]),
        validators=[RejectOdd()],
        sink=ListSink(),
        store=store,
        selection=Selection(rules=frozenset({"json"})),
    )
    assert (report.read, report.chosen, report.accepted) == (6, 5, 3)
    assert report.still_rejected == {("odd", "length"): 2}
    rows = read_rows(path)
    assert [r["raw"] for r in rows] == ["odd", "odd\\x00\\x00", "passed over"]
    assert [(r["reject.validator"], r["reject.rule"], r["reject.reason"], r["reject.replays"]) for r in rows] == [
        ("odd", "length", "3 bytes", "1"),
        ("odd", "length", "5 bytes", "1"),
        ("kiosk", "hours", "closed", "0"),
    ]
    passed = before[before.index(b"\r\n,,0,4,") :]
    passed = passed[: passed.index(b"\r\n", 2) + 2]
    assert path.read_bytes().startswith(before[: before.index(b"\r\n") + 2])  # the header, as it was
    assert path.read_bytes().endswith(passed[2:])  # the row passed over, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rejects.csv"]  # no journal, no temporary file

    again = replay(
        pipeline="p",
        source=ListSource([]),
        validators=[RejectOdd()],
        sink=ListSink(),
        store=CsvSink(path=str(path)),
        selection=Selection(max_replays=1),
    )
    assert (again.chosen, again.accepted, again.rejected) == (1, 0, 1)  # the two replayed once are passed over
    assert [r["reject.replays"] for r in read_rows(path)] == ["1", "1", "1"]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"path": "s3://bucket/rejects.csv"}, "needs an uncompressed local file: 's3://bucket/rejects.csv' is not a"),
        ({"path": "{tmp}/rejects.csv.gz"}, r"is compressed \(\.gz\)"),
        ({"path": "{tmp}/rejects.csv", "header": False}, "needs the rejects file's header"),
        ({"path": "{tmp}/rejects.csv", "columns": ["meta.offset", "reject.reason"]}, "replay needs the raw column"),
    ],
)
def test_what_a_rejects_file_needs_to_be_replayed(tmp_path, options, match):
    options = {k: v.replace("{tmp}", str(tmp_path)) if k == "path" else v for k, v in options.items()}
    if "://" not in options["path"]:
        write_rejects(Path(options["path"]), [reject(b"x", 0)], **{k: v for k, v in options.items() if k != "path"})
    with pytest.raises(ConfigError, match=match):
        CsvSink(**options).stored_rejects()


def test_a_raw_cell_not_in_the_raw_encoding_is_refused_with_its_line(tmp_path):
    path = tmp_path / "rejects.csv"
    path.write_bytes(b'meta.offset,raw\r\n0,fine\r\n1,"{""a"": ""b\\n""}"\r\n')  # an older file's JSON escape
    expected = re.escape("""rejects.csv, line 3, column raw: '\\\\n"}' at character 8: a backslash must begin""")
    with pytest.raises(RunError, match=expected):
        list(CsvSink(path=str(path)).stored_rejects())


def test_no_rejects_file_yet_is_nothing_to_replay(tmp_path):
    assert list(CsvSink(path=str(tmp_path / "rejects.csv")).stored_rejects()) == []


def test_each_file_of_a_split_rejects_sink_is_read_and_settled(tmp_path):
    records = [reject(raw, i) for i, raw in enumerate([b"aa", b"b", b"cc", b"d"])]
    records[1] = attrs_evolve_rule(records[1], "other")
    records[3] = attrs_evolve_rule(records[3], "other")
    store = write_rejects(tmp_path / "rejects-{}.csv", records, split_by="reject.rule")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rejects-json.csv", "rejects-other.csv"]
    sink = ListSink()
    report = replay(pipeline="p", source=ListSource([]), validators=[RejectOdd()], sink=sink, store=store)
    assert [r.raw for r in sink.records] == [b"aa", b"cc"]
    assert (report.read, report.accepted, report.rejected) == (4, 2, 2)
    assert read_rows(tmp_path / "rejects-json.csv") == []
    assert [r["raw"] for r in read_rows(tmp_path / "rejects-other.csv")] == ["b", "d"]


def attrs_evolve_rule(record: Record, rule: str) -> Record:
    return Record(raw=record.raw, meta=record.meta).rejected_by("json", "reason", rule)


def test_a_rejects_file_changed_since_it_was_read_is_left_as_it_is(tmp_path):
    path = tmp_path / "rejects.csv"
    store = write_rejects(path, [reject(b"aa", 0), reject(b"bb", 1)])
    stored = list(store.stored_rejects())
    appender = CsvSink(path=str(path), append=True)
    appender.open()
    appender.write([reject(b"a pipeline's new reject", 2)])
    appender.close()
    changed = path.read_bytes()
    with pytest.raises(RunError, match=r"changed since this replay read it .* stop the pipeline that writes it"):
        store.settle(Settlement(accepted=stored[:1]))
    assert path.read_bytes() == changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rejects.csv"]


def test_a_settlement_names_only_rejects_this_replay_read(tmp_path):
    path = tmp_path / "rejects.csv"
    store = write_rejects(path, [reject(b"aa", 0)])
    list(store.stored_rejects())
    stranger = StoredReject(record=reject(b"aa", 0), handle=("elsewhere.csv", 0))
    with pytest.raises(RunError, match="not a reject that this csv sink gave back"):
        store.settle(Settlement(accepted=[stranger]))


def accepted(n: int, kind: str = "rating") -> Record:
    return Record(value={"n": n, "kind": kind}, raw=json.dumps({"n": n, "kind": kind}).encode())


def test_a_csv_rejects_file_into_a_csv_sink_is_replayed_journaled(tmp_path):
    assert plan_replay(CsvSink(path="r.csv"), CsvSink(path="s.csv")).mode is ReplayMode.JOURNALED


@pytest.mark.parametrize(("path", "match"), [("s3://b/out.csv", "not a local file"), ("out.csv.gz", "compressed")])
def test_a_replay_cannot_add_to_a_url_or_a_compressed_file(path, match):
    sink = CsvSink(path=path)
    for call in (sink.keep_output, sink.output_mark, lambda: sink.rewind({})):
        with pytest.raises(
            ConfigError, match=f"replay adds rows to the sink's file and, after a crash, cuts them back.*{match}"
        ):
            call()


def test_a_sink_told_to_keep_its_output_adds_to_it(tmp_path):
    path = tmp_path / "out.csv"
    write_rejects(path, [accepted(1)], columns=["n"])
    sink = CsvSink(path=str(path), columns=["n"])
    sink.keep_output()
    sink.open()
    sink.write([accepted(2)])
    sink.close()
    assert path.read_bytes() == b"n\r\n1\r\n2\r\n"


def test_rewind_cuts_each_file_back_to_its_mark_and_removes_a_file_made_since(tmp_path):
    folder = tmp_path / "out"
    write_rejects(folder / "{}.csv", [accepted(1, "rating")], columns=["n", "kind"], split_by="kind")
    sink = CsvSink(path=str(folder / "{}.csv"), columns=["n", "kind"], split_by="kind")
    sink.keep_output()
    sink.open()
    sink.write([accepted(2, "rating")])
    mark = sink.output_mark()
    at_mark = (folder / "rating.csv").read_bytes()
    assert at_mark == b"n,kind\r\n1,rating\r\n2,rating\r\n"
    assert mark["files"] == {str(folder / "rating.csv"): len(at_mark)}
    sink.write([accepted(3, "rating"), accepted(4, "request")])
    sink.close()
    (folder / "notes.csv").write_bytes(b"someone else's file\r\n")  # matches {}.csv, but it is not the sink's
    CsvSink(path=str(folder / "{}.csv"), columns=["n", "kind"], split_by="kind").rewind(mark)
    assert (folder / "rating.csv").read_bytes() == at_mark
    assert sorted(p.name for p in folder.iterdir()) == ["notes.csv", "rating.csv"]


def test_rewind_refuses_a_file_shorter_than_its_mark(tmp_path):
    path = tmp_path / "out.csv"
    write_rejects(path, [accepted(1), accepted(2)], columns=["n"])
    sink = CsvSink(path=str(path), columns=["n"])
    mark = {"cwd": os.getcwd(), "files": {str(path): path.stat().st_size + 1}}
    with pytest.raises(RunError, match="it holds 9 bytes, fewer than the 10 it held before the replay's batch"):
        sink.rewind(mark)
    assert path.read_bytes() == b"n\r\n1\r\n2\r\n"


def test_rewind_of_relative_paths_is_done_where_the_replay_ran(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_rejects(Path("out.csv"), [accepted(1)], columns=["n"])
    sink = CsvSink(path="out.csv", columns=["n"])
    mark = sink.output_mark()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(RunError, match=f"while working in {tmp_path}: replay from there"):
        sink.rewind(mark)


def test_a_batch_cut_short_is_journaled_and_stops_the_pipeline_from_writing_on(tmp_path):
    path = tmp_path / "rejects.csv"
    store = write_rejects(path, [reject(b"aa", 0)])
    assert store.unfinished_replay() is None
    store.begin_replay({"cwd": "/x", "files": {"/x/out.csv": 12}})
    store.close()  # the replay is killed here
    store = CsvSink(path=str(path))
    assert store.unfinished_replay() == {"cwd": "/x", "files": {"/x/out.csv": 12}}
    before = path.read_bytes()
    for options in ({}, {"append": True}):
        with pytest.raises(ConfigError, match=r"a replay out of .*rejects.csv is running, or was cut short"):
            CsvSink(path=str(path), **options).open()
    assert path.read_bytes() == before
    store.abandon_replay()
    assert store.unfinished_replay() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rejects.csv"]
    store.close()
    CsvSink(path=str(path), append=True).open()


def test_a_replay_and_a_pipeline_never_write_one_rejects_file_at_once(tmp_path):
    path = tmp_path / "rejects.csv"
    write_rejects(path, [reject(b"aa", 0)])
    before = path.read_bytes()
    running = CsvSink(path=str(path), append=True)
    running.open()
    with pytest.raises(RunError, match=r"rejects\.csv is open in a running pipeline, or in another replay"):
        CsvSink(path=str(path)).unfinished_replay()
    running.close()

    replaying = CsvSink(path=str(path))
    assert replaying.unfinished_replay() is None
    for options in ({}, {"append": True}):
        with pytest.raises(ConfigError, match="lmnh-pipes replay is rewriting it"):
            CsvSink(path=str(path), **options).open()
    assert path.read_bytes() == before  # not even cut by a sink that would replace it
    stored = list(replaying.stored_rejects())
    replaying.settle(Settlement(rejected=[(stored[0], reject(b"aa", 0))]))  # the lock moves to the new file
    with pytest.raises(ConfigError, match="lmnh-pipes replay is rewriting it"):
        CsvSink(path=str(path), append=True).open()
    replaying.close()
    starting = CsvSink(path=str(path), append=True)
    starting.open()
    starting.close()


def test_a_settlement_ends_the_journal_in_the_same_step(tmp_path):
    path = tmp_path / "rejects.csv"
    store = write_rejects(path, [reject(b"aa", 0), reject(b"b", 1)])
    stored = list(store.stored_rejects())
    store.begin_replay({"files": {}})
    assert (tmp_path / "rejects.csv.replay-journal").exists()
    store.settle(Settlement(accepted=stored[:1], passed=stored[1:]))
    assert store.unfinished_replay() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rejects.csv"]
    assert [r["raw"] for r in read_rows(path)] == ["b"]


class Mixed:
    """Accepts raws that start with "ok", refuses the rest with a reason whose length and lines vary."""

    name = "mixed"

    def validate(self, record: Record) -> Record:
        if record.raw.startswith(b"ok"):
            return record
        return record.rejected_by("mixed", "still wrong:\n" + "x" * (len(record.raw) % 7), "mixed")


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5])
def test_settling_batch_by_batch_gives_the_file_that_one_batch_gives(tmp_path, batch_size):
    raws = [b"ok\x00", b"no", b"ok\r\n", b"no \xff", b"passed", b"ok", b"no\\", b"ok too", b'no,"x"', b"passed"]
    records = [reject(raw, i) for i, raw in enumerate(raws)]
    for i in (4, 9):
        records[i] = Record(raw=raws[i], meta=Meta(offset=i)).rejected_by("other", "not chosen\nat all", "other")
    outcomes = []
    for size in (batch_size, 1000):
        folder = tmp_path / str(size)
        store = write_rejects(folder / "rejects.csv", records)
        sink = ListSink()
        chosen = Selection(rules=frozenset({"json"}))
        replay(
            pipeline="p",
            source=ListSource([]),
            validators=[Mixed()],
            sink=sink,
            store=store,
            selection=chosen,
            batch_size=size,
        )
        outcomes.append(((folder / "rejects.csv").read_bytes(), [r.raw for r in sink.records]))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1] == [b"ok\x00", b"ok\r\n", b"ok", b"ok too"]
    assert [r["raw"] for r in read_rows(tmp_path / "1000" / "rejects.csv")] == [
        "no",
        "no \\xff",
        "passed",
        "no\\\\",
        'no,"x"',
        "passed",
    ]
