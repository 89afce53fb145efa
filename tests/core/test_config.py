"""Config errors name the file, the line and the key path; and good files build the right components."""

from __future__ import annotations

import re

import pytest

from lmnh_pipes import ConfigError, RejectLimit, load
from lmnh_pipes.config import load_stages
from lmnh_pipes.testing import ListSink, ListSource
from lmnh_pipes_rules import JsonValidator

GOOD = """\
name: demo
source:
  type: list
  items: ['{"a": 1}']
validators:
  - type: json
sink:
  type: memory
batch:
  max_records: 10
  max_wait: 0.5
"""


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_good_file_builds_components(registry, write):
    pipeline = load(write(GOOD), registry=registry, environ={})
    assert pipeline.name == "demo"
    assert isinstance(pipeline.source, ListSource)
    assert list(pipeline.source.items) == ['{"a": 1}']
    assert isinstance(pipeline.validators[0], JsonValidator)
    assert isinstance(pipeline.sink, ListSink)
    assert pipeline.rejects is None
    assert (pipeline.batch.max_records, pipeline.batch.max_wait) == (10, 0.5)


def test_name_defaults_to_file_stem(registry, write):
    pipeline = load(write(GOOD.replace("name: demo\n", ""), "kiosk-to-pg.yaml"), registry=registry, environ={})
    assert pipeline.name == "kiosk-to-pg"


def test_misspelt_type_names_line_path_and_suggestion(registry, write):
    path = write(GOOD.replace("- type: json", "- type: jsno"))
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:6: validators[0].type: unknown validator type 'jsno' (did you mean 'json'?)"]


def test_missing_required_option(registry, write):
    path = write(GOOD.replace("  items: ['{\"a\": 1}']\n", ""))
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:2: source: missing required option 'items'"]


def test_unknown_option_with_suggestion(registry, write):
    path = write(GOOD.replace("  type: memory\n", "  type: memory\n  fail_onn: 3\n"))
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:9: sink.fail_onn: unknown option 'fail_onn' (did you mean 'fail_on'?)"]


def test_unknown_top_level_key(registry, write):
    path = write(GOOD + "validator: []\n")
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:12: validator: unknown key 'validator' (did you mean 'validators'?)"]


def test_unset_variable_names_line_and_key(registry, write):
    path = write(GOOD.replace("max_records: 10", "max_records: ${BATCH_SIZE}"))
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [
        f"{path}:10: batch.max_records: environment variable BATCH_SIZE is not set "
        "(use ${BATCH_SIZE:-default} for a default)"
    ]


def test_required_variable_message(registry, write):
    path = write(GOOD.replace("name: demo", "name: ${PIPE:?set PIPE to the pipeline's name}"))
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:1: name: ${{PIPE}}: set PIPE to the pipeline's name"]


def test_interpolated_plain_scalar_is_typed(registry, write):
    path = write(GOOD.replace("max_records: 10", "max_records: ${BATCH_SIZE:-250}"))
    pipeline = load(path, registry=registry, environ={})
    assert pipeline.batch.max_records == 250
    pipeline = load(path, registry=registry, environ={"BATCH_SIZE": "7"})
    assert pipeline.batch.max_records == 7


def test_wrong_option_type(registry, write):
    path = write(GOOD.replace("max_records: 10", "max_records: lots"))
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:10: batch.max_records: expected an integer, found 'lots'"]


def test_invalid_value_from_constructor(registry, write):
    path = write(GOOD.replace("max_wait: 0.5", "max_wait: -1"))
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:11: batch.max_wait: max_wait must be a positive number, found -1.0"]


def test_every_problem_is_reported_at_once(registry, write):
    text = GOOD.replace("- type: json", "- type: jsno").replace("type: memory", "type: memroy")
    with pytest.raises(ConfigError) as exc:
        load(write(text + "extra: 1\n"), registry=registry, environ={})
    assert len(exc.value.problems) == 3


def test_missing_source_and_sink(registry, write):
    path = write("validators: []\n")
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert [p.message for p in exc.value.problems] == ["missing required key 'source'", "missing required key 'sink'"]


def test_duplicate_yaml_key(registry, write):
    path = write(GOOD + "name: again\n")
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:12: name: duplicate key 'name' (first given on line 1)"]


def test_invalid_yaml(registry, write):
    path = write("source: [unclosed\n")
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert str(exc.value).startswith(f"{path}:2: not valid YAML")


def test_missing_file(registry, tmp_path):
    with pytest.raises(ConfigError, match="cannot read the pipeline file"):
        load(tmp_path / "nope.yaml", registry=registry, environ={})


def test_times_stay_strings(registry, write):
    # YAML 1.1 reads 08:45 as the base-60 integer 525; a pipeline file must not.
    pipeline = load(write(GOOD.replace("name: demo", "name: 08:45")), registry=registry, environ={})
    assert pipeline.name == "08:45"


def test_env_file_beside_pipeline_and_environment_wins(registry, write, tmp_path):
    (tmp_path / ".env").write_text("BATCH_SIZE=33\nPIPE_NAME='from env file'\n")
    path = write(GOOD.replace("max_records: 10", "max_records: ${BATCH_SIZE}").replace("demo", "${PIPE_NAME}"))
    pipeline = load(path, registry=registry, environ={"BATCH_SIZE": "44"})
    assert pipeline.batch.max_records == 44
    assert pipeline.name == "from env file"


def test_explicit_env_file(registry, write, tmp_path):
    env = tmp_path / "prod.env"
    env.write_text("export PIPE_NAME=prod # a comment\n")
    pipeline = load(write(GOOD.replace("demo", "${PIPE_NAME}")), registry=registry, env_file=env, environ={})
    assert pipeline.name == "prod"
    with pytest.raises(ConfigError, match="cannot read the env file"):
        load(write(GOOD), registry=registry, env_file=tmp_path / "missing.env", environ={})


def test_a_string_for_a_list_option_is_an_error(registry, write):
    path = write(GOOD.replace("items: ['{\"a\": 1}']", "items: one"))
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:4: source.items: expected a list, found 'one'"]


def test_retry_options(registry, write):
    pipeline = load(write(GOOD + "retry:\n  initial: 0.5\n  max_elapsed: 60\n"), registry=registry, environ={})
    assert (pipeline.retry.initial, pipeline.retry.max_backoff, pipeline.retry.max_elapsed) == (0.5, 10.0, 60.0)
    path = write(GOOD + "retry:\n  max_elapsed: 0\n")
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:13: retry.max_elapsed: max_elapsed must be a positive number, found 0.0"]


def test_variables_stay_text_unless_an_option_asks_for_a_number(registry, write):
    text = GOOD.replace("name: demo", "name: ${PIPE}").replace("max_records: 10", "max_records: ${N}")
    text = text.replace("items: ['{\"a\": 1}']", 'items: ["${ITEM}"]')
    pipeline = load(write(text), registry=registry, environ={"PIPE": "0123", "N": "0x10", "ITEM": "null"})
    assert pipeline.name == "0123"
    assert pipeline.batch.max_records == 16
    assert list(pipeline.source.items) == ["null"]
    assert type(pipeline.name) is str


def test_merge_keys_can_be_overridden(registry, write):
    text = "x-sink: &s\n  type: memory\n  fail_on: 9\n" + GOOD.replace(
        "sink:\n  type: memory\n", "sink:\n  <<: *s\n  fail_on: 3\n"
    )
    pipeline = load(write(text), registry=registry, environ={})
    assert pipeline.sink.fail_on == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"source: \xff\xfe\n", "the pipeline file is not UTF-8 text"),
        (b"source: &a [*a]\nsink: {type: memory}\n", "nested too deeply (a recursive alias?)"),
        (b'source: !!timestamp "2020-13-45"\n', ":1: source: invalid value: month must be in 1..12"),
        (b"batch: {max_wait: .nan}\n", "max_wait must be a positive number, found nan"),
    ],
)
def test_hostile_files_are_config_errors(registry, tmp_path, content, message):
    path = tmp_path / "p.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert message in str(exc.value)


def test_plugin_allow_list_naming_nothing_installed_is_an_error(monkeypatch):
    from lmnh_pipes import PluginError, get_registry

    monkeypatch.setenv("LMNH_PIPES_PLUGINS", "rules,nope")
    with pytest.raises(PluginError, match="LMNH_PIPES_PLUGINS names nope, which no installed plug-in is called"):
        get_registry()


def test_a_malformed_line_of_the_env_file_is_an_error_naming_it(registry, write, tmp_path):
    (tmp_path / ".env").write_text("PIPE_NAME=demo\nBATCH_SIZE 33\n")
    with pytest.raises(ConfigError) as exc:
        load(write(GOOD.replace("demo", "${PIPE_NAME}")), registry=registry, environ={})
    assert problems(exc) == [
        f"{tmp_path / '.env'}:2: expected KEY=value, found a line without '=' "
        "(a line is KEY=value, a # comment or blank)"
    ]


def test_an_unknown_type_with_no_close_name_says_a_plugin_may_be_missing(registry, write, monkeypatch):
    monkeypatch.delenv("LMNH_PIPES_PLUGINS", raising=False)
    path = write(GOOD.replace("type: memory", "type: clickhouse"))
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    (problem,) = exc.value.problems
    assert problem.message == "unknown sink type 'clickhouse'"
    assert problem.hint.startswith("no sink type is close to it, so the plug-in that provides it may be missing; ")
    assert re.search(r"; the sink types are: .*\bmemory\b", problem.hint)
    assert "LMNH_PIPES_PLUGINS" not in problem.hint


def test_an_unknown_type_names_the_plugin_filter_when_it_is_set(registry, write, monkeypatch):
    monkeypatch.setenv("LMNH_PIPES_PLUGINS", "files,rules")
    for wrong, said in [("clickhouse", "may be missing"), ("memroy", "did you mean 'memory'?")]:
        with pytest.raises(ConfigError) as exc:
            load(write(GOOD.replace("type: memory", f"type: {wrong}")), registry=registry, environ={})
        hint = exc.value.problems[0].hint
        assert said in hint
        assert hint.endswith("LMNH_PIPES_PLUGINS=files,rules loads only those plug-ins")


def test_a_type_of_another_kind_says_which_kind_it_is(registry, write):
    with pytest.raises(ConfigError) as exc:
        load(write(GOOD.replace("- type: json", "- type: memory")), registry=registry, environ={})
    assert exc.value.problems[0].hint.startswith("'memory' is a sink type; the validator types are: ")


def test_did_you_mean_ignores_case(registry, write):
    with pytest.raises(ConfigError) as exc:
        load(write(GOOD.replace("- type: json", "- type: JSON")), registry=registry, environ={})
    assert exc.value.problems[0].hint == "did you mean 'json'?"


def test_load_stages_needs_no_variable_of_the_sinks(registry, write):
    text = (
        "x-secret: &pw ${DB_PASSWORD:?set DB_PASSWORD}\n"
        + GOOD.replace("type: memory", "type: memory\n  unknown_option: ${OUT:?set OUT}")
        + "rejects: {type: memory, password: *pw}\n"
    )
    path = write(text)
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert {p.path for p in exc.value.problems} == {"x-secret", "sink.unknown_option"}
    stages = load_stages(path, registry=registry, environ={})
    assert stages.name == "demo"
    assert isinstance(stages.source, ListSource)
    assert [type(v) for v in stages.validators] == [JsonValidator]
    # The parts it builds are still checked, variables and all.
    with pytest.raises(ConfigError, match="environment variable ITEMS is not set"):
        load_stages(write(text.replace("items: ['{\"a\": 1}']", "items: ${ITEMS}")), registry=registry, environ={})


def test_reject_limit_options(registry, write):
    pipeline = load(write(GOOD + "reject_limit: {window: 200, max_share: 0.25}\n"), registry=registry, environ={})
    assert pipeline.reject_limit == RejectLimit(window=200, max_share=0.25)
    assert load(write(GOOD + "reject_limit: {}\n"), registry=registry, environ={}).reject_limit == RejectLimit()
    assert load(write(GOOD), registry=registry, environ={}).reject_limit is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("max_share: 1.5", "13: reject_limit.max_share: max_share must be a share between 0 and 1, found 1.5"),
        ("max_share: -1", "13: reject_limit.max_share: max_share must be a share between 0 and 1, found -1.0"),
        ("window: 0", "13: reject_limit.window: window must be a whole number of records, at least 1, found 0"),
        ("window: 1.5", "13: reject_limit.window: expected an integer, found 1.5"),
        ("windw: 100", "13: reject_limit.windw: unknown option 'windw' (did you mean 'window'?)"),
    ],
)
def test_reject_limit_errors_name_the_line_and_the_key_path(registry, write, options, message):
    path = write(GOOD + f"reject_limit:\n  {options}\n")
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:{message}"]


def test_a_misspelt_reject_limit_key_is_named(registry, write):
    path = write(GOOD + "reject_limits: {window: 10}\n")
    with pytest.raises(ConfigError) as exc:
        load(path, registry=registry, environ={})
    assert problems(exc) == [f"{path}:12: reject_limits: unknown key 'reject_limits' (did you mean 'reject_limit'?)"]
