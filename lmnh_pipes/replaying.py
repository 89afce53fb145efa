"""What a rejects sink and a sink implement so that ``lmnh-pipes replay`` can run stored rejects again.

A replay reads the rejects that a :class:`RejectStore` kept, runs each one's raw bytes, with its original
coordinates, through the pipeline's current validators, writes those now accepted to the sink, and *settles* each
batch in the store: an accepted reject leaves the store; one still refused stays, with its new reason and one more
replay counted. How a batch is kept safe from a crash depends on what the two components can do, and is decided
once, before anything is read (:func:`lmnh_pipes.replay.plan_replay`):

===============================================================  ==============================================
store and sink                                                   a crash half-way
===============================================================  ==============================================
a :class:`ReplayTransaction` sink that ``joins_replay`` the       rolls the batch back: rows and settlement are
store (one database)                                             one transaction
a store read by position (a :class:`~lmnh_pipes.delivery.        the rows and the store's position are one
ReplayableSource`) and a :class:`ReplayTransaction` sink          transaction; the store settles first, and
                                                                 drops on the next replay what it settled twice
a :class:`JournalingStore` beside a :class:`RewindableSink`      the next replay rewinds the sink to where the
                                                                 journal says it stood, unless the settlement
                                                                 was committed
anything else                                                    at least once: rows may be written again
===============================================================  ==============================================

A replay never opens the store as a sink nor writes through it: it calls :meth:`RejectStore.stored_rejects` and
:meth:`RejectStore.settle`, which take what they need, and the store's ``close`` at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from .delivery import Positions
from .records import Meta, Record, Rejection

__all__ = [
    "KEPT_PATHS",
    "JournalingStore",
    "OutputKeeper",
    "RejectStore",
    "ReplayTransaction",
    "RewindableSink",
    "Settlement",
    "StoredReject",
    "reject_of",
]

#: The record paths a rejects store keeps so that a replay can give a reject back as it was: its raw bytes (which
#: it must keep), its coordinates, and its rejection.
KEPT_PATHS: Final = (
    "raw",
    "meta.source",
    "meta.topic",
    "meta.partition",
    "meta.offset",
    "meta.key",
    "meta.timestamp",
    "reject.validator",
    "reject.rule",
    "reject.reason",
    "reject.replays",
)


def reject_of(kept: Mapping[str, Any]) -> Record:
    """The rejected record that a store kept as ``kept``: record path (of :data:`KEPT_PATHS`) -> value; a missing
    or null value is the field's default. A key kept as bytes is text when it is UTF-8, as a source gives it."""
    key = kept.get("meta.key")
    if isinstance(key, bytes | bytearray | memoryview):
        key = bytes(key)
        with contextlib.suppress(UnicodeDecodeError):  # not UTF-8: the key stays bytes
            key = key.decode("utf-8")
    raw = kept.get("raw")
    validator = str(kept.get("reject.validator") or "")
    return Record(
        raw=bytes(raw) if raw is not None else b"",
        meta=Meta(
            source=str(kept.get("meta.source") or ""),
            topic=str(kept.get("meta.topic") or ""),
            partition=int(kept.get("meta.partition") or 0),
            offset=int(kept.get("meta.offset") or 0),
            key=key,
            timestamp=kept.get("meta.timestamp"),
        ),
        reject=Rejection(
            validator=validator,
            reason=str(kept.get("reject.reason") or ""),
            rule=str(kept.get("reject.rule") or validator),
            replays=int(kept.get("reject.replays") or 0),
        ),
    )


@attrs.frozen(kw_only=True)
class StoredReject:
    """One reject as its store gives it back.

    ``record`` has the original ``raw`` bytes, the original coordinates in ``meta`` (topic, partition, offset, key
    and timestamp, as far as the store kept them) and the last ``reject``, whose ``replays`` counts the replays
    that found it still refused. ``handle`` is the store's own name for it (a primary key, a row number, a
    position), handed back to the store in a :class:`Settlement`.
    """

    record: Record
    handle: Hashable
    #: A second copy of a reject that this replay has already given (a replay that crashed after settling left
    #: it): settled as dropped, without a row.
    duplicate: bool = False


@attrs.frozen(kw_only=True)
class Settlement:
    """What a replay decided for one batch of stored rejects.

    - ``accepted``: written now, to be removed from the store.
    - ``rejected``: each still refused, with the record that carries its new ``reject`` (whose ``replays`` is one
      more than before): the store keeps it so.
    - ``dropped``: to be removed without a row (see :attr:`StoredReject.duplicate`).
    - ``passed``: read but not chosen (another rule, replayed too often): a table or a file leaves them as they
      are; a store read by position keeps them readable by a later replay, unchanged.
    - ``positions``: for a store read by position, where its reading stands after this batch (the next offset of
      each of its partitions).
    """

    accepted: Sequence[StoredReject] = ()
    rejected: Sequence[tuple[StoredReject, Record]] = ()
    dropped: Sequence[StoredReject] = ()
    passed: Sequence[StoredReject] = ()
    positions: Positions = attrs.field(factory=dict)


@runtime_checkable
class RejectStore(Protocol):
    """A rejects sink that can give back what it stored: a database table, a file, a dead-letter topic."""

    def stored_rejects(self) -> Iterator[StoredReject]:
        """Every reject stored, oldest first, each with its original raw bytes exactly as they were read.

        Called once per replay, on an unopened component; the iterator takes and releases what it reads with.
        It may stop early (a topic has no end: it stops when nothing more arrives). Raising is an outage or a
        failure, as for a sink's ``write``.
        """
        return iter(())

    def settle(self, settlement: Settlement) -> None:
        """Remove ``settlement.accepted`` and ``settlement.dropped``, and store each of ``settlement.rejected``
        again as its new record (the new reason, one more replay), durably, before returning.

        Raise :class:`~lmnh_pipes.RunError` when some of them are no longer as they were read (another replay
        settled them meanwhile): nothing of the settlement may be applied then.
        """
        return None


@runtime_checkable
class ReplayTransaction(Protocol):
    """A sink that writes a replayed batch's rows together with the batch's settlement, or with the position of the
    store it was read from, in one transaction."""

    def joins_replay(self, store: RejectStore) -> bool:
        """True when ``store`` can settle inside this sink's transaction (the same database)."""
        return False

    def write_replayed(
        self, pipeline: str, accepted: Sequence[Record], settlement: Settlement, store: RejectStore | None
    ) -> int:
        """Write ``accepted`` and, in the same transaction, settle ``settlement`` in ``store`` (when given: it
        joins) and store ``settlement.positions`` for ``pipeline`` (when any: a store read by position, which
        resumes from :meth:`~lmnh_pipes.delivery.PositionStore.stored_positions`). Returns how many rows were
        written. Raising: as for ``write``; nothing may be committed then."""
        return 0


@runtime_checkable
class JournalingStore(Protocol):
    """A :class:`RejectStore` that can journal a replay's batch, so that a crash between writing its rows and
    settling it is undone by the next replay, with a :class:`RewindableSink`."""

    def unfinished_replay(self) -> Mapping[str, Any] | None:
        """The sink's mark journalled by a replay whose settlement was never committed, or None. Reads only."""
        return None

    def begin_replay(self, mark: Mapping[str, Any]) -> None:
        """Journal ``mark`` durably, before the batch's rows are written. The next :meth:`RejectStore.settle`
        ends the journal in the same step that commits the settlement."""
        return None

    def abandon_replay(self) -> None:
        """Forget the unfinished replay's journal, once the sink was rewound to its mark."""
        return None


@runtime_checkable
class RewindableSink(Protocol):
    """A sink whose output can be cut back to where it stood (files appended to)."""

    def output_mark(self) -> Mapping[str, Any]:
        """Where the output stands now (a JSON-able mapping, such as each file's length). Called on an open sink,
        with everything written so far durable."""
        return {}

    def rewind(self, mark: Mapping[str, Any]) -> None:
        """Cut the output back to ``mark``: what was written after it is gone. Called on an unopened sink."""
        return None


@runtime_checkable
class OutputKeeper(Protocol):
    """An :class:`~lmnh_pipes.delivery.OverwritingSink` that can be told to add to its output instead."""

    def keep_output(self) -> None:
        """Called before ``open``: open adding to the earlier output, not replacing it (a replay adds rows)."""
        return None
