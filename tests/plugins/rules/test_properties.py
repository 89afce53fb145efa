"""Property tests: no data makes any rule raise, every rejection has a reason, and inputs are never modified."""

from __future__ import annotations

import copy
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmnh_pipes import Record, Validator
from lmnh_pipes.testing import check_validator
from lmnh_pipes_rules import (
    Cast,
    Debounce,
    InCatalogue,
    JsonValidator,
    Keys,
    NotFuture,
    OneOf,
    Pattern,
    Range,
    SetFields,
    Timestamp,
    TimeWindow,
    Types,
)

from .helpers import EXHIBITIONS

KEYS = ["at", "site", "val", "type", "kind", "a"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["3", "03", "-1", "1.0", "", "2024-07-01T12:00:00+01:00", "2023-09-01 08:03:41", "true"])
    | st.datetimes(timezones=st.none() | st.just(UTC) | st.just(timezone(timedelta(hours=-23, minutes=-59))))
)
json_like = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)
records = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), json_like, max_size=6)


def _rules() -> list[Validator]:
    catalogue = InCatalogue(
        field="site",
        catalogue=str(EXHIBITIONS),
        pattern="lmnh_exhibition_*.json",
        key="EXHIBITION_ID",
        format="EXH_{:02d}",
        target="exhibition",
        when={"kind": ["a", None]},
    )
    catalogue.open()
    return [
        JsonValidator(),
        Keys(required=["at", "site"], allowed=["at", "site", "val", "type"], forbidden=["kind"]),
        Keys(required=["type"], when={"val": -1}),
        Types(fields={"at": "string|datetime", "val": "integer", "type": "integer|null", "a.b": "number"}),
        Range(field="val", min=-1, max=4),
        Range(field="a.b", max=0, optional=True, unless={"val": [1, True, 1.5]}),
        OneOf(field="type", values=[0, 1, [1], {"x": None}]),
        Pattern(field="site", regex="0|[1-9][0-9]*"),
        catalogue,
        InCatalogue(field="site", catalogue=str(EXHIBITIONS), pattern="lmnh_*.json", key="EXHIBITION_ID"),
        Timestamp(field="at"),
        TimeWindow(field="at", start="08:45", end="18:15"),
        TimeWindow(field="at", start="22:00", end="06:00", timezone="Asia/Kolkata"),
        NotFuture(field="at"),
        Cast(fields={"at": "datetime", "site": "str", "val": "int", "type": "float", "kind": "bool", "a": "json"}),
        Cast(fields={"val": "int", "a.b": "int"}, integral_floats=True, empty="null"),
        SetFields(values={"kind": "request", "a.b": [1]}, when={"val": -1}),
        Debounce(fields=["site", "val", "a"], window=1, time_field="at"),
        Debounce(fields=["site"], window=1),
    ]


RULES = _rules()


@pytest.mark.parametrize("validator", RULES, ids=lambda v: f"{v.name}")
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(sample=records)
def test_any_json_like_dict_is_accepted_or_rejected_with_a_reason(validator: Validator, sample: dict[str, Any]):
    before = copy.deepcopy(sample)
    [out] = check_validator(validator, [sample])
    assert sample == before or sample != sample  # NaN never equals itself; otherwise untouched
    if out.reject is None:
        assert isinstance(out.value, dict)
    else:
        assert out.reject.rule


@pytest.mark.parametrize("validator", RULES, ids=lambda v: f"{v.name}")
@settings(max_examples=60)
@given(raw=st.binary(max_size=64))
def test_any_bytes_are_decoded_or_rejected(validator: Validator, raw: bytes):
    [out] = check_validator(validator, [raw])
    if not isinstance(validator, JsonValidator):
        assert out.reject is not None
        assert out.reject.rule == "decoded"


@settings(max_examples=300)
@given(st.binary(max_size=80) | st.text(max_size=80).map(lambda t: t.encode("utf-8")))
def test_the_chain_never_raises_on_raw_input(raw: bytes):
    record = Record.of(raw)
    for validator in RULES:
        record = validator.validate(record)
        assert isinstance(record, Record)
        if record.reject is not None:
            assert record.reject.reason
            break
