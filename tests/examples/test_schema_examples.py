"""The example pipeline files name the schema they follow on their first line, and follow it; the shipped schema
is what ``lmnh-pipes schema`` prints with the shipped plug-ins."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

import lmnh_pipes
from lmnh_pipes import ConfigError
from lmnh_pipes.plugins import ALLOW_VARIABLE, get_registry
from lmnh_pipes.schema import pipeline_schema, render

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_SCHEMA = ROOT / "schema/pipeline.schema.json"
EXAMPLES = sorted(
    p
    for p in [
        *ROOT.glob("examples/*.yaml"),
        *ROOT.glob("examples/lmnh/*.yaml"),
        ROOT / "examples/plugin-example/pipeline.yaml",
    ]
    if not p.name.endswith(".test.yaml")
)
SCHEMA_LINE = re.compile(r"# yaml-language-server: \$schema=(\S+)\n")


def test_there_are_examples():
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_an_example_names_its_schema_first_and_follows_it(path):
    text = path.read_text(encoding="utf-8")
    first = SCHEMA_LINE.match(text)
    assert first, f"{path.name} must start with '# yaml-language-server: $schema=...'"
    schema_file = (path.parent / first.group(1)).resolve()
    assert schema_file.is_file(), schema_file
    assert schema_file in (SHIPPED_SCHEMA, ROOT / "examples/plugin-example/pipeline.schema.json")
    validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(yaml.safe_load(text))
    ]
    assert errors == []


def shipped_plugins() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return ",".join(pyproject["project"]["entry-points"]["lmnh_pipes"])


def test_the_shipped_schema_is_what_the_command_prints(monkeypatch):
    monkeypatch.setenv(ALLOW_VARIABLE, shipped_plugins())
    expected = render(pipeline_schema(get_registry()))
    assert SHIPPED_SCHEMA.read_text(encoding="utf-8") == expected, (
        "schema/pipeline.schema.json is stale: regenerate it with "
        f"{ALLOW_VARIABLE}={shipped_plugins()} lmnh-pipes schema > schema/pipeline.schema.json"
    )


def test_an_error_in_an_example_is_reported_at_its_own_line(tmp_path):
    # The schema comment is line 1: every later line keeps its number in messages.
    text = (ROOT / "examples/files-to-csv.yaml").read_text(encoding="utf-8").replace("    max: 4", "    maxx: 4")
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        lmnh_pipes.load(path, environ={})
    [problem] = exc.value.problems
    assert problem.path == "validators[3].maxx"
    assert problem.line == text.splitlines().index("    maxx: 4") + 1
