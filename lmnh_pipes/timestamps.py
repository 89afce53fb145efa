"""Strict RFC 3339 timestamps: ``2024-10-21T09:21:24.254719+01:00``.

Accepted: ``T`` or a space between date and time, any number of fractional digits or none, and ``Z`` or
``+HH:MM`` / ``-HH:MM``. Refused: a naive time, ``+0000``, lower-case ``t``/``z``, stray whitespace, non-ASCII
digits, and out-of-range fields. Digits past the microsecond are kept as a flag, so that a window check can
tell ``18:15:00.0000001`` from ``18:15:00``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["TimestampError", "parse_rfc3339", "parse_rfc3339_exact"]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_OFFSETS: dict[tuple[str, int, int], timezone] = {}


class TimestampError(ValueError):
    """Not an RFC 3339 timestamp with an offset; the message says why."""


def parse_rfc3339(text: str) -> datetime:
    """Parse ``text`` into an aware datetime (digits past the microsecond are truncated)."""
    return parse_rfc3339_exact(text)[0]


def parse_rfc3339_exact(text: str) -> tuple[datetime, bool]:
    """Parse ``text``; also return True when non-zero digits past the microsecond were truncated."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise TimestampError(_why(text))
    # Fast path: the regex has checked the strict syntax, and for such text datetime.fromisoformat (much
    # faster) gives the same instant, truncating past the microsecond. It would also read hour 24 (newer
    # Pythons: the next midnight) and offset minutes 60+ ("-12:60" as -13:00), which are refused here, so those
    # go the exact way, as does whatever fromisoformat refuses (for its precise reason).
    if text[11:13] != "24" and (text[-1] == "Z" or text[-2:] < "60"):
        try:
            frac = m.group(7)
            return datetime.fromisoformat(text), bool(frac and frac[6:].strip("0"))
        except ValueError:
            pass
    return _parse_match(m)


def _parse_match(m: re.Match[str]) -> tuple[datetime, bool]:
    """The exact (slow) reading of a match of ``_RFC3339``, with a precise reason for every refusal."""
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    frac = m.group(7) or ""
    micro = int(frac[:6].ljust(6, "0")) if frac else 0
    beyond = bool(frac[6:].strip("0"))
    if m.group(8):
        tz: timezone = UTC
    else:
        sign, oh, om = m.group(9), int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise TimestampError(f"offset {sign}{oh:02d}:{om:02d} is out of range")
        key = (sign, oh, om)
        tz = _OFFSETS.get(key) or _OFFSETS.setdefault(
            key, timezone((-1 if sign == "-" else 1) * timedelta(hours=oh, minutes=om))
        )
    if second == 60:
        raise TimestampError("a leap second (:60) is not supported")
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz), beyond
    except ValueError as exc:
        raise TimestampError(f"not a real date and time: {exc}") from None


def _why(text: str) -> str:
    if text != text.strip():
        return "has leading or trailing whitespace"
    if not text:
        return "is empty"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?", text, re.ASCII):
        return "has no UTC offset (a naive time)"
    if re.search(r"[+-]\d{4}$", text):
        return "offset must be written +HH:MM, not +HHMM"
    return "is not an RFC 3339 timestamp with an offset (YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM))"
