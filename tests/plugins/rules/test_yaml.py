"""Rules built from pipeline files through the real config conversion; the documented examples; the kiosk rules
expressed with generic validators only."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import lmnh_pipes_rules
from lmnh_pipes import ConfigError, Registry, load
from lmnh_pipes.config import build
from lmnh_pipes.plugins import get_registry
from lmnh_pipes.testing import ListSink, ListSource
from lmnh_pipes.yamlfile import parse_document
from lmnh_pipes_rules import RULES, InCatalogue, NotFuture, Range, TimeWindow

from .helpers import DOCS, EXHIBITIONS


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.add_source("list", ListSource)
    registry.add_sink("memory", ListSink)
    lmnh_pipes_rules.lmnh_pipes_register(registry=registry)
    return registry


def pipeline_text(validators: str, items: list[Any], *, decoded: bool = False) -> str:
    """A pipeline over ``items``: sent as JSON text (raw bytes), or with ``decoded`` as mappings (like CSV rows)."""
    if not decoded:
        items = [i if isinstance(i, str) else json.dumps(i) for i in items]
    lines = ["source:", "  type: list", f"  items: {json.dumps(items)}"]
    lines += ["sink: {type: memory}", "rejects: {type: memory}", validators]
    return "\n".join(lines) + "\n"


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_every_rule_is_registered_through_the_entry_point():
    names = get_registry().names("validator")
    for name in RULES:
        assert name in names
    assert "json" in names


def test_options_are_converted_by_their_annotations(registry, tmp_path):
    text = pipeline_text(
        """validators:
  - {type: json}
  - {type: range, field: val, min: -1, max: 4}
  - {type: time_window, field: at, start: "08:45", end: 18:15:30, timezone: Europe/London}
  - {type: not_future, field: at, tolerance: 5}
  - {type: in_catalogue, field: site, catalogue: CAT, pattern: "lmnh_exhibition_*.json", key: EXHIBITION_ID,
     format: "EXH_{:02d}", target: exhibition, when: {kind: [a, b]}}
""".replace("CAT", str(EXHIBITIONS)),
        [],
    )
    doc = parse_document(text, str(tmp_path / "p.yaml"), {})
    pipeline = build(doc, registry)
    _, range_v, window, future, catalogue = pipeline.validators
    assert range_v == Range(field="val", min=-1.0, max=4.0)
    assert isinstance(window, TimeWindow)
    assert window.end == "18:15:30"
    assert isinstance(future, NotFuture)
    assert future.tolerance == 5.0
    assert isinstance(catalogue, InCatalogue)
    assert catalogue.when == {"kind": ["a", "b"]}


def test_a_pipeline_of_generic_rules_runs(registry, tmp_path):
    items = [
        {"site": "3", "val": 2},
        {"site": "3", "val": 9},
        {"site": "6", "val": 2},
        {"site": "0", "val": -1},
        "not json",
    ]
    path = tmp_path / "p.yaml"
    path.write_text(
        pipeline_text(
            f"""validators:
  - type: json
  - {{type: range, field: val, min: -1, max: 4}}
  - type: in_catalogue
    field: site
    catalogue: {EXHIBITIONS}
    pattern: lmnh_exhibition_*.json
    key: EXHIBITION_ID
    format: EXH_{{:02d}}
    target: exhibition
  - {{type: set, values: {{kind: request}}, when: {{val: -1}}}}
""",
            items,
        )
    )
    pipeline = load(path, registry=registry, environ={})
    report = pipeline.run(handle_signals=False)
    assert (report.read, report.accepted, report.rejected) == (5, 2, 3)
    assert [r.value for r in pipeline.sink.records] == [
        {"site": "3", "val": 2, "exhibition": "EXH_03"},
        {"site": "0", "val": -1, "exhibition": "EXH_00", "kind": "request"},
    ]
    assert [(r.reject.validator, r.reject.rule) for r in pipeline.rejects.records] == [
        ("range", "range"),
        ("in_catalogue", "membership"),
        ("json", "json"),
    ]
    assert report.rejected_by[("range", "range")] == 1


@pytest.mark.parametrize(
    ("validator", "expected"),
    [
        (
            "{type: time_window, field: at, start: '08:45', end: '18:15', timezone: Europe/Londres}",
            "validators[0].timezone: unknown time zone 'Europe/Londres'",
        ),
        (
            "{type: time_window, field: at, start: '08:45', end: '25:00'}",
            "validators[0].end: expected a time of day",
        ),
        ("{type: range, field: val, min: zero}", "validators[0].min: expected"),
        ("{type: range, field: val, mni: 0}", "validators[0].mni: unknown option 'mni' (did you mean 'min'?)"),
        ("{type: range, min: 0}", "validators[0]: missing required option 'field'"),
        ("{type: not_future, field: at, clock: now}", "validators[0].clock: expected"),
        ("{type: types, fields: {val: integr}}", "fields.val: unknown type 'integr' (did you mean 'integer'?)"),
        ("{type: cast, fields: {val: int}, empty: zero}", "validators[0].empty: expected"),
        ("{type: in_catalogue, field: site, key: ID, catalogue: x, format: '{}{}'}", "format: '{}{}' is not"),
        ("{type: pattern, field: site, regex: '('}", "regex: not a valid regular expression"),
        ("{type: one_of, field: site, values: []}", "values: expected a non-empty list"),
    ],
)
def test_bad_options_are_config_errors_naming_the_key(registry, tmp_path, validator, expected):
    path = tmp_path / "p.yaml"
    path.write_text(pipeline_text(f"validators:\n  - {validator}\n", []))
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    [problem] = problems(exc)
    assert problem.startswith(f"{path}:")
    assert expected in problem


def test_a_missing_catalogue_fails_when_the_pipeline_opens(registry, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        pipeline_text(
            f"validators:\n  - {{type: in_catalogue, field: site, key: ID, catalogue: {tmp_path / 'nowhere'}}}\n",
            [{"site": "3"}],
        )
    )
    pipeline = load(path, registry=registry, environ={})  # building does not read it
    with pytest.raises(ConfigError, match="does not exist"):
        pipeline.run(handle_signals=False)


# --- the documentation's examples ---------------------------------------------------------------------------


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_docs_document_every_type_and_option():
    text = DOCS.read_text(encoding="utf-8")
    for name, cls in RULES.items():
        assert f"## {name}\n" in text, name
        for option in cls.__init__.__code__.co_varnames[1 : cls.__init__.__code__.co_kwonlyargcount + 1]:
            if option != "clock":
                assert f"`{option}`" in text, (name, option)


@pytest.mark.parametrize("block", [b for b in yaml_blocks() if b.startswith("-")], ids=lambda b: b.split("\n")[0][:50])
def test_docs_validator_examples_build(registry, tmp_path, block):
    path = tmp_path / "p.yaml"
    indented = "\n".join("  " + line for line in block.splitlines())
    path.write_text(pipeline_text("validators:\n" + indented, []))
    pipeline = load(path, registry=registry, environ={})
    assert pipeline.validators


def kiosk_block() -> str:
    [block] = [b for b in yaml_blocks() if b.startswith("validators:")]
    return block


VALID = [
    ({"at": "2024-10-21T09:21:24.254719+01:00", "site": "3", "val": 2}, "rating", None, "EXH_03"),
    ({"val": 4, "site": "0", "at": "2024-10-21T09:21:24+01:00"}, "rating", None, "EXH_00"),
    ({"at": "2025-03-12T10:02:11.003117+00:00", "site": "4", "val": -1, "type": 0}, "request", 0, "EXH_04"),
    ({"at": "2025-01-10T18:15:00Z", "site": "5", "val": -1, "type": 1}, "request", 1, "EXH_05"),
    ({"at": "2024-07-01T08:45:00.000+01:00", "site": "1", "val": -0}, "rating", None, "EXH_01"),
    ({"at": "2024-07-01 22:45:00+05:30", "site": "2", "val": 0}, "rating", None, "EXH_02"),
]
INVALID = [
    '{"site": "3", "val": 2}',
    '{"at": "2024-10-21T09:21:24+01:00", "val": 2}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3"}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": -3}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": 5}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": null}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": "INF"}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": 3.0}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": true}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "6", "val": 2}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "None", "val": 2}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "03", "val": 2}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": 3, "val": 2}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "\\uff13", "val": 2}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "EXH_03", "val": 2}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": -1, "type": -1}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": -1, "type": 2}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": -1, "type": null}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": -1, "type": "ERR"}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": -1, "type": true}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": -1, "type": 1.0}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": -1}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": 7, "type": 0}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": 2, "type": null}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": 2, "extra": 1}',
    '{"at": "2024-10-21T09:21:24.254719", "site": "3", "val": 2}',
    '{"at": "2024-10-21T09:21:24+0100", "site": "3", "val": 2}',
    '{"at": " 2024-10-21T09:21:24+01:00", "site": "3", "val": 2}',
    '{"at": "2025-01-10T18:15:00.000001+00:00", "site": "3", "val": 2}',
    '{"at": "2025-01-10T18:15:00.0000001+00:00", "site": "3", "val": 2}',
    '{"at": "2024-07-01T08:44:59.999999+01:00", "site": "3", "val": 2}',
    '{"at": "2024-10-21T02:00:00+01:00", "site": "3", "val": 2}',
    '{"at": "2999-10-21T12:00:00+01:00", "site": "3", "val": 2}',
    '{"at": 1729498884, "site": "3", "val": 2}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": 2, "val": 3}',
    '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": NaN}',
    "\ufeff" + '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": 2}',
    "{'at': '2024-10-21T09:21:24+01:00', 'site': '3', 'val': 2}",
    '[{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": 2}]',
]


def test_the_kiosk_rules_with_generic_validators(registry, tmp_path):
    soon = datetime.now(ZoneInfo("Europe/London")) + timedelta(seconds=30)  # within the 60 s tolerance
    in_hours = soon.hour * 60 + soon.minute in range(8 * 60 + 46, 18 * 60 + 14)  # else time_window rejects it
    future_ok = {"at": soon.isoformat(), "site": "3", "val": 1}
    items: list[Any] = [v for v, *_ in VALID] + INVALID + ([future_ok] if in_hours else [])
    path = tmp_path / "kiosk.yaml"
    path.write_text(pipeline_text(kiosk_block(), items))
    pipeline = load(path, registry=registry, environ={"CATALOGUE": str(EXHIBITIONS)})
    report = pipeline.run(handle_signals=False)
    rejected = {r.raw.decode("utf-8", "replace"): r.reject for r in pipeline.rejects.records}
    assert sorted(rejected) == sorted(INVALID)
    assert all(r is not None and r.reason for r in rejected.values())
    accepted = pipeline.sink.records[: len(VALID)]
    for record, (original, kind, type_, exhibition) in zip(accepted, VALID, strict=True):
        value = record.value
        assert set(value) == {"at", "site", "val", "type", "kind", "exhibition"}
        assert isinstance(value["at"], datetime)
        assert value["at"] == datetime.fromisoformat(original["at"])
        assert value["at"].utcoffset() == datetime.fromisoformat(original["at"]).utcoffset()
        assert (value["site"], value["val"]) == (original["site"], original["val"])
        assert (value["kind"], value["type"], value["exhibition"]) == (kind, type_, exhibition)
    assert report.accepted == len(VALID) + (1 if in_hours else 0)


def test_the_historical_csv_cast_example(registry, tmp_path):
    [cast_block] = [b for b in yaml_blocks() if b.startswith("- type: cast")]
    indented = "\n".join("  " + line for line in cast_block.splitlines())
    rows = [
        {"at": "2023-09-01 08:03:41", "site": "3", "val": "2", "type": ""},
        {"at": "2023-12-01 10:00:00", "site": "0", "val": "-1", "type": "1.0"},
    ]
    path = tmp_path / "hist.yaml"
    path.write_text(pipeline_text("validators:\n" + indented, rows, decoded=True))
    pipeline = load(path, registry=registry, environ={})
    pipeline.run(handle_signals=False)
    values = [r.value for r in pipeline.sink.records]
    assert [v["at"].isoformat() for v in values] == ["2023-09-01T08:03:41+01:00", "2023-12-01T10:00:00+00:00"]
    assert [(v["site"], v["val"], v.get("type", "absent")) for v in values] == [("3", 2, "absent"), ("0", -1, 1)]
