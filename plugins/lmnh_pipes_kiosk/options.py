"""Parsing the kiosk options that are not plain numbers: times of day and time zones.

Each parser raises ``ValueError`` naming the option, which the config layer reports (exit 2) at the option's key.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["parse_time_of_day", "parse_zone"]

_TIME: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(?:\.([0-9]{1,6}))?)?", re.ASCII)


def parse_time_of_day(option: str, text: str) -> time:
    """``"08:45"``, ``"08:45:30"`` or ``"08:45:30.5"`` as a time of day."""
    m = _TIME.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"{option}: expected a time of day HH:MM or HH:MM:SS, found {text!r}")
    micros = int((m.group(4) or "").ljust(6, "0"))
    return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), micros)


def parse_zone(option: str, name: str) -> ZoneInfo:
    """An IANA time zone (``Europe/London``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValueError(
            f"{option}: unknown time zone {name!r} (expected an IANA name such as 'Europe/London')"
        ) from None
