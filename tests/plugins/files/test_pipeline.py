"""Whole pipelines from files to CSV: every input line ends in exactly one of the two outputs."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

import lmnh_pipes
import lmnh_pipes_rules
from lmnh_pipes import BatchOptions, Pipeline
from lmnh_pipes.plugins import get_registry
from lmnh_pipes_files import CsvSink, FileSource
from lmnh_pipes_files.csv_sink import REJECT_COLUMNS
from lmnh_pipes_rules import JsonValidator


def make_inputs(root: Path, files: int = 3, lines: int = 200, seed: int = 7) -> tuple[set[tuple[str, int]], int]:
    """Write files mixing good objects and every kind of bad line; return all (path, offset) and the good count."""
    rng = random.Random(seed)
    bad = [b"", b"not json", b"[1, 2]", b'{"a": 1, "a": 2}', b"\xff\xfe", b'{"open": ', b"null", b"\xef\xbb\xbf{}"]
    everything: set[tuple[str, int]] = set()
    good = 0
    for f in range(files):
        path = root / f"part-{f}.txt"
        chunks = []
        for i in range(lines):
            if rng.random() < 0.7:
                chunks.append(json.dumps({"n": f * lines + i, "site": rng.choice(["lmnh", "tring"])}).encode())
                good += 1
            else:
                chunks.append(rng.choice(bad))
            everything.add((str(path), i))
        ending = b"\r\n" if f == 1 else b"\n"
        path.write_bytes(ending.join(chunks) + ending)
    return everything, good


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_line_lands_in_exactly_one_csv(tmp_path):
    (tmp_path / "in").mkdir()
    everything, good = make_inputs(tmp_path / "in")
    accepted_csv = tmp_path / "out" / "accepted.csv"
    rejects_csv = tmp_path / "out" / "rejects.csv"
    pipeline = Pipeline(
        source=FileSource(path=str(tmp_path / "in" / "part-*.txt")),
        validators=[JsonValidator()],
        sink=CsvSink(path=str(accepted_csv), columns=["meta.topic", "meta.offset", "n", "site"]),
        rejects=CsvSink(path=str(rejects_csv)),
        batch=BatchOptions(max_records=17, max_wait=5.0),
    )
    report = pipeline.run(handle_signals=False)

    accepted = read_rows(accepted_csv)
    rejected = read_rows(rejects_csv)
    assert list(rejected[0]) == list(REJECT_COLUMNS)
    got_accepted = {(r["meta.topic"], int(r["meta.offset"])) for r in accepted}
    got_rejected = {(r["meta.topic"], int(r["meta.offset"])) for r in rejected}
    assert len(accepted) == len(got_accepted) == good
    assert len(rejected) == len(got_rejected) == len(everything) - good
    assert got_accepted.isdisjoint(got_rejected)
    assert got_accepted | got_rejected == everything
    assert all(r["reject.validator"] == "json" and r["reject.reason"] for r in rejected)
    assert (report.read, report.accepted, report.rejected, report.rejects_written) == (
        len(everything),
        good,
        len(everything) - good,
        len(everything) - good,
    )
    assert report.stopped_by == "end of input"


def test_yaml_pipeline_through_the_registered_types(tmp_path, monkeypatch):
    monkeypatch.setenv("LMNH_PIPES_PLUGINS", "files,rules")
    (tmp_path / "visits.csv").write_text("site,count\nlmnh,3\ntring\n", encoding="utf-8")
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        f"""\
source: {{type: file, path: "{tmp_path}/*.csv", format: csv}}
validators: [{{type: json}}]
sink: {{type: csv, path: "{tmp_path}/out/ok.csv", columns: [site, count, meta.offset]}}
rejects: {{type: csv, path: "{tmp_path}/out/bad.csv", columns: [meta.offset, raw, reject.rule]}}
""",
        encoding="utf-8",
    )
    pipeline = lmnh_pipes.load(config, environ={})
    assert isinstance(pipeline.source, FileSource)
    report = pipeline.run(handle_signals=False)
    assert (report.read, report.accepted, report.rejected) == (2, 1, 1)
    assert (tmp_path / "out" / "ok.csv").read_bytes() == b"site,count,meta.offset\r\nlmnh,3,0\r\n"
    assert (tmp_path / "out" / "bad.csv").read_bytes() == b"meta.offset,raw,reject.rule\r\n1,tring,csv\r\n"


def test_registered_with_summaries(monkeypatch):
    monkeypatch.setenv("LMNH_PIPES_PLUGINS", "files")
    registry = get_registry()
    source, sink = registry.get("source", "file"), registry.get("sink", "csv")
    assert source is not None
    assert sink is not None
    assert source.factory is FileSource
    assert sink.factory is CsvSink
    assert source.summary.startswith("Read records from files")
    assert sink.summary.startswith("Write records as CSV rows")
    assert source.distribution == "lmnh-pipes"


def test_yaml_option_errors_name_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("LMNH_PIPES_PLUGINS", "files,rules")
    config = tmp_path / "pipeline.yaml"
    config.write_text("source: {type: file, path: x, format: xml}\nsink: {type: csv, path: y, colums: [a]}\n")
    with pytest.raises(lmnh_pipes.ConfigError) as exc:
        lmnh_pipes.load(config, environ={})
    text = str(exc.value)
    assert "source.format" in text
    assert "sink.colums" in text
    assert "did you mean 'columns'?" in text


def test_jsonl_without_a_json_validator_writes_no_empty_row(tmp_path, caplog):
    """Every line ends in exactly one output; a line that is not JSON is a reject, never a row of empty cells."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"a": 1, "b": 2}\nnot json\n{"a": 3, "c": 4}\n\n{"a": 5, "b": 6}\n')
    pipeline = Pipeline(
        source=FileSource(path=str(source), format="jsonl"),
        validators=[],
        sink=CsvSink(path=str(tmp_path / "ok.csv")),
        rejects=CsvSink(path=str(tmp_path / "bad.csv")),
    )
    with caplog.at_level("WARNING", logger="lmnh_pipes.csv"):
        report = pipeline.run(handle_signals=False)
    assert (report.read, report.accepted, report.rejected) == (5, 3, 2)
    assert dict(report.rejected_by) == {("file", "json"): 2}
    assert (tmp_path / "ok.csv").read_bytes() == b"a,b\r\n1,2\r\n3,\r\n5,6\r\n"
    assert [(r["meta.offset"], r["reject.reason"], r["raw"]) for r in read_rows(tmp_path / "bad.csv")] == [
        ("1", "not valid JSON: Expecting value at character 0", "not json"),
        ("3", "empty value", ""),
    ]
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"csv sink {tmp_path / 'ok.csv'} leaves out key 'c'"
    ]


def test_lines_without_a_json_validator_go_to_the_rejects_when_the_columns_need_a_value(tmp_path):
    source = tmp_path / "in.txt"
    source.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    pipeline = Pipeline(
        source=FileSource(path=str(source)),
        validators=[],
        sink=CsvSink(path=str(tmp_path / "ok.csv"), columns=["a"]),
        rejects=CsvSink(path=str(tmp_path / "bad.csv")),
    )
    report = pipeline.run(handle_signals=False)
    assert (report.read, report.rejected, report.written) == (2, 2, 0)
    assert (tmp_path / "ok.csv").read_bytes() == b"a\r\n"
    bad = read_rows(tmp_path / "bad.csv")
    assert [(r["reject.validator"], r["reject.rule"], r["raw"]) for r in bad] == [
        ("csv", "write", '{"a": 1}'),
        ("csv", "write", '{"a": 2}'),
    ]
    assert bad[0]["reject.reason"].startswith("the value is not decoded, and the csv sink's columns read it")


@pytest.mark.parametrize("first", ["json", "cast"])
def test_csv_rows_of_the_wrong_width_or_bytes_get_their_own_reasons_whatever_validator_comes_first(tmp_path, first):
    source = tmp_path / "in.csv"
    source.write_bytes(b"site,val\n3,2\n4,1,9\n\xffx,2\n5,3\n")
    validator = JsonValidator() if first == "json" else lmnh_pipes_rules.Cast(fields={"val": "int"})
    pipeline = Pipeline(
        source=FileSource(path=str(source), format="csv"),
        validators=[validator],
        sink=CsvSink(path=str(tmp_path / "ok.csv")),
        rejects=CsvSink(path=str(tmp_path / "bad.csv")),
    )
    report = pipeline.run(handle_signals=False)
    assert (report.read, report.accepted, report.rejected) == (4, 2, 2)
    assert (tmp_path / "ok.csv").read_bytes() == b"site,val\r\n3,2\r\n5,3\r\n"
    assert [(r["reject.rule"], r["reject.reason"]) for r in read_rows(tmp_path / "bad.csv")] == [
        ("csv", "row has 3 fields; the header has 2"),
        ("encoding", "not utf-8 text: byte 0xff in column 'site'"),
    ]
