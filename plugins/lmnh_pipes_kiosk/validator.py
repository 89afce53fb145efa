"""The ``kiosk`` validator: the museum's eight rules of ``docs/museum.md``, checked in order.

Each rejection names the rule that failed (``reject.rule``) and says which key held which value:

=============  ==============================================================================================
``json``       the raw bytes are not one strict UTF-8 JSON object (BOM, NaN, Python literals, duplicate keys)
``keys``       a missing or unexpected key; ``type`` on anything but a request (``val`` -1); a request without it
``types``      ``site`` is not a canonical decimal string; ``val`` or ``type`` is not a JSON integer
``values``     ``val`` outside -1..4, ``type`` outside 0..1
``exhibition`` ``site`` names no exhibition of the catalogue
``timestamp``  ``at`` is not an RFC 3339 string with an offset
``hours``      ``at``, in the museum's zone, is outside the opening hours (both ends inclusive)
``future``     ``at`` is later than now plus ``max_future_seconds``
``debounce``   (optional, off by default) a repeat of the previous accepted press of that site
=============  ==============================================================================================

Rating or request? A message is a request exactly when ``val`` is the JSON integer -1. So a ``type`` key beside
any other ``val`` (a rating's 0..4, or a bad one such as ``"INF"`` or 7) fails the ``keys`` rule, whose reason
quotes both values. Within a rule, keys are checked in the order ``at, site, val, type`` and the first fault is
reported. ``at`` that is not a string fails the ``timestamp`` rule (rule 3 is about ``site``, ``val``, ``type``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs

from lmnh_pipes import (
    DecodeError,
    Record,
    decode_object,
    describe_value,
    option_doc,
    parse_rfc3339_exact,
    parse_time_of_day,
    parse_time_zone,
    show_names,
    show_value,
)

from .exhibitions import DEFAULT_PATTERN, Exhibitions, exhibition_id, load_exhibitions

__all__ = ["KioskValidator"]

_RATING_KEYS: Final = ("at", "site", "val")
_ALLOWED: Final = frozenset(("at", "site", "val", "type"))
_SITE: Final = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_KEY_HINT: Final = " (a rating has exactly at, site and val; a request also has type)"

# The producer's own spelling (json.dumps defaults, isoformat with an in-range offset). A message that matches is
# valid JSON with exactly these keys and no duplicates, so rules 1 and 3 hold and only rule 2's rating/request
# pairing is left. An `at` of the producer's shape (from these bytes or from a decoded mapping) is parsed with
# datetime.fromisoformat, which gives the same instant as parse_rfc3339_exact for this shape (tests check it), and
# checked against a per-hour cache. Everything else takes the general path: decode_object, parse_rfc3339_exact.
_AT: Final = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{6})?"
    r"[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]"
)
_INT: Final = r"(?:0|[1-9][0-9]{0,17})"
_FAST: Final = re.compile(
    f'\\{{"at": "({_AT})", "site": "({_INT})", "val": (-?{_INT})(?:, "type": (-?{_INT}))?\\}}'.encode()
)
_CANONICAL_AT: Final = re.compile(_AT, re.ASCII)
_fromisoformat: Final = datetime.fromisoformat
_LAST_OF_HOUR: Final = timedelta(hours=1, microseconds=-1)
_END_OF_TIME: Final = datetime.max.replace(tzinfo=UTC)
_HOURS_KEPT: Final = 100_000
_MAX_TOLERANCE: Final = 1e9  # about 31 years; "now" plus much more would not be a date


def _is_integer(value: Any) -> bool:
    """A JSON integer: an int, not a bool (JSON ``true``) and not a float (JSON ``3.0``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _non_negative(option: str, value: float | None) -> None:
    if value is not None and not value >= 0:  # also refuses NaN
        raise ValueError(f"{option}: expected a number >= 0, found {value!r}")


@attrs.define(kw_only=True)
class KioskValidator:
    """The museum kiosk rules: keys, types, values, exhibition, RFC 3339 time, opening hours, not in the future.

    Works alone on raw bytes, or after the ``json`` validator on a decoded mapping. An accepted record's value is
    ``{"at": datetime, "site": "3", "val": 2, "type": None, "kind": "rating", "exhibition": "EXH_03"}``.
    ``clock`` (a callable returning an aware "now") is for tests. Options: ``docs/validators.md``.
    """

    catalogue: str = attrs.field(
        metadata=option_doc("a folder or s3://bucket/prefix/ holding the exhibition files; or a glob, or one file")
    )
    catalogue_pattern: str = attrs.field(
        default=DEFAULT_PATTERN, metadata=option_doc("the base names of the exhibition files")
    )
    opening: str = attrs.field(
        default="08:45", alias="open", metadata=option_doc("opening time, HH:MM[:SS[.ffffff]], inclusive")
    )
    closing: str = attrs.field(
        default="18:15", alias="close", metadata=option_doc("closing time, HH:MM[:SS[.ffffff]], inclusive")
    )
    timezone: str = attrs.field(default="Europe/London", metadata=option_doc("the IANA time zone of the opening hours"))
    max_future_seconds: float = attrs.field(
        default=60.0, metadata=option_doc("how far ahead of our clock a kiosk's clock may be")
    )
    debounce_seconds: float | None = attrs.field(
        default=None, metadata=option_doc("reject a press repeating its site's previous one within this many seconds")
    )
    name: str = attrs.field(default="kiosk", metadata=option_doc("what a rejection carries as reject.validator"))
    clock: Callable[[], datetime] = attrs.field(
        default=functools.partial(datetime.now, UTC),
        repr=False,
        metadata=option_doc("for tests: a function returning an aware now"),
    )

    _open_t: time = attrs.field(init=False, repr=False)
    _close_t: time = attrs.field(init=False, repr=False)
    _zone: ZoneInfo = attrs.field(init=False, repr=False)
    _tolerance: timedelta = attrs.field(init=False, repr=False)
    _window: str = attrs.field(init=False, repr=False)
    _exhibitions: Exhibitions | None = attrs.field(default=None, init=False, repr=False)
    _sites: dict[str, str] | None = attrs.field(default=None, init=False, repr=False)
    _last: dict[str, tuple[int, int | None, datetime]] = attrs.field(factory=dict, init=False, repr=False)
    _hours: dict[str, tuple[bool, datetime, datetime]] = attrs.field(factory=dict, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._open_t = parse_time_of_day(self.opening, "open")
        self._close_t = parse_time_of_day(self.closing, "close")
        if self._open_t > self._close_t:
            raise ValueError(f"open: {self.opening!r} is after close {self.closing!r}")
        self._zone = parse_time_zone(self.timezone, "timezone")
        _non_negative("max_future_seconds", self.max_future_seconds)
        _non_negative("debounce_seconds", self.debounce_seconds)
        if self.max_future_seconds > _MAX_TOLERANCE:
            raise ValueError(
                f"max_future_seconds: expected at most {_MAX_TOLERANCE:g}, found {self.max_future_seconds!r}"
            )
        self._tolerance = timedelta(seconds=self.max_future_seconds)
        window = f"{self._open_t.isoformat()}..{self._close_t.isoformat()}"
        self._window = f"in {self.timezone}, outside opening hours {window}"

    @property
    def exhibitions(self) -> Exhibitions:
        """The loaded catalogue (loaded now if :meth:`open` was not called)."""
        if self._exhibitions is None:
            self.open()
        assert self._exhibitions is not None
        return self._exhibitions

    def check(self) -> None:
        """For a local catalogue, check that it holds exhibitions (an S3 one is checked by ``check --online``)."""
        if "://" not in self.catalogue:
            load_exhibitions(self.catalogue, self.catalogue_pattern)

    def check_online(self) -> None:
        """Read the catalogue, wherever it is."""
        load_exhibitions(self.catalogue, self.catalogue_pattern)

    def open(self) -> None:
        """Load the catalogue. Raises :class:`~lmnh_pipes.ConfigError` if it is missing or holds no exhibition."""
        self._exhibitions = load_exhibitions(self.catalogue, self.catalogue_pattern)
        self._sites = self._exhibitions.by_site
        self._last.clear()

    def close(self) -> None:
        """Forget the de-bounce memory (the catalogue stays loaded)."""
        self._last.clear()

    def validate(self, record: Record) -> Record:
        """Accept ``record`` with its typed value, or reject it naming the first rule that fails."""
        if self._sites is None:
            self.open()
        value = record.value
        if value is None:
            raw = record.raw
            if type(raw) is not bytes:
                if isinstance(raw, bytearray | memoryview):
                    raw = bytes(raw)
                elif not isinstance(raw, str):
                    return record.rejected_by(self.name, f"expected bytes, found {type(raw).__name__}", "json")
            m = _FAST.fullmatch(raw) if type(raw) is bytes else None
            if m is not None:
                at, site, val_text, type_text = m.groups()
                val = int(val_text)
                typ = None if type_text is None else int(type_text)
                if (typ is None) is (val == -1):
                    return record.rejected_by(self.name, _pairing(val, typ is not None, typ) or "", "keys")
                return self._check(record, at.decode(), site.decode(), val, typ, True)
            try:
                value = decode_object(raw)
            except (ValueError, RecursionError) as exc:  # DecodeError, and int() past the digit limit
                reason = str(exc) if isinstance(exc, DecodeError) else f"not valid JSON: {exc}"
                return record.rejected_by(self.name, reason or type(exc).__name__, "json")
        elif type(value) is dict:
            # After the json validator. The usual message takes this shortcut: exactly the keys of a rating or a
            # request, JSON types, a known site (the catalogue's sites are canonical: str(int(...))), and the
            # rating/request pairing right. Anything else is checked key by key.
            known: dict[str, str] = self._sites  # type: ignore[assignment] # opened above
            v, site, at = value.get("val"), value.get("site"), value.get("at")
            if type(v) is int and type(site) is str and type(at) is str and site in known:
                n = len(value)
                t = value.get("type") if n == 4 else None
                if (n == 3 and v != -1) or (n == 4 and v == -1 and type(t) is int):
                    return self._check(record, at, site, v, t, _CANONICAL_AT.fullmatch(at) is not None)
        elif not isinstance(value, Mapping):
            return record.rejected_by(self.name, f"expected a JSON object, found {describe_value(value)}", "json")
        return self._check_mapping(record, value)

    def _check_mapping(self, record: Record, value: Mapping[Any, Any]) -> Record:
        # Rule 2: keys.
        missing = [k for k in _RATING_KEYS if k not in value]
        extra = [k for k in value if k not in _ALLOWED]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing key{'s' if len(missing) > 1 else ''} {show_names(missing)}")
            if extra:
                parts.append(f"unexpected key{'s' if len(extra) > 1 else ''} {show_names(extra)}")
            return record.rejected_by(self.name, "; ".join(parts) + _KEY_HINT, "keys")
        val = value["val"]
        has_type = "type" in value
        typ = value["type"] if has_type else None
        pairing = _pairing(val, has_type, typ)
        if pairing is not None:
            return record.rejected_by(self.name, pairing, "keys")
        # Rule 3: types.
        site = value["site"]
        if not isinstance(site, str) or _SITE.fullmatch(site) is None:
            if not isinstance(site, str):
                reason = f"site must be a JSON string, found {describe_value(site)}"
            else:
                reason = (
                    f'site {show_value(site)} is not a canonical decimal integer such as "3" '
                    "(ASCII digits only: no sign, space, leading zero or prefix)"
                )
            return record.rejected_by(self.name, reason, "types")
        if not _is_integer(val):
            return record.rejected_by(self.name, f"val must be a JSON integer, found {describe_value(val)}", "types")
        if has_type and not _is_integer(typ):
            return record.rejected_by(self.name, f"type must be a JSON integer, found {describe_value(typ)}", "types")
        at = value["at"]
        canonical = isinstance(at, str) and _CANONICAL_AT.fullmatch(at) is not None
        return self._check(record, at, site, val, typ, canonical)

    def _check(self, record: Record, at: Any, site: str, val: int, typ: int | None, canonical: bool) -> Record:
        """Rules 4 to 8 (and de-bounce) once the keys and types are right."""
        sites = self._sites
        assert sites is not None
        exhibition = sites.get(site)
        if (
            canonical
            and exhibition is not None
            and -1 <= val <= 4
            and (typ is None or 0 <= typ <= 1)
            and self.debounce_seconds is None
        ):
            # The usual message: an hour already seen, wholly inside opening hours, and over before now plus the
            # tolerance. Every rule holds; the general path below would give the same record.
            seen = self._hours.get(at[:13] + at[-6:])
            if seen is not None and seen[0] and seen[2] <= self.clock():
                try:
                    instant = _fromisoformat(at)
                except ValueError:  # a day that does not exist: the general path says so
                    pass
                else:
                    kind = "rating" if typ is None else "request"
                    return record.with_value(
                        {"at": instant, "site": site, "val": val, "type": typ, "kind": kind, "exhibition": exhibition}
                    )
        name = self.name
        # Rule 4: values.
        if not -1 <= val <= 4:
            reason = f"val {show_value(val)} is out of range -1..4 (-1 a request, 0..4 a rating)"
            return record.rejected_by(name, reason, "values")
        if typ is not None and not 0 <= typ <= 1:
            reason = f"type {show_value(typ)} is out of range 0..1 (0 assistance, 1 emergency)"
            return record.rejected_by(name, reason, "values")
        # Rule 5: exhibition.
        if exhibition is None:
            return record.rejected_by(name, self._unknown_site(site), "exhibition")
        # Rule 6: timestamp.
        if not isinstance(at, str):
            return record.rejected_by(name, f"at must be a JSON string, found {describe_value(at)}", "timestamp")
        when: datetime | None = None
        beyond = False
        hour: tuple[bool, datetime, datetime] | None = None
        if canonical:
            try:
                when = _fromisoformat(at)
            except ValueError:  # a day that does not exist: let the strict parser say so
                when = None
            else:
                hour = self._hours.get(at[:13] + at[-6:]) or self._hour(at[:13] + at[-6:], when)
        if when is None:
            try:
                when, beyond = parse_rfc3339_exact(at)
            except ValueError as exc:
                return record.rejected_by(name, f"at {show_value(at)}: {exc}", "timestamp")
        # Rule 7: opening hours, in the museum's zone, to the microsecond.
        if hour is None or not hour[0]:
            try:
                wall = when.astimezone(self._zone).time()
            except (OverflowError, ValueError):
                reason = f"at {show_value(at)} cannot be converted to {self.timezone}: out of the supported date range"
                return record.rejected_by(name, reason, "hours")
            if wall < self._open_t or wall > self._close_t or (beyond and wall == self._close_t):
                shown = wall.isoformat() + (" and a fraction of a microsecond" if beyond else "")
                return record.rejected_by(name, f"at {show_value(at)} is {shown} {self._window}", "hours")
        # Rule 8: not in the future. (In UTC: comparing datetimes of two time zones is much slower.)
        now = self.clock()
        limit = now + self._tolerance
        if hour is None or hour[1] > limit:
            instant = when.astimezone(UTC)
            if instant > limit or (beyond and instant == limit):
                ahead = (when - now).total_seconds()
                reason = (
                    f"at {show_value(at)} is {ahead:.6f} s ahead of now ({now.isoformat()}), "
                    f"more than the {self.max_future_seconds:g} s allowed"
                )
                return record.rejected_by(name, reason, "future")
        if self.debounce_seconds is not None:
            repeat = self._repeat(site, val, typ, when)
            if repeat is not None:
                return record.rejected_by(name, repeat, "debounce")
        kind = "rating" if typ is None else "request"
        return record.with_value(
            {"at": when, "site": site, "val": val, "type": typ, "kind": kind, "exhibition": exhibition}
        )

    def _hour(self, key: str, when: datetime) -> tuple[bool, datetime, datetime]:
        """For the hour of ``when`` (in its own offset): is all of it in opening hours, its last instant in UTC, and
        that instant minus the future tolerance (once "now" has passed it, no instant of the hour is in the future).
        A canonical ``at`` is checked against this cache, keyed by its text up to the hour and its offset; an hour
        that is not wholly inside (or holds a change of the museum's offset), or that ends after the future limit,
        is checked exactly."""
        start = when.replace(minute=0, second=0, microsecond=0)
        end = start + _LAST_OF_HOUR
        try:
            first, last = start.astimezone(self._zone), end.astimezone(self._zone)
            end_utc = end.astimezone(UTC)
            entry = (
                first.utcoffset() == last.utcoffset()
                and first.date() == last.date()
                and self._open_t <= first.time()
                and last.time() <= self._close_t,
                end_utc,
                end_utc - self._tolerance,
            )
        except (OverflowError, ValueError):
            entry = (False, _END_OF_TIME, _END_OF_TIME)
        if len(self._hours) >= _HOURS_KEPT:
            self._hours.clear()
        self._hours[key] = entry
        return entry

    def _unknown_site(self, site: str) -> str:
        assert self._sites is not None
        known = sorted(self._sites.values())
        listed = ", ".join(known) if len(known) <= 12 else f"{len(known)} exhibitions"
        names = f"names {exhibition_id(site)}, which is" if len(site) <= 18 else "names an exhibition"
        return f"site {show_value(site)} {names} not in the catalogue ({listed})"

    def _repeat(self, site: str, val: int, typ: int | None, when: datetime) -> str | None:
        assert self.debounce_seconds is not None
        last = self._last.get(site)
        if last is not None and last[0] == val and last[1] == typ:
            gap = abs((when - last[2]).total_seconds())
            if gap <= self.debounce_seconds:
                return (
                    f"site {show_value(site)} repeats val {val}{'' if typ is None else f' type {typ}'} "
                    f"{gap:.6f} s after its previous accepted press ({last[2].isoformat()}), within the "
                    f"{self.debounce_seconds:g} s de-bounce window: a stuck button?"
                )
        self._last[site] = (val, typ, when)
        return None


def _pairing(val: Any, has_type: bool, typ: Any) -> str | None:
    """Rule 2's last part: ``type`` exactly on a request, which is ``val`` equal to the JSON integer -1."""
    request = _is_integer(val) and val == -1
    if has_type and not request:
        if _is_integer(val) and 0 <= val <= 4:
            return f"key 'type' is not allowed on a rating (val {val}), found type {show_value(typ)}"
        return (
            f"key 'type' is only allowed on a request (val -1), found type {show_value(typ)} "
            f"beside val {describe_value(val)}"
        )
    if request and not has_type:
        return "a request (val -1) needs key 'type' (0 assistance or 1 emergency)"
    return None
