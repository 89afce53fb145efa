"""``lmnh-pipes test`` agrees with a run: the source's own decoding (Decoding) and the sink's refusals (Refusing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmnh_pipes import Record, RecordRejectedError
from lmnh_pipes.capabilities import Decoding, Refusing
from lmnh_pipes.conformance import conformance_problems
from lmnh_pipes.pipetest import prepare, run_case, run_paths
from lmnh_pipes.plugins import get_registry
from lmnh_pipes.registry import Kind, Registry

NOT_JSON = "not json"
DUPLICATE = '{"site": "1", "val": 5, "val": 6}'
GOOD = '{"site": "1", "val": 5}'


@pytest.fixture(scope="module")
def registry() -> Registry:
    return get_registry()


def component(kind: Kind, type_name: str, **options: object) -> object:
    found = get_registry().get(kind, type_name)
    assert found is not None
    return found.factory(**options)


def suite(folder: Path, pipeline: str, cases: str) -> Path:
    (folder / "p.yaml").write_text(pipeline, encoding="utf-8")
    path = folder / "p.test.yaml"
    path.write_text(f"pipeline: p.yaml\ncases:\n{cases}", encoding="utf-8")
    return path


# -- the capabilities on the shipped components --


def test_the_file_source_decodes_as_its_reader_does(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(f"{NOT_JSON}\n{DUPLICATE}\n{GOOD}\n", encoding="utf-8")
    source = component("source", "file", path=str(data), format="jsonl")
    assert isinstance(source, Decoding)
    assert conformance_problems(source, "source") == []
    source.open()  # type: ignore[attr-defined]
    read = source.read(10, 0.0)  # type: ignore[attr-defined]
    source.close()  # type: ignore[attr-defined]
    decoded = [source.decode(Record(raw=r.raw, meta=r.meta)) for r in read]
    assert decoded == list(read)
    assert [(r.reject.validator, r.reject.rule) if r.reject else r.value for r in decoded] == [
        ("file", "json"),
        ("file", "json"),
        {"site": "1", "val": 5},
    ]
    as_json = component("source", "file", path="x.json", format="json")
    assert isinstance(as_json, Decoding)
    assert as_json.decode(Record(raw=GOOD.encode())).value == {"site": "1", "val": 5}
    lines = component("source", "file", path="x.txt")
    assert isinstance(lines, Decoding)
    record = Record(raw=NOT_JSON.encode())
    assert lines.decode(record) is record
    rows = component("source", "file", path="x.csv", format="csv")
    assert isinstance(rows, Decoding)
    with pytest.raises(ValueError, match="give it as a value"):
        rows.decode(record)
    assert not isinstance(component("source", "kafka", topic="t", bootstrap_servers="b", group_id="g"), Decoding)


def test_the_csv_sink_names_what_its_write_would_refuse(tmp_path: Path) -> None:
    options = {"path": str(tmp_path / "out.csv"), "columns": ["site", "val"], "extra_keys": "reject"}
    sink = component("sink", "csv", **options)
    assert isinstance(sink, Refusing)
    assert conformance_problems(sink, "sink") == []
    records = [Record.of({"site": "1", "val": 5}), Record.of({"site": "1", "x": 1}), Record(raw=b"not json")]
    refusals = sink.refusals(records)
    assert [(records.index(r), reason) for r, reason in refusals] == [
        (1, "no column in the csv sink for key 'x' (columns: site, val)"),
        (
            2,
            "the value is not decoded, and the csv sink's columns read it (columns: site, val); put a decoding "
            "validator such as 'json' first",
        ),
    ]
    assert not (tmp_path / "out.csv").exists()  # nothing opened
    writing = component("sink", "csv", **options)
    writing.open()  # type: ignore[attr-defined]
    with pytest.raises(RecordRejectedError) as raised:
        writing.write(records)  # type: ignore[attr-defined]
    writing.close()  # type: ignore[attr-defined]
    assert raised.value.records == refusals  # the same screen
    warn = component("sink", "csv", path="out/{}.csv", split_by="site")
    assert isinstance(warn, Refusing)
    assert warn.refusals([Record.of({"site": "1"}), Record.of({"site": "2", "extra": 1})]) == []


# -- as a case sees them --

JSONL = """\
source: {type: file, path: nowhere/in.jsonl, format: jsonl}
validators: []
sink: {type: csv, path: nowhere/out.csv, columns: [site, val], extra_keys: reject}
"""


def test_a_jsonl_source_rejects_what_does_not_decode_before_the_validators(tmp_path: Path, registry: Registry) -> None:
    path = suite(
        tmp_path,
        JSONL,
        f"""\
  - name: decoded by the source
    input:
      - '{NOT_JSON}'
      - '{DUPLICATE}'
      - '{GOOD}'
      - {{value: '{GOOD}', meta: {{offset: 7}}}}
      - {{value: {{site: "2", val: 1}}}}
    accepted:
      - {{site: "1", val: 5, meta.offset: 2}}
      - {{site: "1", meta.offset: 7}}
      - {{site: "2"}}
    rejected:
      - {{validator: file, rule: json, reason: "not valid JSON", raw: '{NOT_JSON}'}}
      - {{validator: file, rule: json, reason: "duplicate key 'val'"}}
""",
    )
    prepared = prepare(path, registry, environ={})
    result = run_case(prepared, prepared.suite.cases[0])
    assert result.passed, result.lines()


def test_the_csv_sinks_refusals_are_rejects_by_csv(tmp_path: Path, registry: Registry) -> None:
    path = suite(
        tmp_path,
        JSONL,
        """\
  - name: a key without a column
    input: ['{"site": "1", "val": 5, "x": 1}', '{"site": "1", "val": 5}']
    accepted:
      - {destination: nowhere/out.csv, val: 5}
    rejected:
      - {validator: csv, rule: write, reason: "no column in the csv sink for key 'x' (columns: site, val)"}
""",
    )
    prepared = prepare(path, registry, environ={})
    result = run_case(prepared, prepared.suite.cases[0])
    assert result.passed, result.lines()
    assert [o.destination for o in result.outcomes] == [None, "nowhere/out.csv"]


def test_an_undecoded_value_is_refused_and_an_accepted_null_shows_its_raw_text(
    tmp_path: Path, registry: Registry
) -> None:
    lines = JSONL.replace(", format: jsonl", "")
    path = suite(
        tmp_path,
        lines,
        """\
  - name: nothing decodes it
    input: ['{"site": "1", "val": 5}']
    rejected:
      - {validator: csv, rule: write, reason: "the value is not decoded"}
""",
    )
    prepared = prepare(path, registry, environ={})
    assert run_case(prepared, prepared.suite.cases[0]).passed
    raw = lines.replace(", columns: [site, val], extra_keys: reject", "")  # default columns: meta and raw
    path = suite(tmp_path, raw, "  - {name: null value, input: ['not json'], accepted: 0}\n")
    prepared = prepare(path, registry, environ={})
    result = run_case(prepared, prepared.suite.cases[0])
    assert result.lines()[-1] == '      input 0 (line 3): accepted, goes to nowhere/out.csv: null (raw: "not json")'
    assert result.to_dict()["outcomes"][0]["raw"] == "not json"


def test_text_for_a_csv_source_is_a_problem_with_its_line(tmp_path: Path, registry: Registry) -> None:
    path = suite(
        tmp_path,
        JSONL.replace("format: jsonl", "format: csv"),
        """\
  - name: rows
    input:
      - {value: {site: "1", val: "5"}}
      - 'site,val'
      - {base64: AA==}
    accepted: 1
""",
    )
    results = run_paths([path], registry)
    assert results.exit_code == 2
    assert not results.results
    reason = "the source cannot decode this input alone: a csv row is decoded by its file's header"
    assert [str(p).split(": give")[0] for p in results.problems] == [
        f"{path}:6: cases[0].input[1]: {reason}",
        f"{path}:7: cases[0].input[2]: {reason}",
    ]
