"""Whatever it is given, the kiosk validator returns a record: accepted with a typed value, or rejected with a
rule and a reason. It never raises."""

from __future__ import annotations

import json
from datetime import datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lmnh_pipes import Record, parse_rfc3339
from lmnh_pipes.testing import check_validator
from lmnh_pipes_kiosk import KioskValidator

from .conftest import EXHIBITIONS, LATER, rule_of

RULES = {"json", "keys", "types", "values", "exhibition", "timestamp", "hours", "future", "debounce"}

KIOSK = KioskValidator(catalogue=str(EXHIBITIONS), clock=lambda: LATER, debounce_seconds=1.0)
KIOSK.open()


def check(samples: list[object]) -> list[Record]:
    results = check_validator(KIOSK, samples)
    for result in results:
        if result.reject is None:
            value = result.value
            assert set(value) == {"at", "site", "val", "type", "kind", "exhibition"}
            assert isinstance(value["at"], datetime)
            assert value["at"].tzinfo is not None
            assert value["kind"] == ("request" if value["val"] == -1 else "rating")
            assert value["exhibition"] == f"EXH_{int(value['site']):02d}"
        else:
            assert result.reject.rule in RULES, result.reject
            assert result.reject.reason.strip()
    return results


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-3, max_value=6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["3", "03", " 3", "\uff13", "EXH_03", "INF", "ERR", "None", "-1", "12"]),
    st.sampled_from(["2024-07-15T12:00:00+01:00", "2024-07-15T12:00:00", "2024-07-15T18:15:00.0000001Z"]),
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
)
keys = st.sampled_from(["at", "site", "val", "type", "extra", "AT", "", "\u00e0t"])
json_ish = st.dictionaries(keys, json_values, max_size=6)
presses = st.fixed_dictionaries(
    {"at": json_values, "site": json_values, "val": json_values}, optional={"type": json_values}
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
@example(b"\xef\xbb\xbf{}")
@example(b'{"at": "2024-07-15T12:00:00+01:00", "site": "3", "val": 2}\x00')
@example(b'{"at": "2024-07-15T12:00:00+01:00", "site": "3", "val": 99999999999999999999}')
def test_arbitrary_bytes(raw):
    check([raw])


@settings(max_examples=500, deadline=None)
@given(st.one_of(json_ish, presses))
def test_arbitrary_json_ish_dicts_as_values(value):
    check([value])  # a mapping value: as after the json validator, or in a notebook


@settings(max_examples=500, deadline=None)
@given(st.one_of(json_ish, presses), st.sampled_from([{}, {"separators": (",", ":")}, {"indent": 1}]))
def test_arbitrary_json_ish_dicts_as_bytes(value, spelling):
    raw = json.dumps(value, **spelling).encode()
    (bytes_result,) = check([raw])
    (value_result,) = check([Record(value=json.loads(raw), raw=raw)])
    # the raw path and the decoded path reach the same verdict (but Python's json.loads takes NaN and Infinity,
    # which the strict raw path refuses, and the de-bounce memory differs between the two calls)
    if not {"json", "debounce"} & {r.reject.rule for r in (bytes_result, value_result) if r.reject}:
        assert (bytes_result.reject is None) == (value_result.reject is None)
        if bytes_result.reject is not None and value_result.reject is not None:
            assert bytes_result.reject.rule == value_result.reject.rule


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_in_at(text):
    raw = json.dumps({"at": text, "site": "3", "val": 2}).encode()
    (result,) = check([raw])
    rule = result.reject.rule if result.reject else ""
    assert rule in ("timestamp", "hours", "future", "debounce", "")
    if rule != "timestamp":
        assert parse_rfc3339(text).tzinfo is not None  # what the validator accepted, the core parser reads


def test_notebook_objects_do_not_make_it_raise():
    class Odd:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    samples = [
        {"at": Odd(), "site": "3", "val": 2},
        {"at": "2024-07-15T12:00:00+01:00", "site": Odd(), "val": 2},
        {"at": "2024-07-15T12:00:00+01:00", "site": "3", "val": 10**5000},
        {"at": "2024-07-15T12:00:00+01:00", "site": "3", "val": -1, "type": {1, 2}},
        {1: "x", (2, 3): "y"},
    ]
    results = check([Record(value=sample, raw=b"from a notebook") for sample in samples])
    assert [r.reject.rule if r.reject else "" for r in results] == ["timestamp", "types", "values", "types", "keys"]


def test_raw_of_other_types(kiosk):
    raw = b'{"at": "2024-07-15T12:00:00+01:00", "site": "3", "val": 2}'
    assert kiosk.validate(Record(raw=bytearray(raw))).value["exhibition"] == "EXH_03"
    assert kiosk.validate(Record(raw=memoryview(raw))).value["exhibition"] == "EXH_03"
    assert kiosk.validate(Record(raw=raw.decode())).value["exhibition"] == "EXH_03"
    result = kiosk.validate(Record(raw=None))  # type: ignore[arg-type]
    assert rule_of(result) == "json"
