"""Rules 1 to 5 of the kiosk validator: JSON, keys, types, values, exhibition; and the accepted value."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from lmnh_pipes import Record
from lmnh_pipes_rules import JsonValidator

from .conftest import message, rule_of
from .test_rules import assert_rule

AT = "2024-10-21T09:21:24.254719+01:00"


def test_accepts_a_rating_with_typed_value(kiosk):
    (result, *_) = assert_rule(kiosk, message(AT), "")
    assert result.value == {
        "at": datetime(2024, 10, 21, 9, 21, 24, 254719, tzinfo=timezone(timedelta(hours=1))),
        "site": "3",
        "val": 2,
        "type": None,
        "kind": "rating",
        "exhibition": "EXH_03",
    }
    assert result.value["at"].utcoffset() == timedelta(hours=1)
    assert result.raw == message(AT)


@pytest.mark.parametrize(("type_", "site"), [(0, "4"), (1, "0")])
def test_accepts_a_request(kiosk, type_, site):
    (result, *_) = assert_rule(kiosk, message("2025-03-12T10:02:11.003117+00:00", site, -1, type_), "")
    assert result.value["kind"] == "request"
    assert result.value["type"] == type_
    assert result.value["val"] == -1
    assert result.value["exhibition"] == f"EXH_0{site}"


@pytest.mark.parametrize("val", [0, 1, 2, 3, 4])
def test_every_rating_value(kiosk, val):
    (result, *_) = assert_rule(kiosk, message(AT, val=val), "")
    assert result.value["val"] == val


def test_minus_zero_is_zero(kiosk):
    raw = f'{{"at": "{AT}", "site": "3", "val": -0}}'.encode()
    (result, *_) = assert_rule(kiosk, raw, "")
    assert result.value["val"] == 0
    assert result.value["kind"] == "rating"


# Rule 1: JSON.
@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\xef\xbb\xbf" + message(AT), "byte-order mark"),
        (f'{{"at": "{AT}", "site": "3", "val": NaN}}'.encode(), "NaN"),
        (f'{{"at": "{AT}", "site": "3", "val": Infinity}}'.encode(), "Infinity"),
        (f'{{"at": "{AT}", "site": "3", "val": -Infinity}}'.encode(), "Infinity"),
        (f"{{'at': '{AT}', 'site': '3', 'val': 2}}".encode(), "not valid JSON"),
        (f'{{"at": "{AT}", "site": "3", "val": True}}'.encode(), "not valid JSON"),
        (f'{{"at": "{AT}", "site": "3", "val": None}}'.encode(), "not valid JSON"),
        (f'{{"at": "{AT}", "site": "3", "val": 2, "val": 2}}'.encode(), "duplicate key 'val'"),
        (f'{{"at": "{AT}", "site": "3", "val": -1, "type": 0, "type": 1}}'.encode(), "duplicate key 'type'"),
        (f'{{"at": "{AT}", "at": "{AT}", "site": "3", "val": 2}}'.encode(), "duplicate key 'at'"),
        (f'{{"at": "{AT}", "site": "3", "val": 02}}'.encode(), "not valid JSON"),
        (f'{{"at": "{AT}", "site": "3", "val": 2}} {{}}'.encode(), "not valid JSON"),
        (message(AT)[:-1], "not valid JSON"),
        (b'{"at": "\xff", "site": "3", "val": 2}', "UTF-8"),
        (b"[1, 2]", "an array"),
        (b'"rating"', "a string"),
        (b"3", "found 3 (an integer)"),
        (b"null", "null"),
        (b"", "empty"),
        (b"  \n", "empty"),
        (b'{"val": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b"[" * 10_000, "nested deeper"),
    ],
)
def test_json_rule(kiosk, raw, words):
    result = kiosk.validate(Record(raw=raw))
    assert rule_of(result) == "json", result.reject
    assert result.reject is not None
    assert words in result.reject.reason, result.reject.reason
    # the json validator refuses the same bytes, so after it the kiosk never sees them
    assert JsonValidator().validate(Record(raw=raw)).rejected


@pytest.mark.parametrize("value", [[1, 2], "x", 3, True])
def test_a_decoded_value_that_is_not_an_object(kiosk, value):
    result = kiosk.validate(Record(value=value, raw=b"x"))
    assert rule_of(result) == "json"
    assert result.reject is not None
    assert "expected a JSON object" in result.reject.reason


# Rule 2: keys.
@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"site": "3", "val": 2}, ["missing key 'at'"]),
        ({"at": AT, "val": 2}, ["missing key 'site'"]),
        ({"at": AT, "site": "3"}, ["missing key 'val'"]),
        ({"at": AT, "site": "3", "type": 0}, ["missing key 'val'"]),
        ({}, ["missing keys 'at', 'site' and 'val'"]),
        ({"at": AT, "site": "3", "val": 2, "extra": 1}, ["unexpected key 'extra'"]),
        ({"at": AT, "site": "3", "value": 2}, ["missing key 'val'", "unexpected key 'value'"]),
        ({"at": AT, "site": "3", "val": 2, "Type": 0}, ["unexpected key 'Type'"]),
        ({"at": AT, "site": "3", "val": 2, "type": 0}, ["'type' is not allowed on a rating (val 2)", "type 0"]),
        ({"at": AT, "site": "3", "val": 0, "type": None}, ["not allowed on a rating (val 0)", "type null"]),
        ({"at": AT, "site": "3", "val": 4, "type": 1}, ["not allowed on a rating (val 4)"]),
        ({"at": AT, "site": "3", "val": -1}, ["a request (val -1) needs key 'type'"]),
        ({"at": AT, "site": "3", "val": "INF", "type": 0}, ["only allowed on a request", 'val "INF" (a string)']),
        ({"at": AT, "site": "3", "val": 7, "type": 1}, ["only allowed on a request", "val 7 (an integer)"]),
        ({"at": AT, "site": "3", "val": None, "type": None}, ["only allowed on a request", "val null"]),
        ({"at": AT, "site": "3", "val": -1.0, "type": 0}, ["only allowed on a request", "val -1.0 (a float)"]),
        ({"at": AT, "site": "3", "val": True, "type": 0}, ["only allowed on a request", "val true (a boolean)"]),
        ({"at": AT, "site": "3", "val": -0, "type": 0}, ["not allowed on a rating (val 0)"]),
    ],
)
def test_keys_rule(kiosk, fields, words):
    assert_rule(kiosk, json.dumps(fields).encode(), "keys", *words)


def test_key_order_and_whitespace_do_not_matter(kiosk):
    raw = f'\n {{ "val" :2,"site":"3" ,\t"at":"{AT}" }} \r\n'.encode()
    result = kiosk.validate(Record(raw=raw))
    assert rule_of(result) == ""
    assert result.value["exhibition"] == "EXH_03"


# Rule 3: types.
@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"site": 3}, ["site must be a JSON string", "3 (an integer)"]),
        ({"site": None}, ["site must be a JSON string", "null"]),
        ({"site": "03"}, ['site "03" is not a canonical decimal integer']),
        ({"site": " 3"}, ['site " 3"']),
        ({"site": "3 "}, ['site "3 "']),
        ({"site": "\uff13"}, ['site "\\uff13"']),
        ({"site": "EXH_03"}, ['site "EXH_03"']),
        ({"site": "+3"}, ['site "+3"']),
        ({"site": "-1"}, ['site "-1"']),
        ({"site": ""}, ['site ""']),
        ({"site": "None"}, ['site "None"']),
        ({"site": "INF"}, ['site "INF"']),
        ({"site": "3.0"}, ['site "3.0"']),
        ({"val": 3.0}, ["val must be a JSON integer", "3.0 (a float)"]),
        ({"val": 2.5}, ["val must be a JSON integer", "2.5 (a float)"]),
        ({"val": True}, ["val must be a JSON integer", "true (a boolean)"]),
        ({"val": False}, ["val must be a JSON integer", "false (a boolean)"]),
        ({"val": "3"}, ["val must be a JSON integer", '"3" (a string)']),
        ({"val": "INF"}, ['"INF" (a string)']),
        ({"val": "ERR"}, ['"ERR" (a string)']),
        ({"val": None}, ["val must be a JSON integer, found null"]),
        ({"val": [2]}, ["[2] (an array)"]),
        ({"val": {"n": 2}}, ["(an object)"]),
        ({"val": -1, "type": "INF"}, ["type must be a JSON integer", '"INF" (a string)']),
        ({"val": -1, "type": None}, ["type must be a JSON integer, found null"]),
        ({"val": -1, "type": 1.0}, ["type must be a JSON integer", "1.0 (a float)"]),
        ({"val": -1, "type": True}, ["type must be a JSON integer", "true (a boolean)"]),
        ({"site": "03", "val": "INF"}, ["site"]),  # site comes first
    ],
)
def test_types_rule(kiosk, fields, words):
    value = {"at": AT, "site": "3", "val": 2, **fields}
    assert_rule(kiosk, json.dumps(value).encode(), "types", *words)


# Rule 4: values.
@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"val": -2}, ["val -2 is out of range -1..4"]),
        ({"val": -3}, ["val -3"]),
        ({"val": 5}, ["val 5 is out of range"]),
        ({"val": 9}, ["val 9"]),
        ({"val": 10**30}, ["val 1000000000000000000000000000000 is out of range"]),
        ({"val": -1, "type": -1}, ["type -1 is out of range 0..1"]),
        ({"val": -1, "type": 2}, ["type 2 is out of range 0..1"]),
        ({"val": -1, "type": 4}, ["type 4"]),
    ],
)
def test_values_rule(kiosk, fields, words):
    value = {"at": AT, "site": "3", "val": 2, **fields}
    assert_rule(kiosk, json.dumps(value).encode(), "values", *words)


# Rule 5: exhibition.
@pytest.mark.parametrize("site", ["6", "7", "9", "12", "99", "123456789012345678901234567890"])
def test_exhibition_rule(kiosk, site):
    (result, *_) = assert_rule(kiosk, message(AT, site=site), "exhibition", f'site "{site}"', "not in the catalogue")
    if len(site) <= 2:
        assert result.reject is not None
        assert f"EXH_{int(site):02d}" in result.reject.reason


def test_rules_are_checked_in_order(kiosk):
    # Every field is wrong: the first rule in the order wins, and so on as each is fixed.
    fields = {"at": "yesterday", "site": "9", "val": 7, "type": 0, "extra": 1}
    order = []
    for fix in ["extra", "type", "val", "site", "at"]:
        result = kiosk.validate(Record(raw=json.dumps(fields).encode()))
        order.append(rule_of(result))
        if fix == "extra":
            del fields["extra"]
        elif fix == "type":
            fields["val"] = -1
            fields["type"] = "x"
        elif fix == "val":
            fields["type"] = 9
        elif fix == "site":
            fields["type"] = 0
        else:
            fields["site"] = "3"
    assert order == ["keys", "keys", "types", "values", "exhibition"]
    assert rule_of(kiosk.validate(Record(raw=json.dumps(fields).encode()))) == "timestamp"
    fields["at"] = "2024-10-21T02:00:00+01:00"
    assert rule_of(kiosk.validate(Record(raw=json.dumps(fields).encode()))) == "hours"
    fields["at"] = AT
    assert rule_of(kiosk.validate(Record(raw=json.dumps(fields).encode()))) == ""
