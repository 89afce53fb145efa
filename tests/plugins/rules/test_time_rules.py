"""timestamp, time_window, not_future and debounce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from lmnh_pipes import ConfigError, Record
from lmnh_pipes_rules import Debounce, NotFuture, Timestamp, TimeWindow

from .helpers import reason, rule, run

LONDON = ZoneInfo("Europe/London")
HOURS = TimeWindow(field="at", start="08:45", end="18:15")

# --- timestamp ----------------------------------------------------------------------------------------------


def test_timestamp_replaces_the_string_with_an_aware_datetime():
    out = run(Timestamp(field="at"), {"at": "2024-10-21T09:21:24.254719+01:00", "site": "3"})
    assert out.reject is None
    assert out.value["at"] == datetime(2024, 10, 21, 8, 21, 24, 254719, tzinfo=UTC)
    assert out.value["at"].utcoffset() == timedelta(hours=1)
    assert list(out.value) == ["at", "site"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-12T10:02:11+00:00", datetime(2025, 3, 12, 10, 2, 11, tzinfo=UTC)),
        ("2025-03-12 10:02:11Z", datetime(2025, 3, 12, 10, 2, 11, tzinfo=UTC)),
        ("2025-03-12T10:02:11.5-05:00", datetime(2025, 3, 12, 15, 2, 11, 500000, tzinfo=UTC)),
        ("2025-03-12T10:02:11.123456789+00:00", datetime(2025, 3, 12, 10, 2, 11, 123456, tzinfo=UTC)),
    ],
)
def test_timestamp_accepts_rfc3339(text, expected):
    assert run(Timestamp(field="at"), {"at": text}).value["at"] == expected


@pytest.mark.parametrize(
    "bad",
    [
        "2024-10-21T09:21:24.254719",  # naive
        "2024-10-21T09:21:24+0100",
        " 2024-10-21T09:21:24Z",
        "2024-10-21T09:21:24Z ",
        "2024-10-21t09:21:24Z",
        "2024-10-21T09:21:24z",
        "2024-10-21T24:00:00Z",
        "2024-02-30T09:21:24Z",
        "2024-10-21T09:21:60Z",
        "2024-10-21T09:21:24+24:00",
        "2024-10-21T09:21:24,5Z",
        "\uff12024-10-21T09:21:24Z",
        "",
        1729498884,
        None,
        datetime(2024, 10, 21, 9, 21, 24),  # naive datetime
    ],
)
def test_timestamp_rejects(bad):
    out = run(Timestamp(field="at"), {"at": bad})
    assert out.reject is not None
    assert out.reject.rule == "timestamp"
    assert out.reject.reason.startswith("at is ")


def test_timestamp_reasons_say_why():
    assert reason(Timestamp(field="at"), {"at": "2024-10-21T09:21:24"}) == (
        'at is "2024-10-21T09:21:24", which has no UTC offset (a naive time)'
    )
    assert "+HH:MM, not +HHMM" in reason(Timestamp(field="at"), {"at": "2024-10-21T09:21:24+0100"})


def test_timestamp_keeps_an_aware_datetime():
    record = Record.of({"at": "x"}).with_value({"at": datetime(2024, 1, 1, tzinfo=UTC)})
    assert Timestamp(field="at").validate(record) is record


def test_timestamp_missing_field():
    assert rule(Timestamp(field="at"), {}) == "missing"
    assert reason(Timestamp(field="at", optional=True), {}) is None


# --- time_window --------------------------------------------------------------------------------------------

INSIDE, OUTSIDE = True, False


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        # summer, +01:00
        ("2024-07-01T08:44:59.999999+01:00", OUTSIDE),
        ("2024-07-01T08:45:00+01:00", INSIDE),
        ("2024-07-01T12:00:00+01:00", INSIDE),
        ("2024-07-01T18:14:59.9999999+01:00", INSIDE),
        ("2024-07-01T18:15:00+01:00", INSIDE),
        ("2024-07-01T18:15:00.000000000+01:00", INSIDE),
        ("2024-07-01T18:15:00.000001+01:00", OUTSIDE),
        ("2024-07-01T18:15:00.0000001+01:00", OUTSIDE),
        ("2024-07-01T18:15:00.0000000001+01:00", OUTSIDE),
        ("2024-07-01T07:45:00Z", INSIDE),  # 08:45 BST
        ("2024-07-01T07:44:59.999999Z", OUTSIDE),
        ("2024-07-01T17:15:00Z", INSIDE),  # 18:15 BST
        ("2024-07-01T17:15:00.000001Z", OUTSIDE),
        ("2024-07-01T18:15:00+00:00", OUTSIDE),  # 19:15 BST
        ("2024-07-01T08:45:00+00:00", INSIDE),  # 09:45 BST
        # winter, +00:00
        ("2024-01-15T08:44:59.999999+00:00", OUTSIDE),
        ("2024-01-15T08:45:00+00:00", INSIDE),
        ("2024-01-15T18:15:00Z", INSIDE),
        ("2024-01-15T18:15:00.000001Z", OUTSIDE),
        ("2024-01-15T18:15:00.0000001+00:00", OUTSIDE),
        ("2024-01-15T18:15:00+01:00", INSIDE),  # 17:15 GMT
        ("2024-01-15T08:45:00+01:00", OUTSIDE),  # 07:45 GMT
        # foreign offsets
        ("2024-07-01T22:45:00+05:30", INSIDE),  # 17:15Z = 18:15 BST
        ("2024-07-01T22:45:00.000001+05:30", OUTSIDE),
        ("2024-01-15T14:15:00+05:30", INSIDE),  # 08:45 GMT
        ("2024-01-15T14:14:59.999999+05:30", OUTSIDE),
        ("2024-07-01T03:45:00-04:00", INSIDE),  # 07:45Z = 08:45 BST
        ("2024-07-01T03:44:59.9999999-04:00", OUTSIDE),
        # the days the clocks change
        ("2024-03-31T07:45:00Z", INSIDE),  # BST from 01:00Z
        ("2024-03-31T07:44:59Z", OUTSIDE),
        ("2024-10-27T08:45:00Z", INSIDE),  # GMT from 01:00Z
        ("2024-10-27T07:45:00Z", OUTSIDE),
    ],
)
def test_time_window_boundaries(at, inside):
    out = run(HOURS, {"at": at})
    assert (out.reject is None) is inside, out.reject
    if not inside:
        assert out.reject.rule == "hours"


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (datetime(2024, 7, 1, 18, 15, tzinfo=LONDON), INSIDE),
        (datetime(2024, 7, 1, 18, 15, 0, 1, tzinfo=LONDON), OUTSIDE),
        (datetime(2024, 7, 1, 7, 45, tzinfo=UTC), INSIDE),
        (datetime(2024, 7, 1, 7, 44, 59, 999999, tzinfo=UTC), OUTSIDE),
        (datetime(2024, 1, 15, 14, 15, tzinfo=timezone(timedelta(hours=5, minutes=30))), INSIDE),
    ],
)
def test_time_window_on_datetimes(when, inside):
    assert (reason(HOURS, {"at": when}) is None) is inside


def test_time_window_reason():
    assert reason(HOURS, {"at": "2024-07-01T18:15:00.000001+01:00"}) == (
        'at is "2024-07-01T18:15:00.000001+01:00", 18:15:00.000001 in Europe/London, outside 08:45..18:15'
    )
    assert "18:15:00.000000 plus a fraction of a microsecond" in reason(
        HOURS, {"at": "2024-07-01T18:15:00.0000001+01:00"}
    )


@pytest.mark.parametrize(
    "bad", ["2024-07-01T12:00:00", "2024-07-01T12:00:00+0100", 1719835200, None, datetime(2024, 7, 1, 12)]
)
def test_time_window_rejects_what_is_not_a_timestamp(bad):
    assert rule(HOURS, {"at": bad}) == "timestamp"


def test_time_window_other_zone_and_seconds():
    v = TimeWindow(field="at", start="09:00:30", end="17:00:00.5", timezone="America/New_York")
    assert reason(v, {"at": "2024-07-01T13:00:30Z"}) is None  # 09:00:30 EDT
    assert reason(v, {"at": "2024-07-01T13:00:29.999999Z"}) is not None
    assert reason(v, {"at": "2024-07-01T21:00:00.5Z"}) is None
    assert reason(v, {"at": "2024-07-01T21:00:00.500001Z"}) is not None


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        ("2024-01-15T23:00:00Z", INSIDE),
        ("2024-01-15T22:00:00Z", INSIDE),
        ("2024-01-15T21:59:59.999999Z", OUTSIDE),
        ("2024-01-15T00:00:00Z", INSIDE),
        ("2024-01-15T06:00:00Z", INSIDE),
        ("2024-01-15T06:00:00.000001Z", OUTSIDE),
        ("2024-01-15T06:00:00.0000001Z", OUTSIDE),
        ("2024-01-15T12:00:00Z", OUTSIDE),
    ],
)
def test_time_window_across_midnight(at, inside):
    v = TimeWindow(field="at", start="22:00", end="06:00")
    assert (reason(v, {"at": at}) is None) is inside


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start": "8:45"}, "start: expected a time of day"),
        ({"end": "25:00"}, "end: expected a time of day"),
        ({"end": "18:60"}, "end: expected a time of day"),
        ({"end": "18:15:00.1234567"}, "end: expected a time of day"),
        ({"end": " 18:15"}, "end: expected a time of day"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
        ({"timezone": "../../etc/passwd"}, "timezone: unknown time zone"),
        ({"timezone": ""}, "timezone: expected an IANA time zone name"),
    ],
)
def test_time_window_bad_options_are_config_errors(options, message):
    settings = {"field": "at", "start": "08:45", "end": "18:15", **options}
    with pytest.raises(ConfigError, match=message):
        TimeWindow(**settings)


# --- not_future ---------------------------------------------------------------------------------------------

NOW = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


@pytest.mark.parametrize(
    ("at", "accepted"),
    [
        ("2024-07-01T12:01:00Z", True),
        ("2024-07-01T12:01:00.000001Z", False),
        ("2024-07-01T13:01:00+01:00", True),
        ("2024-07-01T13:01:00.000001+01:00", False),
        ("2024-07-01T17:31:00+05:30", True),
        ("2024-07-01T11:00:00Z", True),
        ("2000-01-01T00:00:00Z", True),
        ("9999-12-31T23:59:59-23:59", False),
        ("0001-01-01T00:00:00+23:59", True),
    ],
)
def test_not_future_tolerance(at, accepted):
    v = NotFuture(field="at", clock=fixed_clock)
    assert (reason(v, {"at": at}) is None) is accepted


def test_not_future_reason_and_rule():
    out = run(NotFuture(field="at", tolerance=1, clock=fixed_clock), {"at": "2024-07-01T12:00:01.5Z"})
    assert out.reject.rule == "future"
    assert out.reject.reason == 'at is "2024-07-01T12:00:01.5Z", 1.5 s in the future (tolerance 1 s)'


def test_not_future_on_datetimes_and_other_tolerances():
    v = NotFuture(field="at", tolerance=0, clock=fixed_clock)
    assert reason(v, {"at": NOW}) is None
    assert reason(v, {"at": NOW + timedelta(microseconds=1)}) is not None
    assert reason(NotFuture(field="at", tolerance=-5, clock=fixed_clock), {"at": NOW}) is not None
    assert rule(v, {"at": datetime(2024, 7, 1)}) == "timestamp"  # naive
    assert rule(v, {"at": 1719835200}) == "timestamp"


def test_not_future_default_clock_is_now():
    v = NotFuture(field="at")
    assert reason(v, {"at": datetime.now(UTC).isoformat()}) is None
    assert reason(v, {"at": (datetime.now(UTC) + timedelta(seconds=120)).isoformat()}) is not None
    assert repr(v) == "NotFuture(field='at')"


def test_not_future_bad_tolerance():
    with pytest.raises(ConfigError, match="tolerance: expected a finite number"):
        NotFuture(field="at", tolerance=float("inf"))
    with pytest.raises(ConfigError, match=r"tolerance: .* out of range"):
        NotFuture(field="at", tolerance=1e300)


# --- debounce -----------------------------------------------------------------------------------------------


def press(at: str, site: str = "3", val: int = 2) -> dict[str, object]:
    return {"at": at, "site": site, "val": val}


def test_debounce_rejects_a_stuck_button_within_the_window():
    v = Debounce(fields=["site", "val"], window=1.0, time_field="at")
    v.open()
    assert reason(v, press("2024-07-01T12:00:00Z")) is None
    out = run(v, press("2024-07-01T12:00:00.5Z"))
    assert out.reject.rule == "debounce"
    assert out.reject.reason == 'a repeat of site="3", val=2 0.5 s after an accepted one (window 1 s)'
    assert reason(v, press("2024-07-01T12:00:01Z")) is not None  # 1 s after the accepted one: still inside
    assert reason(v, press("2024-07-01T12:00:01.000001Z")) is None
    assert reason(v, press("2024-07-01T12:00:01.2Z", val=3)) is None  # another value
    assert reason(v, press("2024-07-01T12:00:01.2Z", site="4")) is None  # another site
    assert reason(v, press("2024-07-01T12:00:01.2Z", val=True)) is None  # true is not 1


def test_debounce_state_is_cleared_by_open_and_close():
    v = Debounce(fields=["site"], window=10, time_field="at")
    assert reason(v, press("2024-07-01T12:00:00Z")) is None
    v.close()
    assert reason(v, press("2024-07-01T12:00:00Z")) is None
    v.open()
    assert reason(v, press("2024-07-01T12:00:00Z")) is None


def test_debounce_with_the_clock_and_unreadable_times():
    ticks = iter([0.0, 0.4, 2.0])
    v = Debounce(fields=["site"], window=1, clock=lambda: next(ticks))
    assert [run(v, {"site": "3"}).reject is None for _ in range(3)] == [True, False, True]
    w = Debounce(fields=["site"], window=1, time_field="at")
    assert reason(w, {"site": "3", "at": "garbage"}) is None
    assert reason(w, {"site": "3", "at": "garbage"}) is None  # not remembered: passes again
    assert reason(w, {"site": "3", "at": 100}) is None
    assert reason(w, {"site": "3", "at": 100.5}) is not None


def test_debounce_bad_options():
    with pytest.raises(ConfigError, match="window: expected a positive number"):
        Debounce(fields=["site"], window=0)
    with pytest.raises(ConfigError, match="fields: expected a non-empty list"):
        Debounce(fields=[], window=1)
