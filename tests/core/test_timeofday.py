"""Times of day and time zones given as options."""

from __future__ import annotations

from datetime import time

import pytest

from lmnh_pipes import ConfigError, parse_time_of_day, parse_time_zone


@pytest.mark.parametrize(
    ("text", "want"),
    [("08:45", time(8, 45)), ("23:59:59", time(23, 59, 59)), ("18:14:59.5", time(18, 14, 59, 500_000))],
)
def test_times_of_day(text: str, want: time) -> None:
    assert parse_time_of_day(text, "start") == want


@pytest.mark.parametrize("text", ["8:45", "24:00", "18:60", " 18:15", "18:15:00Z", "18:15:00.1234567", 1845, None])
def test_not_times_of_day(text: object) -> None:
    with pytest.raises(ValueError, match=r"^start: expected a time of day HH:MM or HH:MM:SS, found ") as exc:
        parse_time_of_day(text, "start")
    assert not isinstance(exc.value, ConfigError)  # the caller decides what kind of error it is


def test_time_zones() -> None:
    assert str(parse_time_zone("Europe/London", "tz")) == "Europe/London"
    with pytest.raises(ValueError, match=r"^tz: unknown time zone 'Mars/Olympus' \(expected an IANA name"):
        parse_time_zone("Mars/Olympus", "tz")
    for bad in ("", None, 3):
        with pytest.raises(ValueError, match=r"^tz: expected an IANA time zone name such as 'Europe/London'"):
            parse_time_zone(bad, "tz")
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_time_zone("../../etc/passwd", "tz")
