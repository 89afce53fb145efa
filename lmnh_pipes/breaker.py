"""The reject-rate breaker: :class:`RejectLimit` (the ``reject_limit:`` mapping of a pipeline file) and
:class:`RejectWindow`, which counts the rejects among the last ``window`` records read, a batch at a time.

The share is judged after every record, not only at the end of a batch, so that a burst inside a batch larger
than the window is seen. Until ``window`` records have been read, those not yet read count as accepted: the limit
is crossed by the first record that makes more than ``max_share * window`` rejects in the window, and never by
a few rejects among the first records of a run.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from fractions import Fraction
from itertools import accumulate, chain, islice, repeat
from operator import attrgetter, is_not, sub
from typing import Any

import attrs

from .options import option_doc
from .records import Record, Rejection

__all__ = ["Crossing", "RejectLimit", "RejectWindow"]

#: How many rules a crossing's message names.
TOP_RULES = 3

_reject_of = attrgetter("reject")


def _window(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a whole number of records, at least 1, found {value!r}")


def _share(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:  # also refuses NaN
        raise ValueError(f"{attribute.name} must be a share between 0 and 1, found {value!r}")


@attrs.frozen(kw_only=True)
class RejectLimit:
    """Stop the run, before writing the batch that crossed it, once more than ``max_share`` of the last ``window``
    records read were rejected (by the source or the validators). The ``reject_limit:`` mapping of a pipeline
    file sets these; without it, no share of rejects stops a run."""

    window: int = attrs.field(
        default=1000, validator=_window, metadata=option_doc("how many of the latest records the share is taken over")
    )
    max_share: float = attrs.field(
        default=0.5,
        validator=_share,
        metadata=option_doc("the run stops when more than this share (0..1) of the window is rejected"),
    )

    @property
    def most(self) -> int:
        """The most rejects the window may hold without crossing the limit."""
        # max_share as written (0.29, not its binary neighbour 0.28999...), so that 29 of 100 does not cross 0.29.
        return math.floor(Fraction(str(self.max_share)) * self.window)


@attrs.frozen(kw_only=True)
class Crossing:
    """The point where a batch crossed the limit: ``rejected`` of the ``read`` records in the window then (fewer
    than ``limit.window`` early in a run), and the (validator, rule) pairs of those rejects, most frequent first."""

    limit: RejectLimit
    rejected: int
    read: int
    rules: list[tuple[tuple[str, str], int]]

    @property
    def share(self) -> float:
        """The share of the window that was rejected (records not yet read count as accepted)."""
        return self.rejected / self.limit.window

    def __str__(self) -> str:
        window = self.limit.window
        rejected, share = f"{self.rejected:,}", f"{self.share:.1%}"
        if self.read >= window:
            counted = f"{rejected} of the last {window:,} records ({share}) were rejected"
        else:
            counted = f"{rejected} of the first {self.read:,} records ({share} of a window of {window:,}) were rejected"
        top = ", ".join(f"{v} / {r} {n:,}" for (v, r), n in self.rules[:TOP_RULES])
        return (
            f"reject limit crossed: {counted}, more than max_share {self.limit.max_share:g}; top rules: {top}. "
            "The batch that crossed it was neither written nor acknowledged: once the cause is fixed, the next run "
            "reads it again"
        )


@attrs.define
class RejectWindow:
    """The rejects among the last ``limit.window`` records read, counted a batch at a time: each batch costs a few
    passes in C over its records (:func:`map`, :func:`~itertools.accumulate`) and a copy of ``window`` bytes."""

    limit: RejectLimit
    #: Rejects among the last ``window`` records.
    rejected: int = attrs.field(default=0, init=False)
    #: Records counted so far.
    read: int = attrs.field(default=0, init=False)
    _most: int = attrs.field(init=False)
    #: The last ``window`` records, oldest first: 1 rejected, 0 accepted (or not yet read).
    _flags: bytes = attrs.field(init=False)
    #: The rejections of the latest batches (None: accepted), enough of them to cover the window; read only to
    #: name the rules of a crossing.
    _recent: deque[list[Rejection | None]] = attrs.field(factory=deque, init=False)
    _held: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self._most = self.limit.most
        self._flags = bytes(self.limit.window)

    @property
    def share(self) -> float:
        """The share of the window that is rejected now (records not yet read count as accepted)."""
        return self.rejected / self.limit.window

    def add(self, records: Sequence[Record]) -> Crossing | None:
        """Count a batch, in read order. Returns where the window first held the most rejects while over the
        limit, if it crossed it anywhere in this batch; else None. The batch is counted either way."""
        rejections: list[Rejection | None] = list(map(_reject_of, records))
        flags = bytes(map(is_not, rejections, repeat(None)))
        n = len(flags)
        # As the batch's k-th record enters the window, the record ``window`` places before it leaves.
        joined = self._flags + flags
        leaving = joined[:n]
        entering = flags.count(1)
        crossing = None
        if self.rejected + entering <= self._most:  # the usual case: it cannot cross, whatever the order
            self.rejected += entering - leaving.count(1)
        else:
            # counts[k]: the rejects in the window once the batch's first k records are in it.
            counts = list(accumulate(map(sub, flags, leaving), initial=self.rejected))
            peak = max(islice(counts, 1, None), default=0)
            if peak > self._most:
                crossing = self._crossing(peak, counts.index(peak, 1), rejections)
            self.rejected = counts[-1]
        self._flags = joined[-self.limit.window :]
        self.read += n
        self._remember(rejections)
        return crossing

    def _crossing(self, peak: int, k: int, rejections: list[Rejection | None]) -> Crossing:
        """The crossing when the window holds ``peak`` rejects: after the batch's first ``k`` records."""
        read = min(self.read + k, self.limit.window)
        earlier = islice(chain.from_iterable(self._recent), max(0, self._held - (read - k)), None)
        latest = chain(earlier, rejections[max(0, k - read) : k])
        rules = Counter((r.validator, r.rule) for r in latest if r is not None)
        return Crossing(
            limit=self.limit,
            rejected=peak,
            read=read,
            rules=sorted(rules.items(), key=lambda item: (-item[1], item[0])),
        )

    def _remember(self, rejections: list[Rejection | None]) -> None:
        recent = self._recent
        recent.append(rejections)
        self._held += len(rejections)
        while self._held - len(recent[0]) >= self.limit.window:
            self._held -= len(recent.popleft())
