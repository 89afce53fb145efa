"""The pipeline file's JSON Schema: what it accepts is what ``config.load`` builds, and third-party types join it."""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs
import jsonschema
import pytest
import yaml

from lmnh_pipes import ConfigError, Registry, hookimpl, load, option_doc
from lmnh_pipes.config import TOP_KEYS
from lmnh_pipes.environ import InterpolationError, interpolate
from lmnh_pipes.plugins import get_registry
from lmnh_pipes.schema import DRAFT, REFERENCE_PATTERN, SECTIONS, pipeline_schema
from lmnh_pipes.testing import ListSink

GOOD = """\
name: demo
x-common: &common
  path: out/x.csv
source:
  type: file
  path: in.txt
  format: jsonl
validators:
  - type: json
  - type: range
    field: val
    min: -1
    max: 4
  - type: cast
    fields: {val: int}
    empty: "null"
sink:
  type: csv
  <<: *common
  columns: [meta.offset, val]
rejects: {type: csv, path: out/rejects.csv}
batch:
  max_records: 100
  max_wait: 0.5
retry: {max_elapsed: 10}
"""

ENV = {"N": "7", "LOW": "-1", "FORMAT": "csv", "EMPTY": ""}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = pipeline_schema(get_registry())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(validator: jsonschema.Draft202012Validator, text: str) -> list[str]:
    """Every error's message, and those of the alternatives an ``anyOf`` tried."""

    def messages(errors: Any) -> list[str]:
        return [m for e in errors for m in [e.message, *messages(e.context)]]

    return messages(validator.iter_errors(yaml.safe_load(text)))


def config_errors(text: str, write: Any) -> list[str]:
    try:
        load(write(text), environ=ENV)
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_the_schema_is_draft_2020_12_with_every_component(validator):
    schema = validator.schema
    assert schema["$schema"] == DRAFT == "https://json-schema.org/draft/2020-12/schema"
    defs = schema["$defs"]
    for ctype in get_registry():
        assert f"{ctype.kind}.{ctype.name}" in defs
        assert ctype.name in defs[ctype.kind]["properties"]["type"]["anyOf"][0]["enum"]
    kiosk = defs["validator.kiosk"]
    assert kiosk["required"] == ["type", "catalogue"]
    assert kiosk["additionalProperties"] is False
    assert kiosk["properties"]["open"]["default"] == "08:45"
    assert kiosk["properties"]["open"]["description"].startswith("opening time")
    assert "clock" not in kiosk["properties"]  # Python only
    assert kiosk["description"].startswith("lmnh-pipes: The museum kiosk rules")


def test_every_top_level_key_of_config_is_in_the_schema(validator):
    properties = validator.schema["properties"]
    assert set(properties) == set(TOP_KEYS)
    unknown = [k for k in TOP_KEYS if properties[k] == {}]
    assert unknown == [], f"give these a schema in lmnh_pipes.schema (SECTIONS, or pipeline_schema): {unknown}"
    assert set(SECTIONS) <= set(TOP_KEYS)


def test_a_good_file_is_valid_for_both(validator, write):
    assert schema_errors(validator, GOOD) == []
    assert config_errors(GOOD, write) == []


@pytest.mark.parametrize(
    ("change", "schema_says", "config_says"),
    [
        (("format: jsonl", "format: jsonl\n  colour: red"), "'colour' was unexpected", "unknown option 'colour'"),
        (("max_records: 100", "max_records: many"), "'many' is not valid", "expected an integer, found 'many'"),
        (("max: 4", "max: [4]"), "[4] is not of type", "expected a number"),
        (("type: range", "type: rnage"), "'rnage' is not valid", "unknown validator type 'rnage'"),
        (("format: jsonl", "format: jsnol"), "'jsnol' is not valid", "found 'jsnol' (did you mean 'jsonl'?)"),
        (('empty: "null"', "empty: nul"), "'nul' is not valid", "found 'nul'"),
        (("    field: val\n", ""), "'field' is a required property", "missing required option 'field'"),
        (("batch:", "bacth:"), "'bacth' does not match any of the regexes", "unknown key 'bacth'"),
        (("columns: [meta.offset, val]", "columns: meta.offset"), "is not valid", "expected a list"),
        (("fields: {val: int}", "fields: ${FORMAT}"), "is not of type 'object'", "expected a mapping"),
    ],
    ids=[
        "unknown-option",
        "wrong-type",
        "list-for-a-number",
        "unknown-type",
        "misspelt-choice",
        "misspelt-literal",
        "missing-option",
        "unknown-top-key",
        "string-for-a-list",
        "variable-for-a-mapping",
    ],
)
def test_a_bad_file_fails_both(validator, write, change, schema_says, config_says):
    text = GOOD.replace(*change)
    assert text != GOOD
    found = schema_errors(validator, text)
    assert found, "the schema accepted it"
    assert any(schema_says in m for m in found), found
    assert any(config_says in m for m in config_errors(text, write))


@pytest.mark.parametrize(
    "change",
    [
        ("max_records: 100", "max_records: ${N}"),
        ("max_records: 100", "max_records: ${N:-5000}"),
        ("min: -1", "min: ${LOW}"),
        ("columns: [meta.offset, val]", "columns: ${EMPTY}"),  # an optional list: an empty variable is none
        ("format: jsonl", "format: ${FORMAT}"),
        ("format: jsonl", "format: ${FORMAT:-jsonl}"),
        ("max_wait: 0.5", "max_wait: ${EMPTY:-0.5}"),
        ("path: in.txt", "path: ${FORMAT}/in.txt"),
        ("path: in.txt", "path: 2024"),  # a number written for a string option is its text
        ("name: demo", "name: ${FORMAT}-demo"),
        ("x-common: &common", "x-other: 1\nx-common: &common"),
    ],
)
def test_variables_and_x_keys_are_valid_for_both(validator, write, change):
    text = GOOD.replace(*change)
    assert text != GOOD
    assert schema_errors(validator, text) == []
    assert config_errors(text, write) == []


@pytest.mark.parametrize(
    "text",
    ["${A}", "x${A_1}y", "${A:-5}", "${A:?set A}", "${A:-}", "$A", "${1A}", "${}", "plain", "$${A}x", "${A-b}"],
)
def test_the_reference_pattern_matches_what_interpolation_replaces(text):
    env = {"A": "zz", "A_1": "zz"}
    try:
        replaced = interpolate(text, env) != text.replace("$${", "${")
    except InterpolationError:
        replaced = False
    matched = re.search(REFERENCE_PATTERN, text.replace("$${", "")) is not None
    assert matched == replaced


@attrs.frozen(kw_only=True)
class Shout:
    """Upper-case a field."""

    field: str = attrs.field(metadata=option_doc("the field to shout"))
    volume: Literal["loud", "louder"] = "loud"

    def validate(self, record: Any) -> Any:
        return record


class ShoutPlugin:
    @hookimpl
    def lmnh_pipes_register(self, registry: Registry) -> None:
        registry.add_validator("shout", Shout)
        registry.add_sink("memory", ListSink)


def test_a_plugins_types_join_the_schema_as_soon_as_it_registers():
    plain = pipeline_schema(get_registry())
    assert "validator.shout" not in plain["$defs"]
    schema = pipeline_schema(get_registry(extra=[ShoutPlugin()]))
    shout = schema["$defs"]["validator.shout"]
    assert shout["properties"]["field"]["description"] == "the field to shout"
    assert shout["required"] == ["type", "field"]
    check = jsonschema.Draft202012Validator(schema)
    pipeline = {"source": {"type": "file", "path": "x"}, "sink": {"type": "memory"}}
    assert check.is_valid({**pipeline, "validators": [{"type": "shout", "field": "a", "volume": "louder"}]})
    assert not check.is_valid({**pipeline, "validators": [{"type": "shout", "field": "a", "volume": "quiet"}]})
    assert not check.is_valid({**pipeline, "validators": [{"type": "shout"}]})
