"""Optional capabilities: what a component may add to its Protocol, and what the core then does with it.

Each capability is a Protocol of its own, found with ``isinstance``. A component that has some of a capability's
members but not all is refused when the pipeline is built (see :mod:`lmnh_pipes.conformance`), so that a misspelt
method name is an error rather than a feature quietly not used. The capabilities that change how a batch is
delivered (positions, transactions, commits) are in :mod:`lmnh_pipes.delivery`.

=====================  ==========  =================================================================
capability             kind        the core then
=====================  ==========  =================================================================
:class:`OfflineCheck`  any         ``lmnh-pipes check`` calls ``check()``
:class:`OnlineCheck`   any         ``lmnh-pipes check --online`` calls ``check_online()``
:class:`Readiness`     source      ``/ready`` is false while ``ready()`` is
:class:`Sized`         source      the progress line shows a percentage and the time left
:class:`FractionDone`  source      the same, from how much of its input the source has read
:class:`Tappable`      source      ``lmnh-pipes tap`` reads from ``for_tap()``'s copy
:class:`Decoding`      source      ``lmnh-pipes test`` gives a case's raw inputs to ``decode(record)``
:class:`Routing`       sink        ``lmnh-pipes test`` compares ``destination(record)`` with a case's
:class:`Refusing`      sink        ``lmnh-pipes test`` rejects what ``refusals(records)`` names
=====================  ==========  =================================================================

The lifecycle methods that a component may leave out (``open``, ``close``, a source's ``ack``, a validator's
``name``) are no-ops: :func:`opener`, :func:`closer`, :func:`acknowledger` and :func:`name_of` give the callable or
value the core uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from .interfaces import Source
from .records import Record

__all__ = [
    "Decoding",
    "FractionDone",
    "OfflineCheck",
    "OnlineCheck",
    "Readiness",
    "Refusing",
    "Routing",
    "Sized",
    "Tappable",
    "acknowledger",
    "closer",
    "name_of",
    "opener",
]


@runtime_checkable
class OfflineCheck(Protocol):
    """A component that can check, without connecting anything, what it needs locally (an input file, a
    catalogue folder). ``lmnh-pipes check`` calls it on a built but unopened component. Raise
    :class:`~lmnh_pipes.errors.ConfigError` naming what is wrong."""

    def check(self) -> None:
        """Check; do not connect to any server, and change nothing."""
        return None


@runtime_checkable
class OnlineCheck(Protocol):
    """A component that can check, by connecting, that what it needs exists (a topic, a table).

    ``lmnh-pipes check --online`` calls it on a built but unopened component. Raise
    :class:`~lmnh_pipes.errors.ConfigError` naming what is missing; connection failures may raise anything.
    """

    def check_online(self) -> None:
        """Connect, check, disconnect."""
        return None


@runtime_checkable
class Readiness(Protocol):
    """A source that is not ready as soon as it opened (a consumer-group member waiting for partitions)."""

    def ready(self) -> bool:
        """Whether it can deliver records now. Called from the metrics server's thread: read state, block never."""
        return True


@runtime_checkable
class Sized(Protocol):
    """A source that knows, before it is opened, about how many records it holds (a local file, a count)."""

    def size_hint(self) -> int | None:
        """About how many records a whole run reads, or None when that is not known. Reads, changes nothing."""
        return None


@runtime_checkable
class FractionDone(Protocol):
    """A source that can say how much of its input it has read, though not how many records that makes (a local
    file: bytes read over bytes in all)."""

    def fraction_done(self) -> float | None:
        """From 0.0 to 1.0, or None when not known (yet). Called on the main thread after every batch, also
        before ``open`` and after ``close``: read state, block never."""
        return None


@runtime_checkable
class Tappable(Protocol):
    """A source that must not be read as it is beside the running pipeline (a consumer-group member would take
    partitions away from it)."""

    def for_tap(self) -> Source:
        """A copy that is safe to read beside the pipeline (the Kafka source: a consumer group of its own)."""
        raise NotImplementedError


@runtime_checkable
class Decoding(Protocol):
    """A source that decodes each record's raw bytes itself before the validators see it (a file of JSON lines),
    rejecting what does not decode. ``lmnh-pipes test`` calls it on a built, unopened source for every input a
    case gives as raw bytes, so that the validators see the record a run would give them."""

    def decode(self, record: Record) -> Record:
        """``record`` (raw bytes and coordinates, no value) as the source would deliver it: with its value, or
        rejected by the source with the reason. Connects to nothing and reads nothing else.

        Raise :class:`ValueError`, with the reason, when the source cannot decode a record on its own (a CSV row
        needs its file's header): the test file must then give the input as a decoded value."""
        return record


@runtime_checkable
class Routing(Protocol):
    """A sink that can say, without connecting or opening anything, where a record would be written (a table
    chosen by a field, a file named by one). ``lmnh-pipes test`` calls it on a built, unopened sink for every
    record the validators accept, and compares the answer with the ``destination`` a test case expects."""

    def destination(self, record: Record) -> str:
        """The table, file or topic that ``record`` would be written to, as the pipeline file names it.

        Raise :class:`ValueError`, with the reason, for a record that the sink would refuse for its content
        without writing it (a route with no table): a test then sees it rejected, as a run would."""
        raise NotImplementedError


@runtime_checkable
class Refusing(Protocol):
    """A sink that can say, without connecting, opening or writing anything, which records its ``write`` would
    refuse for their content (raising :class:`~lmnh_pipes.errors.RecordRejectedError`). ``lmnh-pipes test``
    calls it on a built, unopened sink with a case's accepted records, as one batch, and rejects those it names
    as a run's writer does: by the sink's type, rule ``write``."""

    def refusals(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        """The records of ``records`` that writing them as a run's first batch would refuse, each with the reason
        the refusal would give; an empty list when all would be written. Writes, logs and changes nothing."""
        return []


@runtime_checkable
class _Opens(Protocol):
    def open(self) -> None:
        return None


@runtime_checkable
class _Closes(Protocol):
    def close(self) -> None:
        return None


@runtime_checkable
class _Acks(Protocol):
    def ack(self, records: Sequence[Record]) -> None:
        return None


@runtime_checkable
class _Named(Protocol):
    @property
    def name(self) -> str:
        return ""


def _nothing(*args: Any) -> None:
    return None


def opener(component: object) -> Callable[[], None]:
    """``component.open``, or a no-op when it has none."""
    return component.open if isinstance(component, _Opens) else _nothing


def closer(component: object) -> Callable[[], None]:
    """``component.close``, or a no-op when it has none."""
    return component.close if isinstance(component, _Closes) else _nothing


def acknowledger(source: object) -> Callable[[Sequence[Record]], None]:
    """``source.ack``, or a no-op when it has none (a source that keeps no position)."""
    return source.ack if isinstance(source, _Acks) else _nothing


def name_of(validator: object) -> str:
    """``validator.name``, or its class's name when it has none: what its rejections carry."""
    return validator.name if isinstance(validator, _Named) else type(validator).__name__
