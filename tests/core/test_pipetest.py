"""Test files and their runner: reading cases, matching values, running the validators and the sink's routing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmnh_pipes import MISSING, ConfigError
from lmnh_pipes.pipetest import prepare, run_case, run_paths, same
from lmnh_pipes.plugins import get_registry
from lmnh_pipes.registry import Registry
from lmnh_pipes.testfiles import find_test_files, read_suite

# A pipeline whose source and sink are never opened: neither the input file nor the output folder exists.
PIPELINE = """\
source: {type: file, path: nowhere/in.txt}
validators:
  - {type: json}
  - {type: range, field: val, min: 0, max: 4}
  - {type: set, values: {kind: "${KIND:-rating}"}}
sink: {type: csv, path: "nowhere/{}.csv", split_by: kind}
"""


@pytest.fixture(scope="module")
def registry() -> Registry:
    return get_registry()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


# -- reading a test file --


def test_inputs_are_text_bytes_or_a_value_with_coordinates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.test.yaml",
        """\
pipeline: p.yaml
cases:
  - name: all the forms
    input:
      - 'price ${HOME}'
      - {base64: /w==}
      - {value: '{"a": 1}', key: k-1, meta: {topic: t, partition: 2, offset: 41, timestamp: "2024-10-21T09:00:00Z"}}
      - {value: {a: 1}, key: {base64: AAE=}}
    rejected: 4
""",
    )
    suite = read_suite(path)
    assert suite.pipeline == tmp_path / "p.yaml"
    (case,) = suite.cases
    text, raw, coordinates, decoded = case.inputs
    assert text.raw == b"price ${HOME}"  # a test file is data: no variables
    assert (raw.raw, raw.meta.offset) == (b"\xff", 1)
    assert coordinates.raw == b'{"a": 1}'
    assert (coordinates.meta.topic, coordinates.meta.partition, coordinates.meta.offset) == ("t", 2, 41)
    assert (coordinates.meta.key, coordinates.meta.timestamp) == ("k-1", datetime(2024, 10, 21, 9, tzinfo=UTC))
    assert (decoded.value, decoded.raw, decoded.meta.key, decoded.meta.offset) == ({"a": 1}, b'{"a": 1}', b"\0\1", 3)
    assert case.input_lines == (5, 6, 7, 8)
    assert case.accepted is None
    assert case.rejected is not None
    assert (case.rejected.count, case.rejected.records) == (4, None)


def test_every_problem_of_a_test_file_has_its_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.test.yaml",
        """\
pipeline: p.yaml
cases:
  - name: one
    input: "not a list"
    acepted: 1
  - name: one
    input:
      - {base64: "!!"}
      - {value: 3, meta: {offset: x}}
      - {value: a, base64: AA==}
    accepted:
      - {"": 2}
      - destination: 3
    rejected:
      - {reason: 4}
  - name: nothing expected
    input: [a]
""",
    )
    with pytest.raises(ConfigError) as exc:
        read_suite(path)
    assert problems(exc) == [
        f"{path}:5: cases[0].acepted: unknown key 'acepted' (did you mean 'accepted'?)",
        f"{path}:4: cases[0].input: expected 'input': a list of at least one record, found 'not a list'",
        f"{path}:3: cases[0]: a case needs 'accepted' or 'rejected' (or both): what must come out",
        f"{path}:6: cases[1].name: two cases are named 'one' (the other is on line 3)",
        f"{path}:8: cases[1].input[0].base64: not valid base64: Only base64 data is allowed",
        f"{path}:9: cases[1].input[1].meta.offset: expected an integer, found 'x'",
        f"{path}:9: cases[1].input[1].value: expected text (the raw bytes) or a mapping (a decoded value), found 3",
        f"{path}:10: cases[1].input[2]: give exactly one of 'value' (text or a mapping) and 'base64' (bytes)",
        f"{path}:12: cases[1].accepted[0]['']: expected a field name or a dotted path, found ''",
        f"{path}:13: cases[1].accepted[1].destination: expected the table or file's name, found 3",
        f"{path}:15: cases[1].rejected[0].reason: expected text that the reason contains, found 4",
        f"{path}:16: cases[2]: a case needs 'accepted' or 'rejected' (or both): what must come out",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "{f}: expected a mapping with 'pipeline' and 'cases', found nothing"),
        ("cases: [\n", "{f}:2: not valid YAML: expected the node content, but found '<stream end>'"),
        ("pipeline: p.yaml\n", "{f}:1: expected 'cases': a list of at least one case"),
        ("pipeline: p.yaml\ncases: []\n", "{f}:2: cases: expected 'cases': a list of at least one case, found a list"),
        ("cases: [{name: a, input: [x], accepted: 0}]\n", "{f}:1: expected 'pipeline': the pipeline file, relative"),
        ("pipeline: p.yaml\npipeline: q.yaml\n", "{f}:2: pipeline: duplicate key 'pipeline' (first given on line 1)"),
        (
            "pipeline: p.yaml\ncases: [{name: no, input: [x], rejected: 1}]\n",
            "{f}:2: cases[0].name: expected the case's name as text, found False (yes, no, on and off are booleans",
        ),
        ("pipeline: p.yaml\nenv: {A: [1]}\ncases: [{name: a, input: [x], rejected: 1}]\n", "{f}:2: env.A: expected"),
    ],
)
def test_a_malformed_test_file_names_its_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "bad.test.yaml", text)
    with pytest.raises(ConfigError) as exc:
        read_suite(path)
    assert problems(exc)[0].startswith(expected.format(f=path)), problems(exc)


def test_x_blocks_hold_anchors_and_env_values_become_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.test.yaml",
        """\
pipeline: p.yaml
env: {PORT: 5432, NAME: museum}
x-rating: &rating '{"val": 2}'
cases:
  - {name: a, input: [*rating], accepted: 1}
""",
    )
    suite = read_suite(path)
    assert suite.env == {"PORT": "5432", "NAME": "museum"}
    assert suite.cases[0].inputs[0].raw == b'{"val": 2}'


def test_test_files_are_found_under_folders_but_not_hidden_or_environment_ones(tmp_path: Path) -> None:
    for name in (
        "b.test.yaml",
        "a/c.test.yaml",
        "a/d.yaml",
        ".venv/e.test.yaml",
        "venv/f.test.yaml",
        "a/.g/h.test.yaml",
    ):
        write(tmp_path, name, "")
    explicit = write(tmp_path, "other.yaml", "")
    found = find_test_files([tmp_path, explicit, tmp_path / "a"])
    assert found == [tmp_path / "b.test.yaml", tmp_path / "a/c.test.yaml", explicit]


# -- matching values --


@pytest.mark.parametrize(
    ("expected", "got", "matches"),
    [
        (3, 3, True),
        (3, 3.0, False),  # the museum's rule: 3.0 is not an integer
        (1, True, False),
        (None, None, True),
        (None, MISSING, False),  # null is not a missing field
        ("3", "3", True),
        ("3", 3, False),
        ("2024-10-21T08:45:00+01:00", datetime(2024, 10, 21, 8, 45, tzinfo=timezone(timedelta(hours=1))), True),
        ("2024-10-21T08:45:00.000000+01:00", datetime(2024, 10, 21, 8, 45, tzinfo=timezone(timedelta(hours=1))), True),
        ("2024-10-21T07:45:00Z", datetime(2024, 10, 21, 8, 45, tzinfo=timezone(timedelta(hours=1))), False),  # offset
        ("2024-10-21T08:45:00+01:00", datetime(2024, 10, 21, 8, 45), False),  # naive
        ("2024-10-21T08:45:00+01:00", "2024-10-21T08:45:00.000+01:00", False),  # both text: the text
        ("not a time", datetime(2024, 10, 21, tzinfo=UTC), False),
        ("abc", b"abc", True),
        ({"a": [1, {"b": "c"}]}, {"a": [1, {"b": "c"}]}, True),
        ({"a": [1, {"b": "c"}]}, {"a": [1.0, {"b": "c"}]}, False),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ([1, 2], (1, 2), True),
    ],
)
def test_a_value_matches_when_equal_and_of_the_same_kind(expected: object, got: object, matches: bool) -> None:
    assert same(expected, got) is matches


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_a_json_value_matches_itself(value: object) -> None:
    assert same(value, value)


@given(st.integers())
def test_an_integer_never_matches_its_float(n: int) -> None:
    assert not same(n, float(n))


# -- running cases --


def suite_with(tmp_path: Path, cases: str, pipeline: str = PIPELINE, env: str = "") -> Path:
    write(tmp_path, "p.yaml", pipeline)
    return write(tmp_path, "p.test.yaml", f"pipeline: p.yaml\n{env}cases:\n{cases}")


def test_a_passing_case_compares_fields_in_order_and_destinations(tmp_path: Path, registry: Registry) -> None:
    path = suite_with(
        tmp_path,
        """\
  - name: ok
    input: ['{"val": 4}', 'nope', '{"val": 0, "n": 1.5}', '{"val": 9}']
    accepted:
      - {destination: nowhere/rating.csv, val: 4, kind: rating, meta.offset: 0}
      - {destination: nowhere/rating.csv, val: 0, n: 1.5, value.kind: rating, meta.offset: 2}
    rejected:
      - {validator: json, rule: json, raw: nope}
      - {validator: range, reason: above the maximum 4, meta.offset: 3}
""",
    )
    prepared = prepare(path, registry, environ={})
    result = run_case(prepared, prepared.suite.cases[0])
    assert result.passed, result.lines()
    assert result.lines() == [f"PASS {path}::ok"]
    assert [o.destination for o in result.outcomes] == ["nowhere/rating.csv", None, "nowhere/rating.csv", None]
    assert not (tmp_path / "nowhere").exists()  # the sink was never opened


def test_a_failing_case_says_what_differed_and_what_came_out(tmp_path: Path, registry: Registry) -> None:
    path = suite_with(
        tmp_path,
        """\
  - name: wrong
    input: ['{"val": 4}', '{"val": 9}']
    accepted:
      - {destination: nowhere/request.csv, val: 4.0, kind: rating, missing: null}
    rejected:
      - {validator: range, rule: json, reason: below}
  - name: wrong count
    input: ['{"val": 4}']
    accepted: 2
    rejected: []
""",
        env="env: {KIND: rating}\n",
    )
    prepared = prepare(path, registry, environ={})
    first, second = (run_case(prepared, case) for case in prepared.suite.cases)
    assert not first.passed
    assert first.lines() == [
        f"FAIL {path}::wrong",
        '    line 7: accepted[0].destination: expected to go to "nowhere/request.csv", goes to "nowhere/rating.csv"',
        "    line 7: accepted[0].val: expected 4.0 (a float), got 4 (an integer)",
        "    line 7: accepted[0].missing: expected null, got nothing (no such field)",
        '    line 9: rejected[0].rule: expected "json", got "range"',
        '    line 9: rejected[0].reason: expected text containing "below", got "val is 9, above the maximum 4"',
        "    what came out:",
        '      input 0 (line 5): accepted, goes to nowhere/rating.csv: {"val": 4, "kind": "rating"}',
        "      input 1 (line 5): rejected by range (range): val is 9, above the maximum 4",
    ]
    assert [str(d) for d in second.differences] == ["line 12: accepted: expected 2 accepted records, got 1"]
    as_json = second.to_dict()
    assert as_json["passed"] is False
    assert as_json["outcomes"] == [
        {
            "input": 0,
            "line": 11,
            "accepted": True,
            "destination": "nowhere/rating.csv",
            "value": {"val": 4, "kind": "rating"},
        }
    ]


def test_each_case_opens_the_validators_afresh(tmp_path: Path, registry: Registry) -> None:
    pipeline = PIPELINE.replace("validators:\n", "validators:\n  - {type: debounce, fields: [val], window: 60}\n")
    pipeline = pipeline.replace("  - {type: json}\n", "")
    same_press = "    input: [{value: {val: 2}}]\n    accepted: 1\n"
    path = suite_with(tmp_path, f"  - name: first\n{same_press}  - name: second\n{same_press}", pipeline=pipeline)
    prepared = prepare(path, registry, environ={})
    results = [run_case(prepared, case) for case in prepared.suite.cases]
    assert [r.passed for r in results] == [True, True], [r.lines() for r in results]
    # Within a case the memory holds: the debounce validator is stateful, so the second press is refused.
    twice = suite_with(
        tmp_path,
        "  - name: twice\n    input: [{value: {val: 2}}, {value: {val: 2}}]\n    accepted: 1\n",
        pipeline=pipeline,
    )
    prepared = prepare(twice, registry, environ={})
    assert run_case(prepared, prepared.suite.cases[0]).passed


def test_a_record_with_no_table_for_its_route_is_rejected_as_a_run_would(tmp_path: Path, registry: Registry) -> None:
    pipeline = PIPELINE.replace(
        'sink: {type: csv, path: "nowhere/{}.csv", split_by: kind}',
        "sink:\n  type: postgres\n  dsn: host=/nowhere dbname=x\n  route: kind\n"
        "  tables: {rating: {table: rating_interaction}}",
    )
    path = suite_with(
        tmp_path,
        """\
  - name: no table
    input: ['{"val": 1}']
    rejected:
      - {validator: postgres, rule: write, reason: "no table for kind = 'request' (routes: rating)"}
""",
        pipeline=pipeline,
        env="env: {KIND: request}\n",
    )
    prepared = prepare(path, registry, environ={})
    result = run_case(prepared, prepared.suite.cases[0])
    assert result.passed, result.lines()


def test_a_destination_needs_a_sink_that_can_say_it(tmp_path: Path, registry: Registry) -> None:
    pipeline = PIPELINE.replace(
        'sink: {type: csv, path: "nowhere/{}.csv", split_by: kind}',
        "sink: {type: kafka, topic: t, bootstrap_servers: b}",
    )
    path = suite_with(tmp_path, "  - name: a\n    input: ['{}']\n    accepted: [{destination: t}]\n", pipeline=pipeline)
    with pytest.raises(ConfigError) as exc:
        prepare(path, registry, environ={})
    assert problems(exc) == [
        f"{path}:5: cases[0].accepted[0].destination: the sink (KafkaSink) cannot say where a record goes: it has no "
        "destination() (leave 'destination' out)"
    ]


# -- the pipeline file's variables --


def test_the_test_files_env_wins_and_unopened_sections_may_leave_variables_unset(
    tmp_path: Path, registry: Registry
) -> None:
    pipeline = PIPELINE.replace('path: "nowhere/{}.csv"', 'path: "${OUT}/{}.csv"').replace(
        "source: {type: file, path: nowhere/in.txt}", "source: {type: file, path: '${IN:?give IN}'}"
    )
    path = suite_with(
        tmp_path,
        "  - name: a\n    input: ['{\"val\": 1}']\n"
        "    accepted: [{destination: <OUT unset>/request.csv, kind: request}]\n",
        pipeline=pipeline,
        env="env: {KIND: request}\n",
    )
    prepared = prepare(path, registry, environ={"KIND": "rating"})
    assert run_case(prepared, prepared.suite.cases[0]).passed
    assert prepared.pipeline.source.path == "<IN unset>"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        # A validator's variable is never a placeholder: what is tested must be what runs.
        (
            PIPELINE.replace("max: 4", 'max: "${MAX}"'),
            "p.yaml:4: validators[1].max: environment variable MAX is not set",
        ),
        # ... nor one that reaches a validator through an anchor of an x- block.
        (
            "x-limits: &limits {min: 0, max: '${MAX}'}\n" + PIPELINE.replace("min: 0, max: 4", "<<: *limits"),
            "p.yaml:1: x-limits.max: environment variable MAX is not set",
        ),
        # ... nor one the file uses elsewhere with a default, which a placeholder would replace.
        (
            PIPELINE.replace('path: "nowhere/{}.csv"', 'path: "${KIND}/{}.csv"'),
            "p.yaml:6: sink.path: environment variable KIND",
        ),
    ],
)
def test_a_variable_that_validators_need_must_be_set(
    tmp_path: Path, registry: Registry, pipeline: str, message: str
) -> None:
    path = suite_with(tmp_path, "  - {name: a, input: ['{}'], accepted: 1}\n", pipeline=pipeline)
    with pytest.raises(ConfigError) as exc:
        prepare(path, registry, environ={})
    assert any(p.startswith(f"{tmp_path}/{message}") for p in problems(exc)), problems(exc)


def test_when_a_placeholder_does_not_build_the_test_file_says_so(tmp_path: Path, registry: Registry) -> None:
    pipeline = PIPELINE.replace(
        'sink: {type: csv, path: "nowhere/{}.csv", split_by: kind}', "sink: {type: postgres, dsn: '${DSN}', table: t}"
    )
    path = suite_with(tmp_path, "  - {name: a, input: ['{}'], accepted: 1}\n", pipeline=pipeline)
    with pytest.raises(ConfigError) as exc:
        prepare(path, registry, environ={})
    found = problems(exc)
    assert found[0].startswith(f"{tmp_path}/p.yaml:6: sink.dsn: dsn is not a valid connection string"), found
    assert found[-1] == (
        f"{path}:1: pipeline: variables unset in the source and sinks were read as placeholders: DSN "
        "(give them values under 'env:' in the test file)"
    )
    write(tmp_path, "p.test.yaml", path.read_text().replace("cases:", "env: {DSN: 'host=db dbname=museum'}\ncases:"))
    assert prepare(path, registry, environ={}).pipeline.sink.dsn == "host=db dbname=museum"  # type: ignore[attr-defined]


# -- several files --


def test_a_bad_file_does_not_stop_the_others_and_decides_the_exit_code(tmp_path: Path, registry: Registry) -> None:
    suite_with(
        tmp_path, "  - {name: ok, input: ['{\"val\": 1}'], accepted: 1}\n  - {name: bad, input: ['x'], accepted: 1}\n"
    )
    write(tmp_path, "z/bad.test.yaml", "pipeline: ../missing.yaml\ncases: [{name: a, input: [x], accepted: 1}]\n")
    seen: list[str] = []
    results = run_paths(
        [tmp_path], registry, on_result=lambda r: seen.append(r.title), on_problem=lambda p: seen.append(str(p))
    )
    assert [r.passed for r in results.results] == [True, False]
    assert seen[-1].startswith(f"{tmp_path}/z/bad.test.yaml:1: pipeline: cannot read the pipeline file")
    assert (results.files, results.exit_code) == (2, 2)
    assert results.summary() == "1 passed, 1 failed, 1 test file with errors (2 test files)"
    (tmp_path / "z/bad.test.yaml").unlink()
    assert run_paths([tmp_path], registry).exit_code == 1
    assert run_paths([tmp_path / "z"], registry).exit_code == 2  # no test file at all


def test_a_validator_that_cannot_open_is_reported_where_it_is_configured(tmp_path: Path, registry: Registry) -> None:
    pipeline = PIPELINE.replace("  - {type: json}\n", "  - {type: kiosk, catalogue: nowhere/exhibitions}\n")
    path = suite_with(tmp_path, "  - {name: a, input: ['{}'], accepted: 1}\n", pipeline=pipeline)
    results = run_paths([path], registry)
    assert results.exit_code == 2
    assert [str(p) for p in results.problems] == [
        f"{tmp_path}/p.yaml:3: validators[0]: catalogue 'nowhere/exhibitions' does not exist"
    ]


def test_base64_round_trips(tmp_path: Path) -> None:
    data = bytes(range(256))
    encoded = base64.b64encode(data).decode()
    path = write(
        tmp_path,
        "a.test.yaml",
        f"pipeline: p.yaml\ncases: [{{name: a, input: [{{base64: {encoded}}}], accepted: 0}}]\n",
    )
    assert read_suite(path).cases[0].inputs[0].raw == data
