"""``lmnh-pipes audit``: prove that every offset up to the stored position is kept exactly once, as a row or a reject.

For each partition the source reads, the span runs from the first offset the pipeline read (the smallest one that
the sink and the rejects sink keep, or the first at or after ``--from-time``) up to the stored position: the
sink's, for an exactly-once pipeline, else the consumer group's commits. Each store says what it keeps of the span
(:class:`~lmnh_pipes.auditing.Kept`); an offset kept by none is missing, one kept twice (by one store or by both)
is a duplicate. It reads, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import attrs

from .auditing import Kept, OffsetAccounting, Span
from .delivery import Positions, PositionStore
from .errors import ConfigError
from .interfaces import Sink, Source
from .plan import DeliveryPlan
from .positioning import PositionedSource

__all__ = ["SHOWN", "AuditReport", "PartitionAudit", "audit", "coverage"]

#: How many missing or repeated offsets a partition's line lists.
SHOWN = 5


@attrs.frozen(kw_only=True)
class PartitionAudit:
    """One partition's account: its span, what each store keeps of it, and the offsets not kept exactly once."""

    span: Span
    rows: int
    rejects: int
    missing: int
    twice: int
    first_missing: tuple[int, ...] = ()
    first_twice: tuple[int, ...] = ()

    @property
    def complete(self) -> bool:
        return self.missing == 0 and self.twice == 0

    def line(self) -> str:
        s = self.span
        where = f"{s.topic}[{s.partition}]"
        if s.high <= s.low:
            return f"{where}: nothing to account for (position {s.high})"
        text = f"{where}: offsets {s.low}..{s.high - 1} ({s.high - s.low}): {self.rows} rows, {self.rejects} rejects"
        if self.missing:
            text += f"; MISSING {self.missing}: {_listed(self.first_missing, self.missing)}"
        if self.twice:
            text += f"; TWICE {self.twice}: {_listed(self.first_twice, self.twice)}"
        return text + ("; complete" if self.complete else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.span.topic,
            "partition": self.span.partition,
            "low": self.span.low,
            "high": self.span.high,
            "rows": self.rows,
            "rejects": self.rejects,
            "missing": self.missing,
            "twice": self.twice,
            "first_missing": list(self.first_missing),
            "first_twice": list(self.first_twice),
            "complete": self.complete,
        }


def _listed(offsets: Sequence[int], total: int) -> str:
    more = f", ... ({total - len(offsets)} more)" if total > len(offsets) else ""
    return ", ".join(str(o) for o in offsets) + more


@attrs.frozen(kw_only=True)
class AuditReport:
    """The audit of one pipeline: each partition's account, and what could not be checked."""

    pipeline: str
    positions: str
    partitions: tuple[PartitionAudit, ...]
    unproven: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every offset accounted for exactly once, by stores that could all tell."""
        return not self.unproven and all(p.complete for p in self.partitions)

    def lines(self) -> list[str]:
        out = [f"audit of {self.pipeline} up to {self.positions}"]
        out += [f"  {p.line()}" for p in self.partitions]
        out += [f"cannot prove: {reason}" for reason in self.unproven]
        if self.complete:
            out.append("complete: every offset is one row or one reject")
        elif not self.unproven:
            out.append("INCOMPLETE: offsets missing or kept twice")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "positions": self.positions,
            "complete": self.complete,
            "unproven": list(self.unproven),
            "partitions": [p.to_dict() for p in self.partitions],
        }


def coverage(span: Span, kept: Sequence[Kept]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The ``(first, last)`` runs of ``span`` that no store keeps, and those that two stores or more keep (an
    offset one store keeps twice is in its ``repeated``, not here)."""
    events: dict[int, int] = {}
    for k in kept:
        for first, last in k.islands:
            first, last = max(first, span.low), min(last, span.high - 1)
            if first <= last:
                events[first] = events.get(first, 0) + 1
                events[last + 1] = events.get(last + 1, 0) - 1
    missing: list[tuple[int, int]] = []
    shared: list[tuple[int, int]] = []
    depth, at = 0, span.low
    for point in [*sorted(events), span.high]:
        if point > at:
            end = min(point, span.high) - 1
            if depth == 0 and at <= end:
                missing.append((at, end))
            elif depth > 1 and at <= end:
                shared.append((at, end))
            at = point
        depth += events.get(point, 0) if point < span.high else 0
    return missing, shared


def _offsets(runs: Sequence[tuple[int, int]]) -> Iterator[int]:
    for first, last in runs:
        yield from range(first, last + 1)


def _account(span: Span, rows: Kept | None, rejects: Kept | None) -> PartitionAudit:
    kept = [k for k in (rows, rejects) if k is not None]
    missing, shared = coverage(span, kept)
    extra: dict[int, int] = {}
    for first, last in shared:  # an offset kept by n stores is kept n - 1 times too many (n = 2 here)
        for offset in range(first, last + 1):
            extra[offset] = extra.get(offset, 0) + 1
    for k in kept:
        for offset, times in k.repeated.items():
            if span.low <= offset < span.high:
                extra[offset] = extra.get(offset, 0) + times - 1
    first_missing: list[int] = []
    for offset in _offsets(missing):
        if len(first_missing) == SHOWN:
            break
        first_missing.append(offset)
    return PartitionAudit(
        span=span,
        rows=rows.entries if rows is not None else 0,
        rejects=rejects.entries if rejects is not None else 0,
        missing=sum(last - first + 1 for first, last in missing),
        twice=len(extra),
        first_missing=tuple(first_missing),
        first_twice=tuple(sorted(extra)[:SHOWN]),
    )


def audit(
    source: Source,
    sink: Sink,
    rejects: Sink | None,
    *,
    name: str,
    plan: DeliveryPlan,
    from_time: datetime | None = None,
) -> AuditReport:
    """Account for every offset of every partition of ``source`` up to its stored position. ConfigError when the
    source cannot say its partitions and positions; a store that cannot account is reported in ``unproven``."""
    if not isinstance(source, PositionedSource):
        raise ConfigError(f"{type(source).__name__} cannot list its partitions and positions: nothing to audit")
    with source.position_admin() as admin:
        partitions = admin.partitions()
        positions: Positions
        if plan.positions_in_sink and isinstance(sink, PositionStore):
            positions, where = sink.stored_positions(name, partitions), "the positions stored with the rows"
        else:
            positions, where = admin.group_positions(partitions), "the source's committed positions"
        lows = admin.offsets_for_time(partitions, from_time) if from_time is not None else {}
    stores: list[OffsetAccounting | None] = []
    unproven: list[str] = []
    for label, component in (("sink", sink), ("rejects sink", rejects)):
        if component is None:
            stores.append(None)
            continue
        if not isinstance(component, OffsetAccounting):
            gap: str | None = "it cannot list the offsets it keeps"
        else:
            gap = component.accounting_gap()
        if gap is not None:
            unproven.append(f"the {label} ({type(component).__name__}): {gap}")
        stores.append(component if gap is None and isinstance(component, OffsetAccounting) else None)
    if from_time is None:
        for accounting in stores:
            if accounting is not None:
                for key, low in accounting.lowest_kept(partitions).items():
                    lows[key] = min(low, lows.get(key, low))
    # Nothing kept of a partition that has a position: the audit starts at 0, so that a total loss shows.
    spans = [Span(topic=t, partition=p, low=lows.get((t, p), 0), high=positions.get((t, p), 0)) for t, p in partitions]
    spans = [attrs.evolve(s, low=min(s.low, s.high)) for s in spans]
    answers: list[Sequence[Kept | None]] = [s.kept(spans) if s is not None else [None] * len(spans) for s in stores]
    accounts = tuple(_account(span, answers[0][i], answers[1][i]) for i, span in enumerate(spans))
    return AuditReport(pipeline=name, positions=where, partitions=accounts, unproven=tuple(unproven))
