"""Fast ``datetime.isoformat()`` spelling of instants in one time zone, for the kiosk simulator.

An instant is an integer count of microseconds since the Unix epoch (UTC). The zone's UTC offset is cached per UTC
hour when it is the same at both ends of that hour (always, for Europe/London, whose changes fall on the hour), and
computed exactly otherwise. The text is what ``datetime.isoformat()`` writes for that moment in that zone: six
fractional digits, none when the microsecond is 0, and the offset as ``+HH:MM`` (``+HH:MM:SS`` for old local mean
times).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

__all__ = ["MICROS_PER_DAY", "MICROS_PER_HOUR", "ZoneClock"]

MICROS_PER_DAY: Final = 86_400_000_000
MICROS_PER_HOUR: Final = 3_600_000_000
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_HM: Final = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]


class ZoneClock:
    """Spell instants in ``zone`` like ``datetime.isoformat()``; also give their local time of day."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._hours: dict[int, tuple[int, str] | None] = {}
        self._dates: dict[int, str] = {}

    def offset(self, utc_us: int) -> tuple[int, str]:
        """The zone's UTC offset at ``utc_us``: in microseconds, and spelled ``+01:00``."""
        hour = utc_us // MICROS_PER_HOUR
        try:
            cached = self._hours[hour]
        except KeyError:
            first = self._exact(hour * 3600)
            cached = first if first == self._exact(hour * 3600 + 3599) else None
            self._hours[hour] = cached
        return cached if cached is not None else self._exact(utc_us // 1_000_000)

    def _exact(self, utc_seconds: int) -> tuple[int, str]:
        moment = datetime.fromtimestamp(utc_seconds, self.zone)
        delta = moment.utcoffset()
        assert delta is not None
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return micros, moment.isoformat()[19:]  # a whole second: the text after the time is the offset

    def local(self, utc_us: int) -> int:
        """Local wall time as microseconds since 1970-01-01 00:00 local."""
        return utc_us + self.offset(utc_us)[0]

    def to_utc(self, local_us: int, hint_utc_us: int) -> int:
        """The instant whose local wall time is ``local_us``, using the offset in force near ``hint_utc_us``
        (for a wall time in a gap or a fold this picks one of the candidates)."""
        guess = local_us - self.offset(hint_utc_us)[0]
        return local_us - self.offset(guess)[0]

    def spell(self, utc_us: int) -> tuple[str, int]:
        """``(isoformat text, local time of day in microseconds)`` for the instant ``utc_us``."""
        off_us, off_text = self.offset(utc_us)
        day, tod = divmod(utc_us + off_us, MICROS_PER_DAY)
        day_text = self._dates.get(day)
        if day_text is None:
            day_text = self._dates[day] = date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        seconds, micro = divmod(tod, 1_000_000)
        minutes, second = divmod(seconds, 60)
        if micro:
            return f"{day_text}T{_HM[minutes]}{second:02d}.{micro:06d}{off_text}", tod
        return f"{day_text}T{_HM[minutes]}{second:02d}{off_text}", tod
