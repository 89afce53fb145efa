"""The capabilities ``lmnh-pipes audit`` needs: a sink that can say which offsets it keeps, a source that can say
which partitions it reads and where its consumer's commits stand.

An audit accounts, per partition, for every offset in a :class:`Span`: each must be kept exactly once, as a row of
the sink or as a reject of the rejects sink. A store tells what it keeps of a span as a :class:`Kept`: islands of
offsets (runs with no gap) and the offsets it keeps more than once. That is small however many rows there are, and
the core joins the stores' answers into the offsets missing and the offsets kept twice. A store that cannot tell
(its rows do not keep their coordinates) says why, and the audit reports it as unproven rather than guessing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from .delivery import Positions

__all__ = ["Kept", "OffsetAccounting", "Span"]


@attrs.frozen(kw_only=True)
class Span:
    """The offsets ``low`` (included) to ``high`` (excluded) of one partition of a topic."""

    topic: str
    partition: int
    low: int
    high: int


@attrs.frozen(kw_only=True)
class Kept:
    """What one store keeps of a :class:`Span`.

    ``entries`` counts its rows in the span, ``islands`` are the ``(first, last)`` runs of the distinct offsets it
    keeps (sorted, not touching), and ``repeated`` maps each offset it keeps more than once to how many times.
    """

    span: Span
    entries: int
    islands: tuple[tuple[int, int], ...] = ()
    repeated: Mapping[int, int] = attrs.field(factory=dict)


@runtime_checkable
class OffsetAccounting(Protocol):
    """A sink (or rejects sink) whose rows keep their records' coordinates (``meta.topic``, ``meta.partition``,
    ``meta.offset``), so that an audit can count them. Both methods read and change nothing; they may connect on
    their own, as the sink is not opened for an audit. Raising is a failure of the audit (exit 1)."""

    def accounting_gap(self) -> str | None:
        """Why this sink cannot account for offsets (``"table x keeps no offset column"``), or None when it can."""
        return None

    def lowest_kept(self, partitions: Sequence[tuple[str, int]]) -> Positions:
        """The smallest offset kept of each of ``partitions`` that has any."""
        return {}

    def kept(self, spans: Sequence[Span]) -> list[Kept]:
        """What is kept of each of ``spans``, in their order."""
        return []
