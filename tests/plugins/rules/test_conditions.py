"""when / unless, strict membership, and field paths: shared by every rule."""

from __future__ import annotations

import datetime as dt

import pytest

from lmnh_pipes import ConfigError, Record
from lmnh_pipes.records import MISSING
from lmnh_pipes_rules import Condition, Keys, Membership, OneOf, Range, SetFields

from .helpers import reason, run


def test_when_applies_only_to_matching_records():
    v = Keys(required=["type"], when={"val": -1})
    assert reason(v, {"val": -1}) == "missing key 'type'"
    assert reason(v, {"val": 2}) is None
    assert reason(v, {}) is None  # a missing field matches nothing


def test_when_is_strict_equality():
    v = Keys(required=["type"], when={"val": -1})
    assert reason(v, {"val": -1.0}) is None
    assert reason(v, {"val": "-1"}) is None
    assert reason(Keys(required=["x"], when={"flag": 1}), {"flag": True}) is None
    assert reason(Keys(required=["x"], when={"flag": True}), {"flag": 1}) is None
    assert reason(Keys(required=["x"], when={"flag": True}), {"flag": True}) == "missing key 'x'"


def test_when_list_means_one_of():
    v = Range(field="val", max=0, when={"kind": ["a", "b"]})
    assert reason(v, {"kind": "a", "val": 1}) is not None
    assert reason(v, {"kind": "b", "val": 1}) is not None
    assert reason(v, {"kind": "c", "val": 1}) is None


def test_when_needs_every_entry():
    v = Range(field="val", max=0, when={"a": 1, "b": 2})
    assert reason(v, {"a": 1, "b": 2, "val": 1}) is not None
    assert reason(v, {"a": 1, "b": 3, "val": 1}) is None


def test_unless_skips_records_matching_every_entry():
    v = Keys(allowed=["at", "site", "val"], unless={"val": -1})
    assert reason(v, {"val": -1, "type": 0}) is None
    assert reason(v, {"val": 2, "type": 0}) == "unexpected key 'type'"
    assert reason(v, {"val": True, "type": 0}) == "unexpected key 'type'"
    w = Range(field="v", max=0, unless={"a": 1, "b": 2})
    assert reason(w, {"a": 1, "b": 2, "v": 5}) is None
    assert reason(w, {"a": 1, "b": 3, "v": 5}) is not None


def test_when_and_unless_together():
    v = SetFields(values={"flag": True}, when={"kind": "x"}, unless={"skip": True})
    assert run(v, {"kind": "x"}).value == {"kind": "x", "flag": True}
    assert run(v, {"kind": "x", "skip": True}).value == {"kind": "x", "skip": True}
    assert run(v, {"kind": "y"}).value == {"kind": "y"}


def test_conditions_on_nested_and_meta_fields():
    v = Range(field="v", max=0, when={"meta.topic": "lmnh", "a.b": None})
    assert v.validate(Record.of({"a": {"b": None}, "v": 1}, topic="lmnh")).reject is not None
    assert v.validate(Record.of({"a": {"b": None}, "v": 1}, topic="other")).reject is None
    assert v.validate(Record.of({"a": {}, "v": 1}, topic="lmnh")).reject is None


def test_a_skipped_record_is_returned_unchanged():
    record = Record.of({"val": 2})
    assert OneOf(field="type", values=[0], when={"val": -1}).validate(record) is record


def test_bad_conditions():
    with pytest.raises(ConfigError, match=r"when\.val: an empty list matches nothing"):
        Range(field="v", max=0, when={"val": []})
    with pytest.raises(ConfigError, match=r"unless\.: expected a field name"):
        Range(field="v", max=0, unless={"": 1})
    with pytest.raises(ConfigError, match=r"when.val\[0\]: .* is not a JSON value"):
        Range(field="v", max=0, when={"val": [{1}]})


def test_condition_build_returns_none_when_empty():
    assert Condition.build(None, None) is None
    assert Condition.build({}, {}) is None
    assert Condition.build({"a": 1}, None) is not None


def test_membership():
    m = Membership([0, 1, "a", None, 2.5, [1], {"k": "v"}])
    for present in (0, 1, "a", None, 2.5, [1], (1,), {"k": "v"}):
        assert present in m
    for absent in (True, False, 1.0, 0.0, "A", 2, [1.0], [True], {"k": "V"}, MISSING, {1, 2}):
        assert absent not in m
    assert len(m) == 7
    assert repr(m) == "[0, 1, 'a', None, 2.5, [1], {'k': 'v'}]"


def test_membership_negative_zero_and_other_hashables():
    assert -0 in Membership([0])
    assert -0.0 in Membership([0.0])
    day = dt.date(2024, 1, 1)  # YAML can give a date
    assert day in Membership([day])
    assert "2024-01-01" not in Membership([day])
