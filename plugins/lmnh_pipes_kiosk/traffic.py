"""The kiosk traffic generator behind ``kiosk_simulator``, with the known truth of every message.

The mix (defaults from the live sample in ``docs/museum.md``): each message is a valid request with probability
``request_share`` (0.025; an emergency with probability ``emergency_share`` among requests), an invalid message with
probability ``invalid_share`` (0.168), and otherwise a valid rating (0.807). An invalid message's kind is drawn from
``invalid_kinds`` with probability proportional to the kind's weight in :data:`KINDS`. The weights of the default
kinds are the sample's shares in percent of all messages; the sample's "bad type" 4.2 is split into ``bad_type``
3.6 and ``request_without_type`` 0.6, and its "bad val" 3.5 into ``bad_val`` 3.0 and ``type_on_bad_val`` 0.5.

Time: with clock ``"day"`` the messages are spread over simulated days from ``start``, denser in opening hours
(08:45..18:15 Europe/London) than at night (:data:`NIGHT_WEIGHT`), ``messages_per_day`` a day; valid-looking presses
at night then arise from the spread (about 7% of messages are sent at night). With clock ``"real"`` a message's
``at`` is the real time (up to 0.5 s behind or 1 s ahead); presses at night are then made on purpose by the
``out_of_hours`` kind, which back-dates a press to the night before it (it works with ``"day"`` too).

Every :class:`Message` carries its truth: ``intended`` is the kind drawn, ``expected`` is the same except that a
valid rating or request whose ``at`` falls outside opening hours is ``"out_of_hours"``, and ``rule`` is the rule of
the ``kiosk`` validator (default options) that must reject it, or ``""`` when it must be accepted. ``rule`` is exact
for a validator whose clock is at or after ``sent_us`` (in real time, always).
"""

from __future__ import annotations

import bisect
import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from typing import Any, Final, NamedTuple

from .clock import MICROS_PER_DAY, ZoneClock

__all__ = ["CLOSE_US", "DEFAULT_KINDS", "KINDS", "NIGHT_WEIGHT", "OPEN_US", "Message", "Traffic"]

#: The opening hours that the truth assumes (the kiosk validator's defaults), as microseconds of the local day.
OPEN_US: Final = (8 * 3600 + 45 * 60) * 1_000_000
CLOSE_US: Final = (18 * 3600 + 15 * 60) * 1_000_000
#: Traffic at night relative to opening hours, with clock "day".
NIGHT_WEIGHT: Final = 0.05

#: Every invalid kind: its weight (percent of all messages in the live sample) and what it makes.
KINDS: Final[dict[str, tuple[float, str]]] = {
    "bad_site": (4.8, 'site "6".."12" (rule exhibition) or "None", "INF", "ERR" (rule types)'),
    "bad_type": (3.6, 'a request with type -1, 2, 3, 4 (values) or null, "INF", "ERR" (types)'),
    "request_without_type": (0.6, "val -1 and no type key (keys)"),
    "bad_val": (3.0, 'val -3, -2, 5..9 (values) or null, "INF", "ERR" (types), no type key'),
    "type_on_bad_val": (0.5, "a type key beside a bad val (keys)"),
    "missing_val": (1.9, "no val key (keys)"),
    "missing_at": (1.4, "no at key (keys)"),
    "missing_site": (1.0, "no site key (keys)"),
    # Not in the sample's mix: only when named in invalid_kinds.
    "type_on_rating": (0.5, "a type key (0, 1 or null) on a rating (keys)"),
    "extra_key": (0.5, "a fifth key (keys)"),
    "out_of_hours": (1.0, "a valid press back-dated to the night before (hours)"),
    "bad_timestamp": (0.5, "at naive, with +HHMM, padded, or day-first (timestamp)"),
    "future": (0.5, "at in opening hours a day or more ahead (future)"),
    "not_json": (0.5, "a Python repr, a cut message, NaN, a BOM or invalid UTF-8 (json)"),
    "duplicate_key": (0.5, "val twice (json)"),
}
DEFAULT_KINDS: Final = (
    "bad_site",
    "bad_type",
    "request_without_type",
    "bad_val",
    "type_on_bad_val",
    "missing_val",
    "missing_at",
    "missing_site",
)
_VALS: Final = [0] * 8 + [1] * 12 + [2] * 25 + [3] * 30 + [4] * 25  # rating values, per cent
_BAD_VALS: Final[list[Any]] = [-3, -2, 5, 6, 7, 8, 9, None, "INF", "ERR"]
_BAD_TYPES: Final[list[Any]] = [-1, 2, 3, 4, None, "INF", "ERR"]


class Message(NamedTuple):
    """One generated message and its truth (see the module docstring)."""

    raw: bytes
    expected: str
    intended: str
    rule: str
    sent_us: int


class Traffic:
    """An endless, seeded stream of kiosk messages; see the module docstring for the mix and the truth."""

    def __init__(
        self,
        *,
        seed: int,
        clock: str,
        start_us: int,
        zone: ZoneClock,
        sites: Sequence[str],
        invalid_share: float,
        invalid_kinds: Sequence[str],
        request_share: float,
        emergency_share: float,
        messages_per_day: int,
    ) -> None:
        self._rng = random.Random(seed)
        self._day = clock == "day"
        self._t = start_us
        self._zone = zone
        self._sites = list(sites)
        numbers = [str(n) for n in range(6, 13) if str(n) not in self._sites]
        self._bad_sites = numbers or [str(max(int(s) for s in self._sites) + 1)]
        self._bad_sites += ["None", "INF", "ERR"]
        self._p_request = request_share
        self._p_invalid = request_share + invalid_share
        self._emergency = emergency_share
        self._kinds = list(invalid_kinds)
        weights = [KINDS[k][0] for k in self._kinds]
        total = sum(weights) or 1.0
        self._cumulative = [sum(weights[: i + 1]) / total for i in range(len(weights))]
        open_share = (CLOSE_US - OPEN_US) / MICROS_PER_DAY
        effective_day = MICROS_PER_DAY * (open_share + NIGHT_WEIGHT * (1 - open_share))
        self._gap_open = effective_day / messages_per_day
        self._gap_night = self._gap_open / NIGHT_WEIGHT

    def messages(self) -> Iterator[Message]:
        """The endless stream (each call continues the same sequence)."""
        rng = self._rng.random
        spell = self._zone.spell
        sites, nsites = self._sites, len(self._sites)
        p_request, p_invalid, emergency = self._p_request, self._p_invalid, self._emergency
        kinds, cumulative = self._kinds, self._cumulative
        day = self._day
        while True:
            sent = self._t if day else time.time_ns() // 1000
            u = rng()
            site = sites[int(rng() * nsites)]
            at_us = sent if day else sent + int(rng() * 1_500_000) - 500_000
            at, tod = spell(at_us)
            inside = OPEN_US <= tod <= CLOSE_US
            if u >= p_invalid:
                val = _VALS[int(rng() * 100)]
                raw: str | bytes = f'{{"at": "{at}", "site": "{site}", "val": {val}}}'
                intended = "rating"
                expected, rule = ("rating", "") if inside else ("out_of_hours", "hours")
            elif u < p_request:
                typ = 1 if rng() < emergency else 0
                raw = f'{{"at": "{at}", "site": "{site}", "val": -1, "type": {typ}}}'
                intended = "request"
                expected, rule = ("request", "") if inside else ("out_of_hours", "hours")
            else:
                intended = expected = kinds[min(bisect.bisect(cumulative, rng()), len(kinds) - 1)]
                raw, rule = self._invalid(intended, at, site, sent)
            yield Message(raw if isinstance(raw, bytes) else raw.encode(), expected, intended, rule, sent)
            if day:
                gap = self._gap_open if inside else self._gap_night
                self._t += 1 + int(-math.log(1.0 - rng()) * gap)

    def _invalid(self, kind: str, at: str, site: str, sent: int) -> tuple[str | bytes, str]:
        """An invalid message of ``kind`` and the rule that rejects it (every rule before ``hours`` is exact)."""
        rng = self._rng
        val = _VALS[int(rng.random() * 100)]
        if kind == "bad_site":
            bad = rng.choice(self._bad_sites)
            return _msg(at=at, site=bad, val=val), "exhibition" if bad.isdigit() else "types"
        if kind == "bad_type":
            typ = rng.choice(_BAD_TYPES)
            return _msg(at=at, site=site, val=-1, type=typ), "values" if isinstance(typ, int) else "types"
        if kind == "request_without_type":
            return _msg(at=at, site=site, val=-1), "keys"
        if kind == "bad_val":
            bad = rng.choice(_BAD_VALS)
            return _msg(at=at, site=site, val=bad), "values" if isinstance(bad, int) else "types"
        if kind == "type_on_bad_val":
            return _msg(at=at, site=site, val=rng.choice(_BAD_VALS), type=rng.choice([0, 1, None])), "keys"
        if kind == "missing_val":
            return _msg(at=at, site=site), "keys"
        if kind == "missing_at":
            return _msg(site=site, val=val), "keys"
        if kind == "missing_site":
            return _msg(at=at, val=val), "keys"
        if kind == "type_on_rating":
            return _msg(at=at, site=site, val=val, type=rng.choice([0, 1, None])), "keys"
        if kind == "extra_key":
            return _msg(at=at, site=site, val=val, kiosk=f"K{site}"), "keys"
        if kind == "out_of_hours":
            return self._night(site, val, sent)
        if kind == "bad_timestamp":
            return _msg(at=_mangle(at, rng.randrange(4)), site=site, val=val), "timestamp"
        if kind == "future":
            return self._future(site, val, sent)
        if kind == "not_json":
            return _broken(at, site, val, rng.randrange(5), rng), "json"
        if kind == "duplicate_key":
            return _msg(at=at, site=site, val=val)[:-1] + f', "val": {val}}}', "json"
        raise ValueError(f"unknown invalid kind {kind!r}")  # unreachable: kinds are checked when configured

    def _night(self, site: str, val: int, sent: int) -> tuple[str, str]:
        """A valid rating whose ``at`` is a night time before ``sent`` (today's early morning or last evening)."""
        local = self._zone.local(sent)
        today, now_tod = divmod(local, MICROS_PER_DAY)
        night = MICROS_PER_DAY - (CLOSE_US - OPEN_US) - 1
        at, tod = "", OPEN_US
        for _ in range(8):  # a wall time moved by a clock change may land in hours: draw again
            r = int(self._rng.random() * night)
            tod = r if r < OPEN_US else r + (CLOSE_US - OPEN_US) + 1
            when = (today if tod <= now_tod else today - 1) * MICROS_PER_DAY + tod
            at, tod = self._zone.spell(self._zone.to_utc(when, sent))
            if not OPEN_US <= tod <= CLOSE_US:
                break
        return _msg(at=at, site=site, val=val), "hours" if not OPEN_US <= tod <= CLOSE_US else ""

    def _future(self, site: str, val: int, sent: int) -> tuple[str, str]:
        """A valid rating timed in opening hours one to three days after ``sent``."""
        today = self._zone.local(sent) // MICROS_PER_DAY
        days = 1 + self._rng.randrange(3)
        tod = OPEN_US + 3_600_000_000 + int(self._rng.random() * (CLOSE_US - OPEN_US - 7_200_000_000))
        at, tod = self._zone.spell(self._zone.to_utc((today + days) * MICROS_PER_DAY + tod, sent))
        return _msg(at=at, site=site, val=val), "future" if OPEN_US <= tod <= CLOSE_US else "hours"


def _msg(**fields: Any) -> str:
    return json.dumps(fields)


def _mangle(at: str, how: int) -> str:
    if how == 0:  # naive
        return at[:-6]
    if how == 1:  # +0100
        return at[:-3] + at[-2:]
    if how == 2:  # padded
        return f" {at}"
    return f"{at[8:10]}/{at[5:7]}/{at[0:4]} {at[11:19]}"  # day-first, as in an old export


def _broken(at: str, site: str, val: int, how: int, rng: random.Random) -> str | bytes:
    good = _msg(at=at, site=site, val=val)
    if how == 0:
        return repr({"at": at, "site": site, "val": val})
    if how == 1:
        return good[: 1 + int(rng.random() * (len(good) - 1))]
    if how == 2:
        return good.rsplit(":", 1)[0] + ": NaN}"
    if how == 3:
        return b"\xef\xbb\xbf" + good.encode()
    return good.replace(f'"site": "{site}"', '"site": "\xff"').encode("latin-1")
