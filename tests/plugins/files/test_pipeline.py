"""Whole pipelines from files to CSV: every input line ends in exactly one of the two outputs."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

import lmnh_pipes
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
