"""The capabilities that let ``lmnh-pipes offsets`` see and move a pipeline's positions from outside a run.

A source whose positions live in a server (a consumer group's commits) implements :class:`PositionedSource`; a
sink that stores positions beside its rows (see :class:`~lmnh_pipes.delivery.PositionStore`) implements
:class:`PositionMover` too, so that they can be moved where they live. A source that knows how far it is behind
implements :class:`LaggingSource`, for ``/metrics``. None of these is called while a run reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

from .delivery import Positions

__all__ = ["LaggingSource", "PositionAdmin", "PositionMover", "PositionedSource", "Watermarks"]

#: (topic, partition) -> (low, high): the first offset still held, and the offset the next record will get.
Watermarks = dict[tuple[str, int], tuple[int, int]]


class PositionAdmin(Protocol):
    """A connection to where a source's records and its group's positions are, that never joins the group.

    Every method reads, except :meth:`commit_group_positions`. Raising: :class:`~lmnh_pipes.errors.RunError` for a
    failure (the command exits 1), :class:`~lmnh_pipes.errors.ConfigError` for a topic that does not exist.
    """

    def partitions(self) -> list[tuple[str, int]]:
        """Every (topic, partition) of the source's topics, sorted."""
        return []

    def watermarks(self, partitions: Sequence[tuple[str, int]]) -> Watermarks:
        """Each partition's low and high watermark, as the server reports them."""
        return {}

    def offsets_for_time(self, partitions: Sequence[tuple[str, int]], when: datetime) -> Positions:
        """Per partition, the offset of its first record whose timestamp is at or after ``when``, or the high
        watermark when there is none."""
        return {}

    def group_positions(self, partitions: Sequence[tuple[str, int]]) -> Positions:
        """The group's committed next offset of each of ``partitions`` that has one."""
        return {}

    def commit_group_positions(self, positions: Positions) -> None:
        """Set the group's committed positions (the group must have no active member)."""
        return None

    def active_members(self) -> list[str]:
        """The group's active members, one description each; empty when none is active.

        A server that says a group is active without naming its members gives one line saying so."""
        return []


@runtime_checkable
class PositionedSource(Protocol):
    """A source whose group positions, partitions and watermarks can be read, and moved, beside no running
    member (``lmnh-pipes offsets``)."""

    def position_admin(self) -> AbstractContextManager[PositionAdmin]:
        """Connect, without joining the group; the connection closes when the context ends."""
        raise NotImplementedError


@runtime_checkable
class PositionMover(Protocol):
    """A :class:`~lmnh_pipes.delivery.PositionStore` whose stored positions can be moved (``lmnh-pipes
    offsets --reset``)."""

    def move_positions(self, pipeline: str, positions: Positions) -> Positions:
        """Set the stored positions of ``pipeline`` to ``positions``, all in one transaction; return what was
        stored before for those partitions (a partition without a stored position is absent). Raising: as for
        ``write``; nothing is changed then."""
        return {}


@runtime_checkable
class LaggingSource(Protocol):
    """A source that knows, cheaply and without asking a server per record, how far behind it is."""

    def lag(self) -> Positions:
        """Per assigned partition, the high watermark minus the source's position, as last measured, for
        ``/metrics``. Called from another thread: read only."""
        return {}
