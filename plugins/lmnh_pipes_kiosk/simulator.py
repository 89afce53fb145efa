"""The ``kiosk_simulator`` source: realistic, seeded kiosk traffic (see :mod:`lmnh_pipes_kiosk.traffic`)."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from lmnh_pipes import EndOfInput, Meta, Record, option_doc, parse_time_zone

from .clock import ZoneClock
from .traffic import DEFAULT_KINDS, KINDS, Message, Traffic

__all__ = ["CLOCKS", "KioskSimulator"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SITE: Final = re.compile(r"0|[1-9][0-9]{0,8}", re.ASCII)
_ZONE: Final = "Europe/London"

#: ``day``: timestamps of simulated days, the same bytes for a seed; ``real``: now, in real time.
CLOCKS: Final = ("day", "real")


def _default_sites() -> list[str]:
    return [str(n) for n in range(6)]


def _share(option: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"{option}: expected a share between 0 and 1, found {value!r}")


@attrs.define(kw_only=True)
class KioskSimulator:
    """Realistic museum kiosk traffic: ratings, requests and the invalid messages seen in the live stream.

    Messages are spelled like Python's ``json.dumps`` and ``datetime.isoformat()`` in Europe/London, as the real
    kiosks do; a seed gives the same traffic. :meth:`generate` gives them with their truth, for tests and
    benchmarks. Options: ``docs/sources.md``.
    """

    seed: int = attrs.field(default=0, metadata=option_doc("the same seed gives the same messages"))
    count: int | None = attrs.field(
        default=None, metadata=option_doc("how many messages before the source ends (default: it never ends)")
    )
    rate: float | None = attrs.field(
        default=None, metadata=option_doc("messages per second on average (default: as fast as they are asked for)")
    )
    invalid_share: float = attrs.field(
        default=0.168, metadata=option_doc("the chance (0..1) that a message is invalid, of one of invalid_kinds")
    )
    invalid_kinds: list[str] | None = attrs.field(
        default=None,
        metadata=option_doc("which invalid messages to make (default: the kinds of the live sample)", choices=KINDS),
    )
    request_share: float = attrs.field(
        default=0.025, metadata=option_doc("the share (0..1) of valid messages that are requests")
    )
    emergency_share: float = attrs.field(
        default=0.05, metadata=option_doc("the share (0..1) of requests that are emergencies")
    )
    sites: list[str] = attrs.field(factory=_default_sites, metadata=option_doc("the valid sites"))
    clock: str = attrs.field(
        default="day",
        metadata=option_doc("day: simulated days from start, the same bytes for a seed; real: now", choices=CLOCKS),
    )
    start: str = attrs.field(default="2024-10-21", metadata=option_doc("the first simulated day (YYYY-MM-DD)"))
    messages_per_day: int = attrs.field(default=2000, metadata=option_doc("the simulated days' traffic"))
    topic: str = attrs.field(default="lmnh", metadata=option_doc("meta.topic of every record"))

    _traffic: Traffic = attrs.field(init=False, repr=False)
    _stream: Iterator[Message] = attrs.field(init=False, repr=False)
    _zone: ZoneClock = attrs.field(init=False, repr=False)
    _seq: int = attrs.field(default=0, init=False, repr=False)
    _paced_from: float | None = attrs.field(default=None, init=False, repr=False)
    _paced: int = attrs.field(default=0, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise ValueError(f"clock: expected 'day' or 'real', found {self.clock!r}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count: expected a number >= 0 or nothing, found {self.count!r}")
        if self.rate is not None and not self.rate > 0:
            raise ValueError(f"rate: expected a number > 0 or nothing, found {self.rate!r}")
        if self.messages_per_day <= 0:
            raise ValueError(f"messages_per_day: expected a number > 0, found {self.messages_per_day!r}")
        for option in ("invalid_share", "request_share", "emergency_share"):
            _share(option, getattr(self, option))
        if self.invalid_share + self.request_share > 1.0:
            raise ValueError(
                f"invalid_share + request_share must not exceed 1, found {self.invalid_share} + {self.request_share}"
            )
        kinds = list(DEFAULT_KINDS) if self.invalid_kinds is None else list(self.invalid_kinds)
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"invalid_kinds: unknown kind {unknown[0]!r} (known: {', '.join(KINDS)})")
        if not kinds and self.invalid_share > 0:
            raise ValueError("invalid_kinds: empty, but invalid_share is above 0")
        bad_sites = [s for s in self.sites if not isinstance(s, str) or _SITE.fullmatch(s) is None]
        if not self.sites or bad_sites:
            found = repr(bad_sites[0]) if bad_sites else "an empty list"
            raise ValueError(f"sites: expected canonical decimal strings such as '3', found {found}")
        self._zone = ZoneClock(parse_time_zone(_ZONE, "timezone"))
        self._traffic = Traffic(
            seed=self.seed,
            clock=self.clock,
            start_us=self._start_us(),
            zone=self._zone,
            sites=self.sites,
            invalid_share=self.invalid_share,
            invalid_kinds=kinds,
            request_share=self.request_share,
            emergency_share=self.emergency_share,
            messages_per_day=self.messages_per_day,
        )
        self._stream = self._traffic.messages()

    def _start_us(self) -> int:
        try:
            start = datetime.fromisoformat(self.start)
        except (TypeError, ValueError):
            raise ValueError(
                f"start: expected an ISO date or date and time such as '2024-10-21', found {self.start!r}"
            ) from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=self._zone.zone)
        delta = start - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    def generate(self, n: int) -> Iterator[Message]:
        """The next ``n`` messages with their truth (``raw, expected, intended, rule, sent_us``).

        They come from the same sequence as :meth:`read` (and advance it), but ignore ``count`` and ``rate``.
        """
        for message in itertools.islice(self._stream, n):
            self._seq += 1
            yield message

    def size_hint(self) -> int | None:
        """How many records this source will give, for a progress display: ``count``."""
        return self.count

    def open(self) -> None:
        return None

    def read(self, max_records: int, timeout: float) -> Sequence[Record]:
        """Up to ``max_records`` records; with a ``rate``, only those due, waiting up to ``timeout`` for one."""
        n = max_records
        if self.count is not None:
            if self._seq >= self.count:
                raise EndOfInput
            n = min(n, self.count - self._seq)
        if self.rate is not None:
            n = min(n, self._due(timeout))
        records = []
        topic = self.topic
        for message in itertools.islice(self._stream, max(n, 0)):
            meta = Meta(
                source="kiosk_simulator",
                topic=topic,
                offset=self._seq,
                timestamp=_EPOCH + timedelta(microseconds=message.sent_us),
            )
            records.append(Record(value=None, raw=message.raw, meta=meta))
            self._seq += 1
        self._paced += len(records)
        return records

    def _due(self, timeout: float) -> int:
        """How many messages the rate allows now, after sleeping up to ``timeout`` for the next one."""
        assert self.rate is not None
        now = time.monotonic()
        if self._paced_from is None:
            self._paced_from = now
        due = int((now - self._paced_from) * self.rate) + 1 - self._paced
        if due <= 0:
            wait = self._paced_from + self._paced / self.rate - now
            time.sleep(max(0.0, min(wait, timeout)))
            now = time.monotonic()
            due = int((now - self._paced_from) * self.rate) + 1 - self._paced
        return max(due, 0)

    def ack(self, records: Sequence[Record]) -> None:
        return None

    def close(self) -> None:
        return None
