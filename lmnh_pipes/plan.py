"""The delivery plan: how a pipeline delivers, decided once from its components before anything opens.

:func:`plan_delivery` looks at the source and the sinks' :mod:`~lmnh_pipes.delivery` capabilities, refuses the
combinations that could lose acknowledged records, and returns a :class:`DeliveryPlan`. ``lmnh-pipes check``
prints it, the run report carries it, and the runner follows it without asking the components again.
"""

from __future__ import annotations

import enum
import functools
import operator
from collections.abc import Callable
from typing import TypeVar

import attrs

from .delivery import (
    BufferingSink,
    DrainingSource,
    HoldingSource,
    KeepableOutput,
    NamedPositions,
    NamedTransaction,
    OverwritingSink,
    ReplayableSource,
    ResumingSource,
    TransactionalSink,
)
from .errors import ConfigError, Problem
from .interfaces import Sink, Source

__all__ = ["DEFAULT_NAME", "DeliveryPlan", "Guarantee", "plan_delivery", "resumes"]

T = TypeVar("T")

#: The name of a pipeline that was given none.
DEFAULT_NAME = "pipeline"


class Guarantee(enum.Enum):
    """What a crash can do to the records of a pipeline."""

    #: A batch is acknowledged to the source after it was written: a crash re-writes the batch in hand.
    AT_LEAST_ONCE = "at-least-once"
    #: Rows, rejects and the source's positions are written in one transaction: a crash re-writes nothing.
    EXACTLY_ONCE = "exactly-once"
    #: A sink is durable only when it closes, so the source commits only after a clean close.
    HELD_UNTIL_CLOSE = "commits held until close"


@attrs.frozen(kw_only=True)
class DeliveryPlan:
    """How one pipeline delivers a batch. ``str(plan)`` is the line ``lmnh-pipes check`` prints."""

    guarantee: Guarantee
    #: Why, in a few words: what is written together, and when the source commits.
    detail: str
    #: Exactly-once: the source resumes from the sink's stored positions, and the sink's ``write_batch`` writes.
    positions_in_sink: bool = False
    #: The rejects are written inside the sink's transaction (else before the rows, at least once).
    rejects_joined: bool = False
    #: The source holds its commits until every sink closed without an error.
    commits_held: bool = False
    #: The source calls the runner's drain before it gives partitions up.
    drains: bool = False
    #: What the operator should know at start (logged by the run; printed by ``check``).
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.guarantee.value} ({self.detail})"


def plan_delivery(
    source: Source,
    sink: Sink,
    rejects: Sink | None,
    *,
    name: str,
    locate: Callable[[object, ConfigError], ConfigError] = lambda component, exc: exc,
) -> DeliveryPlan:
    """Decide how this pipeline delivers. Raises :class:`~lmnh_pipes.errors.ConfigError` (every problem, each
    placed at its component by ``locate``) if records that it acknowledged could be lost: rejects durable only at
    close beside positions stored with each batch; or, beside a source that resumes after what it committed, a
    sink that would replace the output of an earlier run."""
    sinks = [sink] if rejects is None or rejects is sink else [sink, rejects]
    problems: list[Problem] = []

    def refuse(component: object, message: str) -> None:
        problems.extend(locate(component, ConfigError(message)).problems)

    def ask(component: object, question: str, answer: Callable[[], T], default: T) -> T:
        # A capability that fails to answer (an unreadable folder, an S3 error) is a problem with that component.
        try:
            return answer()
        except ConfigError as exc:
            problems.extend(locate(component, exc).problems)
        except Exception as exc:
            refuse(component, f"cannot tell {question}: {type(exc).__name__}: {exc}")
        return default

    durable_writes = operator.attrgetter("durable_writes")
    buffering = [
        s
        for s in sinks
        if isinstance(s, BufferingSink)
        and not ask(s, "whether its writes are durable", functools.partial(durable_writes, s), True)
    ]
    exactly_once = isinstance(sink, TransactionalSink) and isinstance(source, ReplayableSource)

    if exactly_once and rejects is not None and any(s is rejects for s in buffering):
        refuse(
            rejects,
            f"{type(rejects).__name__} makes its rows durable only when it closes, but this pipeline stores its "
            "positions with each batch, so a crash would lose rejects; write the rejects where each write is "
            "durable, or where the sink can write them in its own transaction",
        )
    if resumes(source):
        for s in sinks:
            if not isinstance(s, OverwritingSink):
                continue
            others = [o for o in sinks if o is not s]
            existing = ask(s, "what opening would replace", functools.partial(s.existing_output, others), None)
            if existing is not None:
                keep = s.keeping_output() if isinstance(s, KeepableOutput) else "configure it to keep it"
                refuse(
                    s,
                    f"{existing}, and opening would replace it; the source resumes after what it committed, so "
                    f"those rows would be lost: {keep}, or move it away",
                )
    if problems:
        raise ConfigError(problems)

    warnings: list[str] = []
    if rejects is None:
        warnings.append("this pipeline has no rejects sink: rejected records are counted, but not kept")
    drains = isinstance(source, DrainingSource)
    held = bool(buffering) and isinstance(source, HoldingSource)
    positions = source.positions_name if isinstance(source, NamedPositions) else "the source's positions"
    if exactly_once:
        assert isinstance(sink, TransactionalSink)
        joined = rejects is not None and ask(sink, "whether the rejects join", lambda: sink.joins(rejects), False)
        if problems:
            raise ConfigError(problems)
        transaction = sink.transaction_name if isinstance(sink, NamedTransaction) else "transaction of the sink"
        if name == DEFAULT_NAME:
            warnings.append(
                f"this pipeline has no name: its stored positions are under the default name {DEFAULT_NAME!r}, "
                "which another unnamed pipeline would share; give it a name"
            )
        if joined:
            detail = f"rows, rejects and {positions} in one {transaction}"
        else:
            kept = "rejects written before each batch, at least once" if rejects else "rejects not kept"
            detail = f"rows and {positions} in one {transaction}; {kept}"
        return DeliveryPlan(
            guarantee=Guarantee.EXACTLY_ONCE,
            detail=detail,
            positions_in_sink=True,
            rejects_joined=joined,
            commits_held=held,
            drains=drains,
            warnings=tuple(warnings),
        )
    names = ", ".join(type(s).__name__ for s in buffering)
    if held:
        return DeliveryPlan(
            guarantee=Guarantee.HELD_UNTIL_CLOSE,
            detail=f"{names} makes its rows durable only when it closes: the source commits only then, so a crash "
            "re-reads everything since the last clean close",
            commits_held=True,
            drains=drains,
            warnings=tuple(warnings),
        )
    if buffering and resumes(source):
        warnings.append(
            f"{names} makes its rows durable only when it closes, but the source commits after each batch: a crash "
            "can lose the rows of committed batches"
        )
    if resumes(source):
        detail = f"{positions} committed after each batch is written"
    else:
        detail = "no stored position: a new run starts the source afresh"
    return DeliveryPlan(guarantee=Guarantee.AT_LEAST_ONCE, detail=detail, drains=drains, warnings=tuple(warnings))


def resumes(source: object) -> bool:
    """Whether ``source`` commits positions and resumes after them when started again."""
    return isinstance(source, (ResumingSource, ReplayableSource, DrainingSource, HoldingSource))
