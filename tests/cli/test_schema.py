"""``lmnh-pipes schema`` and ``lmnh-pipes plugins [TYPE]``, in process and with the example plug-in installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from lmnh_pipes.cli import main
from lmnh_pipes.plugins import ALLOW_VARIABLE, get_registry
from tests.fixtures.plugin_example import EXAMPLE_PLUGIN, SHIPPED_PLUGINS

ROOT = Path(__file__).resolve().parents[2]
LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")


def test_schema_prints_a_draft_2020_12_schema_of_every_installed_type():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert {f"{t.kind}.{t.name}" for t in get_registry()} <= set(schema["$defs"])
    assert schema["properties"]["sink"] == {"description": "where accepted records go", "$ref": "#/$defs/sink"}


def test_plugins_type_describes_kind_plugin_summary_and_options():
    result = CliRunner().invoke(main, ["plugins", "kiosk"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("validator kiosk, from plug-in 'kiosk' (lmnh-pipes ")
    assert "The museum kiosk rules: keys, types, values, exhibition, RFC 3339 time" in result.output
    text = " ".join(result.output.split())
    assert 'open a string; default "08:45" opening time, HH:MM[:SS[.ffffff]], inclusive' in text
    assert "catalogue a string; required a folder or s3://bucket/prefix/" in text
    assert "max_future_seconds a number; default 60.0 how far ahead" in text
    assert "clock Callable; Python only for tests" in text


def test_plugins_type_shows_choices_and_both_kinds_of_a_shared_name():
    result = CliRunner().invoke(main, ["plugins", "kafka"])
    assert result.exit_code == 0, result.output
    assert result.output.count(", from plug-in 'kafka'") == 2
    assert result.output.index("source kafka") < result.output.index("sink kafka")
    text = " ".join(result.output.split())
    assert 'auto_offset_reset a string: one of earliest, latest, error; default "earliest"' in text
    assert "security_protocol a string: one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL (any case)" in text


def test_plugins_type_json():
    result = CliRunner().invoke(main, ["plugins", "cast", "--json"])
    assert result.exit_code == 0, result.output
    [cast] = json.loads(result.output)
    assert (cast["kind"], cast["plugin"], cast["distribution"]) == ("validator", "rules", "lmnh-pipes")
    options = {o["name"]: o for o in cast["options"]}
    assert options["fields"]["required"] is True
    assert options["fields"]["choices"] == ["int", "float", "str", "bool", "datetime", "json"]
    assert options["empty"] | {"schema": None} == {
        "name": "empty",
        "type": "one of 'drop', 'null', 'keep'",
        "schema": None,
        "required": False,
        "default": "drop",
        "choices": ["drop", "null", "keep"],
        "description": "what an empty string becomes: no key, null, or itself (not cast)",
        "python_only": False,
    }


def test_an_unknown_type_exits_2_with_a_did_you_mean():
    result = CliRunner().invoke(main, ["plugins", "kisok"])
    assert result.exit_code == 2
    assert result.output == "error: unknown component type 'kisok' (did you mean 'kiosk'?)\n"
    far = CliRunner().invoke(main, ["plugins", "zzz"])
    assert far.exit_code == 2
    assert "known types: cast, csv, debounce" in far.output


def test_the_list_shows_each_summary_whole():
    result = CliRunner().invoke(main, ["plugins"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for ctype in get_registry():
        assert ctype.summary in text, ctype.name
    assert "less than ``window`` seconds earlier (a stuck button)." in text
    assert "lies in ``start`` .. ``end``, both inclusive." in text
    assert max(len(line) for line in result.output.splitlines()) <= 100


def run(args: list[str], site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), ALLOW_VARIABLE: f"{SHIPPED_PLUGINS},{EXAMPLE_PLUGIN}"}
    return subprocess.run([LMNH_PIPES, *args], capture_output=True, text=True, env=env, timeout=120)


def test_an_installed_plugins_validator_is_in_the_schema_and_described(plugin_example_site):
    printed = run(["schema"], plugin_example_site)
    assert printed.returncode == 0, printed.stderr
    schema = json.loads(printed.stdout)
    assert "no_test_sites" in schema["$defs"]["validator"]["properties"]["type"]["anyOf"][0]["enum"]
    mine = schema["$defs"]["validator.no_test_sites"]
    assert mine["required"] == ["type", "test_sites"]
    assert mine["properties"]["test_sites"]["description"] == "the sites whose records are rejected"
    assert mine["properties"]["field"]["default"] == "site"
    assert mine["description"].startswith("lmnh-pipes-example: Reject records from kiosks")
    check = jsonschema.Draft202012Validator(schema)
    pipeline = {"source": {"type": "file", "path": "x"}, "sink": {"type": "csv", "path": "y"}}
    assert check.is_valid({**pipeline, "validators": [{"type": "no_test_sites", "test_sites": ["99"]}]})
    assert not check.is_valid({**pipeline, "validators": [{"type": "no_test_sites", "test_site": ["99"]}]})
    shipped = ROOT / "examples/plugin-example/pipeline.schema.json"
    assert shipped.read_text(encoding="utf-8") == printed.stdout, (
        f"{shipped.relative_to(ROOT)} is stale: regenerate it with the example installed"
    )

    described = run(["plugins", "no_test_sites"], plugin_example_site)
    assert described.returncode == 0, described.stderr
    text = " ".join(described.stdout.split())
    assert text.startswith("validator no_test_sites, from plug-in 'example' (lmnh-pipes-example 0.1.0)")
    assert "test_sites a list of strings; required the sites whose records are rejected" in text
    assert 'field a string; default "site" the field that holds the site' in text
