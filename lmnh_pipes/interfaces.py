"""The three component Protocols and their Go-like lifecycle.

Every component is built from its options (its constructor's keyword arguments),
then used in this order by the runner::

    open()  ->  read()/validate()/write() many times  ->  ack() (sources)  ->  close()

``close`` is always called once ``open`` has returned, on every path, in the
reverse order of opening. A component may leave out ``open``, ``close``, a source's
``ack`` and a validator's ``name``: the runner treats them as no-ops. It must have
``read``, ``validate`` or ``write``; a pipeline with a component that lacks it is
refused when it is built. Inheriting one of these Protocols gives the defaults.

What else a component may implement, and what the core then does, is in
:mod:`lmnh_pipes.capabilities` (checks, readiness, size, tap) and
:mod:`lmnh_pipes.delivery` (positions, transactions, held commits: the delivery plan).

Raising, in any method:

* :class:`~lmnh_pipes.errors.ConfigError` from ``open``: the configuration is wrong (for example a catalogue
  that does not exist). The run stops before reading anything and exits 2.
* :class:`~lmnh_pipes.errors.TransientError`: an outage. The runner retries the same call with back-off.
* anything else: the run stops without acknowledging the batch in hand, and exits 1.

Bad data is never raised: a validator returns the record with a rejection attached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .records import Record

__all__ = ["Sink", "Source", "Validator"]


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


_MOVED = {
    "OfflineCheck": "capabilities",
    "OnlineCheck": "capabilities",
    **dict.fromkeys(
        (
            "BufferingSink",
            "DrainingSource",
            "HoldingSource",
            "OverwritingSink",
            "PositionStore",
            "Positions",
            "ReplayableSource",
            "TransactionalSink",
        ),
        "delivery",
    ),
}


def __getattr__(name: str) -> object:
    # Plug-ins written before the capabilities moved out of this module keep importing them from here, warned.
    if name in _MOVED:
        import importlib
        import warnings

        module = f"lmnh_pipes.{_MOVED[name]}"
        warnings.warn(f"import {name} from {module}, not lmnh_pipes.interfaces", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
