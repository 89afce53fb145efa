"""The time rules: ``timestamp``, ``time_window``, ``not_future`` and ``debounce``."""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs

from lmnh_pipes import (
    FieldPath,
    Record,
    TimestampError,
    describe_value,
    option_doc,
    parse_rfc3339,
    parse_rfc3339_exact,
    parse_time_of_day,
    parse_time_zone,
    show_value,
)
from lmnh_pipes.records import MISSING

from .base import FieldRule, Rule, check_number, config_error
from .conditions import canonical

__all__ = ["Debounce", "NotFuture", "TimeWindow", "Timestamp"]


def _aware(item: Any, field: str) -> tuple[datetime, bool] | str:
    """An aware datetime from a datetime or an RFC 3339 string, with the "digits past the microsecond" flag;
    or the reason why not."""
    if isinstance(item, datetime):
        if item.utcoffset() is None:
            return f"{field} is {show_value(item)}, a naive datetime (no UTC offset)"
        return item, False
    if isinstance(item, str):
        try:
            return parse_rfc3339_exact(item)
        except TimestampError as exc:
            return f"{field} is {show_value(item)}, which {exc}"
    return f"{field} is {describe_value(item)}, expected an RFC 3339 timestamp string"


@attrs.frozen(kw_only=True, repr=False)
class Timestamp(FieldRule):
    """Parse the field, an RFC 3339 timestamp string with an offset, into an aware datetime that replaces it.

    Strict: ``T`` or space, any number of fractional digits, ``Z`` or ``+HH:MM``. A naive time, ``+0000`` or
    stray whitespace is rejected, and so is anything but a string (an aware datetime passes unchanged).
    """

    name: str = "timestamp"
    _writes_field = True

    def _check_value(self, record: Record, value: Mapping[str, Any], item: Any) -> Record:
        if type(item) is str:
            try:
                return self._replaced(record, value, parse_rfc3339(item))
            except TimestampError as exc:
                return record.rejected_by(self.name, f"{self.field} is {show_value(item)}, which {exc}", "timestamp")
        parsed = _aware(item, self.field)
        if isinstance(parsed, str):
            return record.rejected_by(self.name, parsed, "timestamp")
        return record if parsed[0] is item else self._replaced(record, value, parsed[0])


@attrs.frozen(kw_only=True, repr=False)
class TimeWindow(FieldRule):
    """The time of day of the field, in ``timezone``, lies in ``start`` .. ``end``, both inclusive.

    The field is an aware datetime or an RFC 3339 string (parsed here). ``start``/``end`` are ``HH:MM`` or
    ``HH:MM:SS[.ffffff]``; when ``start`` is later than ``end`` the window spans midnight. The ends are exact to
    the microsecond, and a string with non-zero digits past the microsecond is later than its truncation: put
    this rule before ``timestamp`` to keep that precision (``18:15:00.0000001`` is after ``18:15:00``).
    """

    name: str = "time_window"
    start: str = attrs.field(metadata=option_doc("HH:MM, HH:MM:SS or HH:MM:SS.ffffff, inclusive"))
    end: str = attrs.field(metadata=option_doc("as start, inclusive; before start, the window spans midnight"))
    timezone: str = attrs.field(default="Europe/London", metadata=option_doc("an IANA time zone name"))
    _zone: ZoneInfo = attrs.field(init=False, eq=False)
    _start: time = attrs.field(init=False, eq=False)
    _end: time = attrs.field(init=False, eq=False)
    _wraps: bool = attrs.field(init=False, eq=False)

    def _prepare(self) -> None:
        super()._prepare()
        start = parse_time_of_day(self.start, "start")
        end = parse_time_of_day(self.end, "end")
        object.__setattr__(self, "_zone", parse_time_zone(self.timezone, "timezone"))
        object.__setattr__(self, "_start", start)
        object.__setattr__(self, "_end", end)
        object.__setattr__(self, "_wraps", start > end)

    def _check_value(self, record: Record, value: Mapping[str, Any], item: Any) -> Record:
        if type(item) is str:
            try:
                when, beyond = parse_rfc3339_exact(item)
            except TimestampError as exc:
                return record.rejected_by(self.name, f"{self.field} is {show_value(item)}, which {exc}", "timestamp")
        else:
            parsed = _aware(item, self.field)
            if isinstance(parsed, str):
                return record.rejected_by(self.name, parsed, "timestamp")
            when, beyond = parsed
        try:
            local = when.astimezone(self._zone)
        except (OverflowError, ValueError):  # 0001-01-01T00:00:00+01:00 has no UTC equivalent
            return record.rejected_by(self.name, f"{self.field} is {show_value(item)}, out of range", "timestamp")
        t = local.time()
        end = self._end
        if self._wraps:
            inside = t >= self._start or t < end or (t == end and not beyond)
        else:
            inside = self._start <= t < end or (t == end and not beyond)
        if inside:
            return record
        shown = t.isoformat(timespec="microseconds") + (" plus a fraction of a microsecond" if beyond else "")
        reason = f"{self.field} is {show_value(item)}, {shown} in {self.timezone}, outside {self.start}..{self.end}"
        return record.rejected_by(self.name, reason, "hours")


def _secs(seconds: float) -> str:
    return f"{seconds:.6f}".rstrip("0").rstrip(".")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen(kw_only=True, repr=False)
class NotFuture(FieldRule):
    """The field (an aware datetime, or an RFC 3339 string) is no later than now plus ``tolerance`` seconds.

    ``clock`` (Python only, not a pipeline option) returns "now" as an aware datetime; tests inject a fixed one.
    """

    name: str = "not_future"
    tolerance: float = attrs.field(default=60.0, metadata=option_doc("seconds the field may be ahead of the clock"))
    clock: Callable[[], datetime] = attrs.field(
        default=_utc_now, repr=False, eq=False, metadata=option_doc("for tests: a function returning an aware now")
    )
    _tolerance: timedelta = attrs.field(init=False, eq=False)

    def _prepare(self) -> None:
        super()._prepare()
        check_number("tolerance", self.tolerance)
        try:
            object.__setattr__(self, "_tolerance", timedelta(seconds=self.tolerance))
        except OverflowError:
            raise config_error("tolerance", f"{self.tolerance!r} seconds is out of range") from None

    def _check_value(self, record: Record, value: Mapping[str, Any], item: Any) -> Record:
        parsed = _aware(item, self.field)
        if isinstance(parsed, str):
            return record.rejected_by(self.name, parsed, "timestamp")
        ahead = parsed[0] - self.clock()  # a subtraction is faster than comparing two aware datetimes
        if ahead <= self._tolerance:
            return record
        seconds = _secs(ahead.total_seconds())
        reason = f"{self.field} is {show_value(item)}, {seconds} s in the future (tolerance {_secs(self.tolerance)} s)"
        return record.rejected_by(self.name, reason, "future")


#: Debounce forgets keys older than its window once its memory holds this many.
_MAX_KEYS: Final = 10_000


def _seconds(item: Any) -> float | None:
    try:
        if isinstance(item, str):
            item = parse_rfc3339(item)
        if isinstance(item, datetime):
            return item.timestamp() if item.utcoffset() is not None else None
        if isinstance(item, int | float) and not isinstance(item, bool) and math.isfinite(item):
            return float(item)
    except (TimestampError, OverflowError, ValueError):  # not a timestamp; or out of range in epoch seconds
        return None
    return None


@attrs.frozen(kw_only=True, repr=False)
class Debounce(Rule):
    """Reject a repeat: a record whose ``fields`` equal those of a record this rule accepted less than
    ``window`` seconds earlier (a stuck button). Stateful, so put it last.

    Time comes from ``time_field`` (an aware datetime, an RFC 3339 string, or epoch seconds), or, when that is
    not given, from ``clock`` (Python only; default ``time.monotonic``). A record whose time cannot be read passes.
    """

    name: str = "debounce"
    fields: list[str] = attrs.field(metadata=option_doc("the fields that make two records the same"))
    window: float = attrs.field(metadata=option_doc("seconds within which a repeat is rejected"))
    time_field: str | None = attrs.field(
        default=None, metadata=option_doc("the record's time (default: when it is validated)")
    )
    clock: Callable[[], float] = attrs.field(
        default=_time.monotonic, repr=False, eq=False, metadata=option_doc("for tests: a function returning seconds")
    )
    _paths: tuple[FieldPath, ...] = attrs.field(init=False, eq=False)
    _time_path: FieldPath | None = attrs.field(init=False, eq=False)
    # key -> time of the last accepted record with that key; mutated in place (the rule is frozen, its memory not).
    _last: dict[Any, float] = attrs.field(init=False, factory=dict, eq=False)

    def _prepare(self) -> None:
        if isinstance(self.fields, str) or not self.fields:
            raise config_error("fields", f"expected a non-empty list of fields, found {self.fields!r}")
        check_number("window", self.window)
        if self.window <= 0:
            raise config_error("window", f"expected a positive number of seconds, found {self.window!r}")
        paths = tuple(FieldPath.parse(f, f"fields[{i}]") for i, f in enumerate(self.fields))
        object.__setattr__(self, "_paths", paths)
        time_path = None if self.time_field is None else FieldPath.parse(self.time_field, "time_field")
        object.__setattr__(self, "_time_path", time_path)

    def open(self) -> None:
        self._last.clear()

    def close(self) -> None:
        self._last.clear()

    def _check(self, record: Record, value: Mapping[str, Any]) -> Record:
        if self._time_path is None:
            now: float | None = self.clock()
        else:
            path = self._time_path
            item = value.get(path.key, MISSING) if path.key is not None else path.resolve(record)
            now = _seconds(item)
        if now is None:
            return record
        try:
            key = tuple(canonical(p.get(record, value)) for p in self._paths)
        except (TypeError, RecursionError):
            return record
        last = self._last.get(key)
        if last is not None and abs(now - last) <= self.window:
            shown = ", ".join(f"{p}={show_value(p.get(record, value))}" for p in self._paths)
            reason = (
                f"a repeat of {shown} {_secs(abs(now - last))} s after an accepted one (window {_secs(self.window)} s)"
            )
            return record.rejected_by(self.name, reason, "debounce")
        if len(self._last) >= _MAX_KEYS:
            for k in [k for k, t in self._last.items() if abs(now - t) > self.window]:
                del self._last[k]
        self._last[key] = now
        return record
