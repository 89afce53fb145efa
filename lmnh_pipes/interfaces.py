"""The three component Protocols and their Go-like lifecycle.

Every component is built from its options (its constructor's keyword arguments),
then used in this order by the runner::

    open()  ->  read()/validate()/write() many times  ->  ack() (sources)  ->  close()

``close`` is always called once ``open`` has returned, on every path, in the
reverse order of opening. A component may inherit one of these Protocols to get
the no-op defaults.

Raising, in any method:

* :class:`~lmnh_pipes.errors.ConfigError` from ``open``: the configuration is wrong (for example a catalogue
  that does not exist). The run stops before reading anything and exits 2.
* :class:`~lmnh_pipes.errors.TransientError`: an outage. The runner retries the same call with back-off.
* anything else: the run stops without acknowledging the batch in hand, and exits 1.

Bad data is never raised: a validator returns the record with a rejection attached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from .records import Record

__all__ = [
    "BufferingSink",
    "DrainingSource",
    "HoldingSource",
    "OfflineCheck",
    "OnlineCheck",
    "OverwritingSink",
    "PositionStore",
    "Positions",
    "ReplayableSource",
    "Sink",
    "Source",
    "TransactionalSink",
    "Validator",
]


@runtime_checkable
class Source(Protocol):
    """Where records come from (a Kafka topic, files, a simulator)."""

    def open(self) -> None:
        """Connect. Called once, after the validators were opened and before the sinks are."""
        return

    def read(self, max_records: int, timeout: float) -> Sequence[Record]:
        """Return up to ``max_records`` records, waiting at most ``timeout`` seconds for the first.

        An empty sequence means "nothing yet". Raise :class:`~lmnh_pipes.errors.EndOfInput` when the source
        is finished for good (the end of a file, a simulator's count); a stream never raises it.
        """
        return ()

    def ack(self, records: Sequence[Record]) -> None:
        """Mark ``records`` done: every one of them was durably written, or rejected and written to rejects.

        Called in read order, only after the sinks' ``write`` returned for the whole batch. A source that can
        replay (Kafka) commits its position here; it must never commit past a record it was not given back.
        """
        return

    def close(self) -> None:
        """Commit what is done and disconnect. Called once, on every path, after the sinks were closed."""
        return


@runtime_checkable
class Validator(Protocol):
    """A step that accepts a record (possibly returning a decoded or typed value) or rejects it."""

    @property
    def name(self) -> str:
        """What a rejection by this validator carries as ``reject.validator``."""
        return type(self).__name__

    def open(self) -> None:
        """Load what the rules need (a catalogue). Raise ConfigError if it is missing or empty."""
        return

    def validate(self, record: Record) -> Record:
        """Return the record accepted (``record.with_value(...)`` or itself) or rejected
        (``record.rejected_by(self.name, reason, rule)``). Must not raise for any input data."""
        return record

    def close(self) -> None:
        """Release what ``open`` took."""
        return


@runtime_checkable
class Sink(Protocol):
    """Where records go: the accepted ones, or (as the rejects sink) the rejected ones."""

    def open(self) -> None:
        """Connect, and create what must exist (a file, a header row). Called after the source was opened."""
        return

    def write(self, records: Sequence[Record]) -> None:
        """Write one batch. When this returns, the records are durable: the source may acknowledge them."""
        return

    def close(self) -> None:
        """Flush and disconnect. Called once, on every path, before the source is closed."""
        return


@runtime_checkable
class OfflineCheck(Protocol):
    """Optional: a component that can check, without connecting anything, what it needs locally (an input file,
    a catalogue folder). ``lmnh-pipes check`` calls it on a built but unopened component. Raise
    :class:`~lmnh_pipes.errors.ConfigError` naming what is wrong."""

    def check(self) -> None:
        """Check; do not connect to any server, and change nothing."""
        return None


@runtime_checkable
class OnlineCheck(Protocol):
    """Optional: a component that can check, by connecting, that what it needs exists (a topic, a table).

    ``lmnh-pipes check --online`` calls it on a built but unopened component. Raise
    :class:`~lmnh_pipes.errors.ConfigError` naming what is missing; connection failures may raise anything.
    """

    def check_online(self) -> None:
        """Connect, check, disconnect."""
        return


#: Where a replayable source stands: (topic, partition) -> the next offset to read.
Positions = dict[tuple[str, int], int]


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
    ``.bz2`` stream cannot be flushed part-way). A sink without this attribute is durable at each ``write``."""

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

    Beside a source that resumes after what it committed (Kafka), replacing the output of an earlier run would
    lose its rows for good: the runner then refuses to start (exit 2) while :meth:`existing_output` finds any.
    """

    def existing_output(self, others: Sequence[object]) -> str | None:
        """What ``open`` would replace (say ``"out/x.csv holds rows"``), or None; output that one of ``others``
        (the pipeline's other sinks) writes is not this sink's. Reads, changes nothing."""
        return None
