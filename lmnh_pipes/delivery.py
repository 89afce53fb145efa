"""The capabilities that change how a batch is delivered: positions, transactions, held commits.

A plug-in implements these to give a pipeline a stronger guarantee than at-least-once. The core looks at them once,
before anything opens, and decides the pipeline's :class:`~lmnh_pipes.plan.DeliveryPlan`; the runner then follows
the plan and asks the components nothing more. Which plan each combination gives:

==========================================================  =============================================
source and sinks                                            plan
==========================================================  =============================================
a :class:`ReplayableSource` into a :class:`TransactionalSink`  exactly-once: rows, rejects (when the sink
                                                            ``joins`` them) and positions in one transaction
a :class:`HoldingSource` beside a :class:`BufferingSink`    commits held until the sinks closed cleanly
anything else                                               at-least-once: acknowledged after each write
==========================================================  =============================================

A component that implements part of one of these (a ``write_batch`` without ``stored_positions``) is refused when
the pipeline is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from .interfaces import Sink
from .records import Record

__all__ = [
    "BufferingSink",
    "DrainingSource",
    "HoldingSource",
    "KeepableOutput",
    "NamedPositions",
    "NamedTransaction",
    "OverwritingSink",
    "PositionStore",
    "Positions",
    "ReplayableSource",
    "ResumingSource",
    "TransactionalSink",
]

#: Where a source stands: (topic, partition) -> the next offset to read.
Positions = dict[tuple[str, int], int]


@runtime_checkable
class ResumingSource(Protocol):
    """A source that commits its position as batches are acknowledged, and resumes after it when started again
    (a Kafka consumer group). A :class:`ReplayableSource`, a :class:`DrainingSource` or a :class:`HoldingSource`
    resumes too; this capability reports its positions."""

    def committed_positions(self) -> Positions:
        """The next position committed per partition, for ``/metrics``. Called from another thread: read only."""
        return {}


@runtime_checkable
class PositionStore(Protocol):
    """Something that stores a source's positions durably (a database sink, in the rows' transaction)."""

    def stored_positions(self, pipeline: str, partitions: Sequence[tuple[str, int]]) -> Positions:
        """The stored next offset of each of ``partitions`` that has one, for the pipeline named ``pipeline``.

        Called by a :class:`ReplayableSource` when partitions are assigned to it, so that it resumes exactly
        after what was written. Raising is an outage or a failure, as for ``write``.
        """
        return {}


@runtime_checkable
class TransactionalSink(PositionStore, Protocol):
    """A sink that writes a batch, its rejects and the source's positions in one transaction: exactly-once.

    The runner uses ``write_batch`` instead of ``write`` when the source is a :class:`ReplayableSource`.
    """

    def joins(self, rejects: Sink) -> bool:
        """True when ``rejects`` can be written inside this sink's transaction (the same database)."""
        return False

    def write_batch(
        self, pipeline: str, accepted: Sequence[Record], rejected: Sequence[Record], rejects: Sink | None
    ) -> int:
        """Write ``accepted`` (and ``rejected`` through ``rejects``, when it is given: it joins) and store, per
        partition, the offset after the batch's last record (accepted or rejected), all in one transaction.

        Every record is at a (topic, partition, offset) of ``meta``. A record at an offset below the stored
        position was written before (a replay after a crash, or by another group member after a rebalance)
        and must be skipped: this is what makes delivery exactly-once. Returns how many accepted records
        were written. Raising: as for ``write``; nothing of the batch may be committed then.
        """
        return 0


@runtime_checkable
class ReplayableSource(Protocol):
    """A source that can resume from positions stored elsewhere (Kafka, with a database sink)."""

    def use_position_store(self, store: PositionStore, pipeline: str) -> None:
        """Called once, before ``open``: on every assignment, seek to ``store``'s positions for ``pipeline``."""
        return None


@runtime_checkable
class DrainingSource(Protocol):
    """A source that can lose partitions while running (a consumer-group member).

    Before it gives partitions up, it calls the runner's ``drain``: every record read so far is validated,
    written and acknowledged, so that the source can commit all of it and the partitions' next owner starts
    exactly after it (unless its commits are held: see :class:`HoldingSource`). Without this, records in flight
    would be written twice: by this process, and by the next owner, which re-reads them from the last commit.
    """

    def drain_with(self, drain: Callable[[], None]) -> None:
        """Called once, before ``read`` is first called, with the function to call before a revocation."""
        return None


@runtime_checkable
class BufferingSink(Protocol):
    """A sink that may make its rows durable only when it closes (an object on S3 is complete only then; a
    ``.bz2`` stream cannot be flushed part-way). A sink without this capability is durable at each ``write``."""

    @property
    def durable_writes(self) -> bool:
        """Whether ``write`` makes its rows durable before it returns."""
        return True


@runtime_checkable
class HoldingSource(Protocol):
    """A source that can hold its commits back until the sinks have closed.

    With a :class:`BufferingSink` whose writes are not durable, the runner calls :meth:`hold_commits` once the
    source has opened, and :meth:`release_commits` only if the run, and then every sink's close, ended without an
    error; the source's ``close`` ends the hold either way. Until then nothing is committed, not even for
    partitions given up in a rebalance: their next owner re-reads them (at least once), and a crash replays
    everything since the last run that ended cleanly. Nothing is lost.
    """

    def hold_commits(self) -> None:
        """Commit nothing until :meth:`release_commits`."""
        return None

    def release_commits(self) -> None:
        """Commit everything acknowledged so far: the sinks have made it durable. Called before ``close``."""
        return None


@runtime_checkable
class OverwritingSink(Protocol):
    """A sink that replaces its output when it opens (a file written afresh).

    Beside a source that resumes after what it committed (see :class:`ResumingSource`), replacing the output of an
    earlier run would lose its rows for good: the pipeline then refuses to start (exit 2) while
    :meth:`existing_output` finds any.
    """

    def existing_output(self, others: Sequence[object]) -> str | None:
        """What ``open`` would replace (say ``"out/x.csv holds rows"``), or None; output that one of ``others``
        (the pipeline's other sinks) writes is not this sink's. Reads, changes nothing."""
        return None


# Words for the delivery plan and its messages. Each is a capability of its own, so that adding one later leaves
# the components written before it usable: they are described in general words instead.


@runtime_checkable
class NamedPositions(Protocol):
    """A resuming source that says what its positions are."""

    @property
    def positions_name(self) -> str:
        """What its positions are called (``"kafka offsets"``); without it, "the source's positions"."""
        return "positions"


@runtime_checkable
class NamedTransaction(Protocol):
    """A :class:`TransactionalSink` that says what its transaction is."""

    @property
    def transaction_name(self) -> str:
        """What its transaction is called (``"PostgreSQL transaction"``); without it, "the sink's transaction"."""
        return "transaction"


@runtime_checkable
class KeepableOutput(Protocol):
    """An :class:`OverwritingSink` that says how it is told to keep earlier output."""

    def keeping_output(self) -> str:
        """The option that keeps earlier output (``"set append: true"``); without it, "configure it to keep it"."""
        return "configure it to keep it"
