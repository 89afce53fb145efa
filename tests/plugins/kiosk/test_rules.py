"""The eight rules of the kiosk validator, at their boundaries, on every path a message can take.

Each message is checked three ways: as the kiosks spell it (the validator's fast path), re-spelled with other
whitespace (the general path, decode_object), and as a decoded mapping (after the ``json`` validator).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lmnh_pipes import Record
from lmnh_pipes_kiosk import KioskValidator
from lmnh_pipes_rules import JsonValidator

from .conftest import LATER, fixed, message, rule_of


def three_ways(kiosk: KioskValidator, raw: bytes) -> list[Record]:
    """The message as given, compactly re-spelled (general path), and decoded by the json validator."""
    results = [kiosk.validate(Record(raw=raw))]
    decoded = JsonValidator().validate(Record(raw=raw))
    if decoded.reject is None:
        compact = b" " + json.dumps(decoded.value, separators=(",", ":")).encode()
        results.append(kiosk.validate(Record(raw=compact)))
        results.append(kiosk.validate(decoded))
    return results


def assert_rule(kiosk: KioskValidator, raw: bytes, rule: str, *words: str) -> list[Record]:
    results = three_ways(kiosk, raw)
    for result in results:
        assert rule_of(result) == rule, (raw, result.reject)
        if rule:
            assert result.reject is not None
            assert result.reject.validator == "kiosk"
            for word in words:
                assert word in result.reject.reason, (word, result.reject.reason)
    # The three paths agree on the reason too.
    assert len({r.reject.reason if r.reject else None for r in results}) == 1, [r.reject for r in results]
    return results


# Opening hours 08:45:00 .. 18:15:00 Europe/London, both ends inclusive.
HOURS = [
    # summer: London is +01:00
    ("2024-07-15T08:44:59.999999+01:00", "hours"),
    ("2024-07-15T08:45:00+01:00", ""),
    ("2024-07-15T18:15:00+01:00", ""),
    ("2024-07-15T18:15:00.000001+01:00", "hours"),
    ("2024-07-15T07:44:59.999999Z", "hours"),
    ("2024-07-15T07:45:00Z", ""),
    ("2024-07-15T17:15:00Z", ""),
    ("2024-07-15T17:15:00.000001Z", "hours"),
    ("2024-07-15T13:14:59.999999+05:30", "hours"),
    ("2024-07-15T13:15:00+05:30", ""),
    ("2024-07-15T22:45:00+05:30", ""),
    ("2024-07-15T22:45:00.000001+05:30", "hours"),
    ("2024-07-15T03:45:00-04:00", ""),
    ("2024-07-15T03:44:59.999999-04:00", "hours"),
    # a summer local time wrongly marked +00:00 is an hour later in London
    ("2024-07-15T17:15:00+00:00", ""),
    ("2024-07-15T17:15:00.000001+00:00", "hours"),
    ("2024-07-15T18:00:00+00:00", "hours"),
    # winter: London is +00:00
    ("2024-01-15T08:44:59.999999+00:00", "hours"),
    ("2024-01-15T08:45:00+00:00", ""),
    ("2024-01-15T18:15:00+00:00", ""),
    ("2024-01-15T18:15:00.000001+00:00", "hours"),
    ("2024-01-15T08:45:00Z", ""),
    ("2024-01-15T18:15:00.000001Z", "hours"),
    ("2024-01-15T14:14:59.999999+05:30", "hours"),
    ("2024-01-15T14:15:00+05:30", ""),
    ("2024-01-15T23:45:00+05:30", ""),
    ("2024-01-15T23:45:00.000001+05:30", "hours"),
    # the days the clocks change
    ("2024-03-31T07:44:59.999999+00:00", "hours"),
    ("2024-03-31T07:45:00+00:00", ""),
    ("2024-03-31T08:45:00+01:00", ""),
    ("2024-10-27T08:44:59.999999+00:00", "hours"),
    ("2024-10-27T08:45:00+00:00", ""),
    ("2024-10-27T07:45:00+00:00", "hours"),
    # night
    ("2024-07-15T00:00:00+01:00", "hours"),
    ("2024-07-15T23:59:59.999999+01:00", "hours"),
    ("2024-07-15T12:00:00+01:00", ""),
]


@pytest.mark.parametrize(("at", "rule"), HOURS)
def test_opening_hours_boundaries(kiosk, at, rule):
    assert_rule(kiosk, message(at), rule, *(["outside opening hours 08:45:00..18:15:00"] if rule else []))


@pytest.mark.parametrize(
    ("at", "rule"),
    [
        # digits past the microsecond are truncated, but never let a time after close pass
        ("2024-07-15T18:15:00.0000001+01:00", "hours"),
        ("2024-07-15T18:15:00.000000000001+01:00", "hours"),
        ("2024-07-15T18:15:00.0000000+01:00", ""),
        ("2024-07-15T18:14:59.9999999+01:00", ""),
        ("2024-07-15T08:44:59.9999999+01:00", "hours"),
        ("2024-07-15T08:45:00.0000001+01:00", ""),
        ("2024-07-15T08:45:00.1+01:00", ""),
        ("2024-07-15 12:00:00+01:00", ""),
        ("2024-07-15T12:00:00-00:00", ""),
    ],
)
def test_timestamps_beyond_the_microsecond_and_other_spellings(kiosk, at, rule):
    assert_rule(kiosk, message(at), rule)


def test_hours_reason_names_the_local_time_and_zone(kiosk):
    (result, *_) = assert_rule(kiosk, message("2024-07-15T18:15:00.000001+01:00"), "hours")
    assert result.reject is not None
    assert "18:15:00.000001 in Europe/London" in result.reject.reason
    (result, *_) = assert_rule(kiosk, message("2024-07-15T18:15:00.0000001+01:00"), "hours")
    assert result.reject is not None
    assert "18:15:00 and a fraction of a microsecond" in result.reject.reason


def test_hours_are_options(catalogue):
    kiosk = KioskValidator(
        catalogue=catalogue, open="10:00:30", close="16:00", timezone="America/New_York", clock=fixed(LATER)
    )
    assert rule_of(kiosk.validate(Record(raw=message("2024-07-15T10:00:29.999999-04:00")))) == "hours"
    assert rule_of(kiosk.validate(Record(raw=message("2024-07-15T10:00:30-04:00")))) == ""
    assert rule_of(kiosk.validate(Record(raw=message("2024-07-15T20:00:00Z")))) == ""  # 16:00 in New York
    assert rule_of(kiosk.validate(Record(raw=message("2024-07-15T20:00:00.000001Z")))) == "hours"
    assert rule_of(kiosk.validate(Record(raw=message("2024-07-15T12:00:00+01:00")))) == "hours"  # 07:00 there


@pytest.mark.parametrize(
    ("at", "words"),
    [
        ("2024-07-15T12:00:00.254719", "no UTC offset"),
        ("2024-07-15T12:00:00+0100", "+HH:MM"),
        (" 2024-07-15T12:00:00+01:00", "whitespace"),
        ("2024-07-15T12:00:00+01:00 ", "whitespace"),
        ("2024-07-15t12:00:00+01:00", "RFC 3339"),
        ("2024-07-15T12:00:00z", "RFC 3339"),
        ("2024-07-15T12:00:00.+01:00", "RFC 3339"),
        ("2024-07-15", "RFC 3339"),
        ("15/07/2024 12:00:00", "RFC 3339"),
        ("2024-02-30T12:00:00+00:00", "not a real date"),
        ("2024-13-01T12:00:00+00:00", "not a real date"),
        ("2024-07-15T12:00:60+01:00", "leap second"),
        ("2024-07-15T12:00:00+24:00", "out of range"),
        ("2024-07-15T12:00:00+05:60", "out of range"),
        ("\uff12\uff10\uff12\uff14-07-15T12:00:00+01:00", "RFC 3339"),
        ("", "empty"),
    ],
)
def test_timestamp_rule(kiosk, at, words):
    raw = json.dumps({"at": at, "site": "3", "val": 2}).encode()
    assert_rule(kiosk, raw, "timestamp", "at ", words)


@pytest.mark.parametrize("at", [123, None, True, ["2024-07-15T12:00:00+01:00"]])
def test_at_must_be_a_string(kiosk, at):
    raw = json.dumps({"at": at, "site": "3", "val": 2}).encode()
    assert_rule(kiosk, raw, "timestamp", "at must be a JSON string")


def test_dates_at_the_edge_of_the_calendar_are_rejected_not_raised(kiosk):
    assert_rule(kiosk, message("0001-01-01T00:00:00+05:00"), "hours", "cannot be converted")
    assert_rule(kiosk, message("9999-12-31T23:59:59-05:00"), "hours", "cannot be converted")
    assert_rule(kiosk, message("0000-01-01T12:00:00+00:00"), "timestamp")


def test_future_rule_with_injected_clock(catalogue):
    now = datetime(2024, 7, 15, 11, 0, tzinfo=UTC)  # 12:00 in London
    kiosk = KioskValidator(catalogue=catalogue, clock=fixed(now))
    assert rule_of(kiosk.validate(Record(raw=message("2024-07-15T12:01:00+01:00")))) == ""  # exactly +60 s
    result = kiosk.validate(Record(raw=message("2024-07-15T12:01:00.000001+01:00")))
    assert rule_of(result) == "future"
    assert result.reject is not None
    assert "60.000001 s ahead of now (2024-07-15T11:00:00+00:00)" in result.reject.reason
    assert rule_of(kiosk.validate(Record(raw=message("2024-07-15T12:01:00.0000001+01:00")))) == "future"
    assert rule_of(kiosk.validate(Record(raw=message("2024-07-15T11:01:00Z")))) == ""
    assert rule_of(kiosk.validate(Record(raw=message("2024-07-15T16:31:00+05:30")))) == ""
    assert rule_of(kiosk.validate(Record(raw=message("2024-07-15T16:31:00.000001+05:30")))) == "future"

    strict = KioskValidator(catalogue=catalogue, clock=fixed(now), max_future_seconds=0)
    assert rule_of(strict.validate(Record(raw=message("2024-07-15T12:00:00+01:00")))) == ""
    assert rule_of(strict.validate(Record(raw=message("2024-07-15T12:00:00.000001+01:00")))) == "future"


def test_future_rule_follows_a_clock_that_moves_back(catalogue):
    now = [datetime(2024, 7, 15, 13, 30, tzinfo=UTC)]
    kiosk = KioskValidator(catalogue=catalogue, clock=lambda: now[0])
    raw = message("2024-07-15T13:10:00+01:00")  # 12:10 UTC
    assert rule_of(kiosk.validate(Record(raw=raw))) == ""
    now[0] = datetime(2024, 7, 15, 11, 0, tzinfo=UTC)
    assert rule_of(kiosk.validate(Record(raw=raw))) == "future"
    now[0] = datetime(2024, 7, 15, 12, 9, tzinfo=UTC)
    assert rule_of(kiosk.validate(Record(raw=raw))) == ""


def test_default_clock_is_real_time(catalogue):
    kiosk = KioskValidator(catalogue=catalogue, open="00:00", close="23:59:59.999999")
    now = datetime.now(UTC)
    ahead = (now + timedelta(days=365)).isoformat()
    assert rule_of(kiosk.validate(Record(raw=message(now.isoformat())))) == ""
    assert rule_of(kiosk.validate(Record(raw=message(ahead)))) == "future"
