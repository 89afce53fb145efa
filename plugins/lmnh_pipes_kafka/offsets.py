"""Per-partition contiguous watermarks: the offset to commit is the first offset not yet done; and the positions
that a position store holds, read the one way that the source and the dead-letter store both read them."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import attrs

from lmnh_pipes import RetryPolicy, RunError
from lmnh_pipes.delivery import Positions, PositionStore

__all__ = ["STORE_RETRY", "OffsetTracker", "read_stored_positions"]

#: Reading the stored positions (in a rebalance callback, or as a replay starts): through an outage of up to 30 s.
STORE_RETRY = RetryPolicy(initial=0.5, max_backoff=8.0, max_elapsed=30.0)


def read_stored_positions(store: PositionStore, pipeline: str, partitions: Sequence[tuple[str, int]]) -> Positions:
    """``store``'s positions for ``pipeline``, retried through a short outage. :class:`RunError` if it stays down
    or fails: starting from Kafka's own offsets instead would ignore a position that the operator set."""
    try:
        return STORE_RETRY.call("reading the stored positions", lambda: store.stored_positions(pipeline, partitions))
    except RunError:  # still down after STORE_RETRY.max_elapsed
        raise
    except Exception as exc:
        raise RunError(f"cannot read the stored positions: {exc}") from exc


@attrs.define
class _Partition:
    pending: deque[int] = attrs.field(factory=deque)
    done: set[int] = attrs.field(factory=set)
    next_offset: int | None = None  # the committable position: every offset below it is done


@attrs.define
class OffsetTracker:
    """Tracks read and done offsets per (topic, partition) and yields the safe commit positions.

    Offsets must be marked read in increasing order per partition (as a consumer delivers them); they may be
    marked done in any order. The commit position of a partition never passes an offset that was read but
    is not done, so a restart never skips an unwritten record.
    """

    _parts: dict[tuple[str, int], _Partition] = attrs.field(factory=dict)

    def read(self, topic: str, partition: int, offset: int) -> None:
        """Note that ``offset`` was handed to the pipeline."""
        part = self._parts.get((topic, partition))
        if part is None:
            part = self._parts[(topic, partition)] = _Partition()
        part.pending.append(offset)

    def read_many(self, topic: str, partition: int, offsets: list[int]) -> None:
        """Note that ``offsets`` (increasing) were handed to the pipeline."""
        part = self._parts.get((topic, partition))
        if part is None:
            part = self._parts[(topic, partition)] = _Partition()
        part.pending.extend(offsets)

    def done_many(self, topic: str, partition: int, offsets: list[int]) -> None:
        """Note that ``offsets`` (increasing) were written. The usual case, the oldest offsets read, in order,
        is settled in one step; anything else goes offset by offset."""
        part = self._parts.get((topic, partition))
        if part is None or not offsets:
            return
        pending, n = part.pending, len(offsets)
        # Both are increasing, and offsets is a subset of pending: with the same count, the same first and the
        # same last element, offsets is exactly pending's first n elements.
        if not part.done and len(pending) >= n and pending[0] == offsets[0] and pending[n - 1] == offsets[-1]:
            for _ in range(n):
                pending.popleft()
            part.next_offset = offsets[-1] + 1
            return
        for offset in offsets:
            self.done(topic, partition, offset)

    def done_all(self) -> None:
        """Note that every offset read was written: the usual acknowledgement, of everything read since the last
        one (:func:`~lmnh_pipes_kafka.source.acks_everything_read` decides that it is)."""
        for part in self._parts.values():
            if part.pending:
                part.next_offset = part.pending[-1] + 1
                part.pending.clear()
            part.done.clear()

    def done(self, topic: str, partition: int, offset: int) -> None:
        """Note that ``offset`` was written (or rejected and written). Unknown partitions are ignored: they
        were revoked, and their new owner re-reads from the last commit."""
        part = self._parts.get((topic, partition))
        if part is None:
            return
        part.done.add(offset)
        pending = part.pending
        while pending and pending[0] in part.done:
            first = pending.popleft()
            part.done.discard(first)
            part.next_offset = first + 1

    def positions(self) -> dict[tuple[str, int], int]:
        """The commit position of every partition that has one."""
        return {tp: p.next_offset for tp, p in self._parts.items() if p.next_offset is not None}

    def in_flight(self, topic: str, partition: int) -> int:
        """How many offsets of the partition were read and are not yet committable."""
        part = self._parts.get((topic, partition))
        return len(part.pending) if part is not None else 0

    def forget(self, topic: str, partition: int) -> None:
        """Drop a revoked partition."""
        self._parts.pop((topic, partition), None)
