"""keys, types, range, one_of, pattern and set."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from lmnh_pipes import ConfigError, Record
from lmnh_pipes_rules import Keys, OneOf, Pattern, Range, SetFields, Types

from .helpers import reason, rule, run

KIOSK_KEYS = ["at", "site", "val"]


# --- keys ---------------------------------------------------------------------------------------------------


def test_keys_required_names_every_missing_key_in_order():
    v = Keys(required=KIOSK_KEYS)
    assert reason(v, {"at": "x", "site": "3", "val": 2}) is None
    assert reason(v, {"site": "3"}) == "missing keys 'at' and 'val'"
    assert reason(v, {"at": "x", "site": "3"}) == "missing key 'val'"
    assert rule(v, {"site": "3"}) == "keys"


def test_keys_required_accepts_null_values():
    assert reason(Keys(required=["val"]), {"val": None}) is None


def test_keys_allowed_rejects_extra_keys_and_includes_required():
    v = Keys(required=["at"], allowed=["site", "val"])
    assert reason(v, {"at": 1, "site": 2, "val": 3}) is None
    assert reason(v, {"at": 1, "type": None}) == "unexpected key 'type'"
    assert reason(v, {"at": 1, "type": 0, "x": 1}) == "unexpected keys 'type' and 'x'"


def test_keys_forbidden_rejects_even_a_null_value():
    v = Keys(forbidden=["type"])
    assert reason(v, {"val": 2}) is None
    assert reason(v, {"val": 2, "type": None}) == "forbidden key 'type' is present (null)"


def test_keys_empty_allowed_means_no_keys():
    assert reason(Keys(allowed=[]), {}) is None
    assert reason(Keys(allowed=[]), {"a": 1}) == "unexpected key 'a'"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give at least one"),
        ({"required": ["a"], "forbidden": ["a"]}, "forbidden: 'a' is also required"),
        ({"allowed": ["a"], "forbidden": ["a"]}, "forbidden: 'a' is also allowed"),
        ({"required": "at"}, "required: expected a list of key names"),
    ],
)
def test_keys_bad_options(options, message):
    with pytest.raises(ConfigError, match=message):
        Keys(**options)


# --- types --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "integer", "number"),
    [
        (3, True, True),
        (0, True, True),
        (-1, True, True),
        (3.0, False, True),
        (1.5, False, True),
        (True, False, False),
        (False, False, False),
        ("3", False, False),
        (None, False, False),
        ([1], False, False),
        ({"a": 1}, False, False),
    ],
)
def test_types_integer_and_number(value, integer, number):
    assert (reason(Types(fields={"v": "integer"}), {"v": value}) is None) is integer
    assert (reason(Types(fields={"v": "number"}), {"v": value}) is None) is number


@pytest.mark.parametrize(
    ("type_name", "good", "bad"),
    [
        ("string", "x", 1),
        ("boolean", False, 0),
        ("null", None, "null"),
        ("object", {"a": 1}, [1]),
        ("array", [1], {"a": 1}),
        ("datetime", datetime(2024, 1, 1, tzinfo=UTC), "2024-01-01T00:00:00Z"),
    ],
)
def test_types_each_name(type_name, good, bad):
    v = Types(fields={"f": type_name})
    assert reason(v, {"f": good}) is None
    assert rule(v, {"f": bad}) == "types"


def test_types_union_and_reason():
    v = Types(fields={"val": "integer", "type": "integer|null"})
    assert reason(v, {"val": 2, "type": None}) is None
    assert reason(v, {"val": 2, "type": 1}) is None
    assert reason(v, {"val": 3.0}) == "val is 3.0 (a float), expected integer"
    assert reason(v, {"val": 2, "type": "INF"}) == 'type is "INF" (a string), expected integer|null'
    assert reason(v, {"val": True}) == "val is true (a boolean), expected integer"


def test_types_skips_missing_fields():
    assert reason(Types(fields={"val": "integer", "type": "integer"}), {}) is None


def test_types_checks_fields_in_order_and_nested_paths():
    v = Types(fields={"a": "string", "b.c": "integer"})
    assert reason(v, {"a": 1, "b": {"c": "x"}}) == "a is 1 (an integer), expected string"
    assert reason(v, {"a": "x", "b": {"c": "x"}}) == 'b.c is "x" (a string), expected integer'
    assert reason(v, {"a": "x", "b": {"c": 3}}) is None


@pytest.mark.parametrize("spec", ["integr", "integer|intt", "", "String", "float64"])
def test_types_unknown_type_names_the_field(spec):
    with pytest.raises(ConfigError, match=r"fields\.val: unknown type"):
        Types(fields={"val": spec})


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ("integr", "unknown type 'integr' (did you mean 'integer'?)"),
        ("String", "unknown type 'String' (did you mean 'string'?)"),
        ("boolen", "unknown type 'boolen' (did you mean 'boolean'?)"),
        ("flaot", "unknown type 'flaot' (did you mean 'number'?)"),  # cast's spelling, named as types spells it
        ("wibble", "unknown type 'wibble'; expected one of string, integer, number, boolean, null, object, array"),
    ],
)
def test_types_unknown_type_says_what_was_meant(spec, hint):
    with pytest.raises(ConfigError) as caught:
        Types(fields={"val": spec})
    assert str(caught.value).startswith(f"fields.val: {hint}")


def test_types_takes_the_cast_rules_spellings():
    short = Types(fields={"i": "int", "n": "float|null", "s": "str", "b": "bool"})
    long = Types(fields={"i": "integer", "n": "number|null", "s": "string", "b": "boolean"})
    for value in [{"i": 1, "n": 1.5, "s": "x", "b": True}, {"i": 1, "n": 2, "s": "x", "b": False, "z": 0}]:
        assert reason(short, value) is None
    for value in [{"i": 1.0}, {"n": "1"}, {"s": 1}, {"b": 1}, {"n": True}]:
        assert reason(short, value) == reason(long, value) is not None
    assert reason(short, {"i": "1"}) == 'i is "1" (a string), expected integer'


# --- range --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("val", "accepted"),
    [(-2, False), (-1, True), (0, True), (4, True), (5, False), (3.5, True), (4.000001, False), (-1.0, True)],
)
def test_range_ends_are_inclusive(val, accepted):
    assert (reason(Range(field="val", min=-1, max=4), {"val": val}) is None) is accepted


def test_range_reasons():
    v = Range(field="val", min=0, max=4)
    assert reason(v, {"val": 5}) == "val is 5, above the maximum 4"
    assert reason(v, {"val": -3}) == "val is -3, below the minimum 0"
    assert rule(v, {"val": 5}) == "range"


@pytest.mark.parametrize("bad", [True, False, "2", None, [2], math.nan])
def test_range_refuses_non_numbers(bad):
    out = run(Range(field="val", min=0, max=4), {"val": bad})
    assert out.reject is not None
    assert out.reject.rule == ("range" if bad is math.nan else "types")


def test_range_one_sided():
    assert reason(Range(field="v", min=0), {"v": 10**30}) is None
    assert reason(Range(field="v", min=0), {"v": -1}) is not None
    assert reason(Range(field="v", max=0), {"v": -(10**30)}) is None
    assert reason(Range(field="v", max=0), {"v": 1}) is not None


def test_range_large_integers_compare_exactly():
    v = Range(field="v", max=2**53)
    assert reason(v, {"v": 2**53}) is None
    assert reason(v, {"v": 2**53 + 1}) is not None


def test_range_missing_field_and_optional():
    assert run(Range(field="val", min=0), {}).reject.rule == "missing"
    assert reason(Range(field="val", min=0), {}) == "val is missing"
    assert reason(Range(field="val", min=0, optional=True), {}) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "min: give min, max, or both"),
        ({"min": 5, "max": 1}, "min: 5 is greater than max 1"),
        ({"min": math.nan}, "min: expected a finite number"),
        ({"max": True}, "max: expected a number"),
        ({"field": "", "min": 1}, "field: expected a field name"),
        ({"field": "a..b", "min": 1}, "field: expected a field name"),
    ],
)
def test_range_bad_options(options, message):
    options.setdefault("field", "val")
    with pytest.raises(ConfigError, match=message):
        Range(**options)


def test_range_reads_meta_fields():
    v = Range(field="meta.offset", max=9)
    assert v.validate(Record.of({"a": 1}, offset=9)).reject is None
    assert v.validate(Record.of({"a": 1}, offset=10)).reject.reason == "meta.offset is 10, above the maximum 9"


# --- one_of -------------------------------------------------------------------------------------------------


def test_one_of_is_strict_about_booleans_and_floats():
    v = OneOf(field="type", values=[0, 1])
    assert reason(v, {"type": 0}) is None
    assert reason(v, {"type": 1}) is None
    assert reason(v, {"type": True}) == "type is true, not one of [0, 1]"
    assert reason(v, {"type": False}) is not None
    assert reason(v, {"type": 1.0}) is not None
    assert reason(v, {"type": "1"}) is not None
    assert reason(v, {"type": None}) is not None
    assert rule(v, {"type": 2}) == "membership"


def test_one_of_booleans_do_not_match_integers():
    v = OneOf(field="f", values=[True])
    assert reason(v, {"f": True}) is None
    assert reason(v, {"f": 1}) is not None


def test_one_of_floats_and_null_and_strings():
    v = OneOf(field="f", values=[1.5, None, "a"])
    assert reason(v, {"f": 1.5}) is None
    assert reason(v, {"f": None}) is None
    assert reason(v, {"f": "a"}) is None
    assert reason(v, {"f": "A"}) is not None


def test_one_of_arrays_and_objects_compare_as_json():
    v = OneOf(field="f", values=[[1, 2], {"a": [True]}])
    assert reason(v, {"f": [1, 2]}) is None
    assert reason(v, {"f": {"a": [True]}}) is None
    assert reason(v, {"f": [1.0, 2]}) is not None
    assert reason(v, {"f": {"a": [1]}}) is not None
    assert reason(v, {"f": [2, 1]}) is not None


def test_one_of_int_subclasses_match_as_ints():
    import enum

    class Kind(enum.IntEnum):
        ASSISTANCE = 0

    assert reason(OneOf(field="f", values=[0]), {"f": Kind.ASSISTANCE}) is None


def test_one_of_bad_options():
    with pytest.raises(ConfigError, match="values: expected a non-empty list"):
        OneOf(field="f", values=[])
    with pytest.raises(ConfigError, match=r"values\[0\]: .* is not a JSON value"):
        OneOf(field="f", values=[{1, 2}])


# --- pattern ------------------------------------------------------------------------------------------------

CANONICAL = "0|[1-9][0-9]*"


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        ("3", None),
        ("0", None),
        ("10", None),
        ("03", "pattern"),
        (" 3", "pattern"),
        ("3 ", "pattern"),
        ("\uff13", "pattern"),  # a full-width digit 3
        ("\u0663", "pattern"),  # an Arabic-Indic digit 3
        ("EXH_03", "pattern"),
        ("", "pattern"),
        ("3\n", "pattern"),
        (3, "types"),
        (None, "types"),
    ],
)
def test_pattern_canonical_decimal(site, expected):
    assert rule(Pattern(field="site", regex=CANONICAL), {"site": site}) == expected


def test_pattern_ascii_digit_class_and_reason():
    v = Pattern(field="site", regex=r"\d+")
    assert reason(v, {"site": "12"}) is None
    assert reason(v, {"site": "\uff11"}) is not None
    assert reason(Pattern(field="site", regex=CANONICAL), {"site": "03"}) == (
        'site is "03", which does not match "0|[1-9][0-9]*"'
    )


def test_pattern_bad_regex():
    with pytest.raises(ConfigError, match="regex: not a valid regular expression"):
        Pattern(field="site", regex="(")


# --- set ----------------------------------------------------------------------------------------------------


def test_set_adds_constants_without_touching_the_input():
    value = {"val": -1}
    record = Record.of(value)
    out = SetFields(values={"kind": "request", "n.deep": 1}).validate(record)
    assert out.value == {"val": -1, "kind": "request", "n": {"deep": 1}}
    assert record.value == {"val": -1}
    assert out.raw == record.raw


def test_set_copies_mutable_constants_per_record():
    v = SetFields(values={"tags": ["a"]})
    first, second = run(v, {}), run(v, {})
    first.value["tags"].append("b")
    assert second.value["tags"] == ["a"]


def test_set_through_a_non_object_rejects():
    out = run(SetFields(values={"a.b": 1}), {"a": "text"})
    assert out.reject is not None
    assert out.reject.reason == "cannot set a.b: 'a' is not an object"


def test_set_refuses_meta_paths():
    with pytest.raises(ConfigError, match=r"values\.meta\.topic: 'meta\.topic' cannot be set"):
        SetFields(values={"meta.topic": "x"})


# --- shared behaviour ---------------------------------------------------------------------------------------

ALL = [
    Keys(required=["a"]),
    Types(fields={"a": "integer"}),
    Range(field="a", min=0),
    OneOf(field="a", values=[1]),
    Pattern(field="a", regex="x"),
    SetFields(values={"a": 1}),
]


@pytest.mark.parametrize("validator", ALL, ids=lambda v: v.name)
def test_not_decoded_is_rejected(validator):
    out = validator.validate(Record.of(b'{"a": 1}'))
    assert out.reject is not None
    assert out.reject.rule == "decoded"
    assert out.reject.validator == validator.name
    assert "not decoded" in out.reject.reason


@pytest.mark.parametrize("validator", ALL, ids=lambda v: v.name)
def test_a_non_object_value_is_rejected(validator):
    out = validator.validate(Record(value=[1, 2]))
    assert out.reject is not None
    assert out.reject.reason == "the value is an array, not an object"


def test_names_default_to_the_type_and_can_be_changed():
    assert [v.name for v in ALL] == ["keys", "types", "range", "one_of", "pattern", "set"]
    out = run(Range(field="val", max=4, name="val-range"), {"val": 5})
    assert out.reject.validator == "val-range"


def test_repr_is_readable_and_shows_only_what_was_given():
    assert repr(Range(field="val", min=0, max=4)) == "Range(field='val', min=0, max=4)"
    assert repr(Range(field="val", min=0.0, max=4.5)) == "Range(field='val', min=0, max=4.5)"
    assert repr(OneOf(field="type", values=[0, 1], when={"val": -1}, name="t")) == (
        "OneOf(field='type', values=[0, 1], name='t', when={'val': -1})"
    )
    assert repr(Keys(required=["a"])) == "Keys(required=['a'])"


def test_rules_are_frozen_and_compare_by_options():
    v = Range(field="val", min=0, max=4)
    with pytest.raises(AttributeError):
        v.max = 5  # type: ignore[misc]
    assert v == Range(field="val", min=0, max=4)
    assert v != Range(field="val", min=0, max=3)


def test_docstring_examples_hold():
    import doctest

    import lmnh_pipes_rules.rules

    assert doctest.testmod(lmnh_pipes_rules.rules).failed == 0
