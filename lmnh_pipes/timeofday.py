"""Times of day and time zones given as options: ``"08:45"``, ``"18:15:30.5"``, ``"Europe/London"``.

Each parser raises ``ValueError`` whose message starts with the option's name, so that the configuration layer
reports it at that option's key (exit 2). A component that wants a :class:`~lmnh_pipes.ConfigError` wraps it.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["parse_time_of_day", "parse_time_zone"]

_TIME_OF_DAY: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(?:\.([0-9]{1,6}))?)?", re.ASCII)


def parse_time_of_day(text: Any, option: str) -> time:
    """``"08:45"``, ``"08:45:30"`` or ``"08:45:30.5"`` (up to six fractional digits) as a time of day.

    Raises ``ValueError`` naming ``option`` for anything else: ``8:45``, ``24:00``, a time zone, spaces.
    """
    m = _TIME_OF_DAY.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"{option}: expected a time of day HH:MM or HH:MM:SS, found {text!r}")
    hour, minute, second, fraction = m.groups()
    return time(int(hour), int(minute), int(second or 0), int((fraction or "").ljust(6, "0")))


def parse_time_zone(name: Any, option: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``"Europe/London"``). Raises ``ValueError`` naming ``option`` if there is none."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{option}: expected an IANA time zone name such as 'Europe/London', found {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{option}: unknown time zone {name!r} (expected an IANA name such as 'Europe/London')"
        ) from None
