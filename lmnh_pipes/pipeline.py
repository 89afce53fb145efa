"""A pipeline: one source, a chain of validators, a sink, and an optional rejects sink."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from .errors import ConfigError, Problem
from .http import HttpOptions
from .interfaces import (
    BufferingSink,
    DrainingSource,
    OverwritingSink,
    ReplayableSource,
    Sink,
    Source,
    TransactionalSink,
    Validator,
)
from .metrics import Metrics
from .records import Record
from .report import RunReport
from .retry import RetryPolicy, positive
from .tuning import interpreter_tuned

__all__ = ["BatchOptions", "Pipeline", "apply_validators", "validate_all"]


@attrs.frozen(kw_only=True)
class BatchOptions:
    """How records are grouped for writing: at most ``max_records``, waiting at most ``max_wait`` seconds.
    With ``overlap``, a full batch is written while the next is read and validated (the sinks' ``write`` then
    runs in a writer thread)."""

    max_records: int = attrs.field(default=5000, validator=positive)
    max_wait: float = attrs.field(default=1.0, validator=positive)
    overlap: bool = True


@attrs.define(kw_only=True)
class Pipeline:
    """Source -> validators -> sink (and rejects). Build it from component objects, or with :func:`load`."""

    source: Source
    sink: Sink
    validators: list[Validator] = attrs.field(factory=list)
    rejects: Sink | None = None
    batch: BatchOptions = attrs.field(factory=BatchOptions)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    http: HttpOptions | None = None
    name: str = "pipeline"
    #: Where each component was configured (id -> a Problem holding file, line and key path), when built from
    #: a file: errors that components find when opened or checked are reported there.
    origins: dict[int, Problem] = attrs.field(factory=dict, repr=False, eq=False)

    def locate(self, component: object, exc: ConfigError) -> ConfigError:
        """``exc`` with each problem placed at ``component``'s file, line and key path, when known."""
        origin = self.origins.get(id(component))
        if origin is None:
            return exc
        return ConfigError(
            [
                p
                if p.file is not None
                else attrs.evolve(
                    origin, message=p.message, hint=p.hint, path=f"{origin.path}.{p.path}" if p.path else origin.path
                )
                for p in exc.problems
            ]
        )

    @property
    def exactly_once(self) -> bool:
        """Whether the sink stores the source's positions in its own transaction (a replayable source into a
        transactional sink)."""
        return isinstance(self.sink, TransactionalSink) and isinstance(self.source, ReplayableSource)

    def sinks(self) -> list[Sink]:
        """``sink``, and ``rejects`` when there is one of its own."""
        return [self.sink] if self.rejects is None or self.rejects is self.sink else [self.sink, self.rejects]

    def buffering_sinks(self) -> list[Sink]:
        """The sinks (of ``sink`` and ``rejects``) that make their rows durable only when they close."""
        return [s for s in self.sinks() if isinstance(s, BufferingSink) and not s.durable_writes]

    def check_delivery(self) -> None:
        """Raise :class:`~lmnh_pipes.errors.ConfigError` if records that this pipeline acknowledged could be lost:
        rejects that are durable only at close, beside positions stored with each batch; or, with a source that
        resumes after what it committed, a sink that would replace the output of an earlier run."""
        problems: list[Problem] = []
        if self.exactly_once and any(s is self.rejects for s in self.buffering_sinks()):
            problem = ConfigError(
                f"{type(self.rejects).__name__} makes its rows durable only when it closes, but this pipeline "
                "stores its positions with each batch, so a crash would lose rejects; write the rejects "
                "where each write is durable (a local file, a topic, or the sink's own database)"
            )
            problems += self.locate(self.rejects, problem).problems
        if isinstance(self.source, (ReplayableSource, DrainingSource)):
            sinks = self.sinks()
            for sink in sinks:
                others = [s for s in sinks if s is not sink]
                existing = sink.existing_output(others) if isinstance(sink, OverwritingSink) else None
                if existing is not None:
                    problem = ConfigError(
                        f"{existing}, and opening would replace it; the source resumes after what it committed, "
                        "so those rows would be lost: set append: true, or move it away"
                    )
                    problems += self.locate(sink, problem).problems
        if problems:
            raise ConfigError(problems)

    def run(
        self,
        *,
        limit: int | None = None,
        idle_timeout: float | None = None,
        stop: threading.Event | None = None,
        handle_signals: bool = True,
        shutdown_timeout: float = 30.0,
        metrics: Metrics | None = None,
        on_batch: Callable[[RunReport], None] | None = None,
    ) -> RunReport:
        """Open everything, run until the source ends, ``limit`` records were read, nothing came for
        ``idle_timeout`` seconds, ``stop`` is set, or SIGINT/SIGTERM; then drain, close, and return the report.
        After a stop, an outage is retried for at most ``shutdown_timeout`` seconds before the run fails.
        ``metrics`` (optional) is kept up to date as the run goes; ``on_batch`` is called after every batch.

        Raises :class:`~lmnh_pipes.errors.ConfigError` if a component finds its configuration wrong when opened,
        and :class:`~lmnh_pipes.errors.RunError` if the run failed (the batch in hand was not acknowledged).
        """
        from .runner import run

        return run(
            self,
            limit=limit,
            idle_timeout=idle_timeout,
            stop=stop,
            handle_signals=handle_signals,
            shutdown_timeout=shutdown_timeout,
            metrics=metrics,
            on_batch=on_batch,
        )

    def validate(self, items: Iterable[Any]) -> list[Record]:
        """Run the validator chain alone over dicts, bytes, strings or records (for notebooks).

        The validators must have been opened (``open()``) if they need to load anything.
        """
        with interpreter_tuned():
            return validate_all(self.validators, [Record.of(item) for item in items])


def validate_all(validators: Iterable[Validator], records: Iterable[Record]) -> list[Record]:
    """Pass each record through ``validators`` in order, stopping at its first rejection; the records in order.

    A record that is already rejected passes unchanged: a source may reject what it cannot parse, with a reason more
    precise than a validator's. A validator that raises is a bug, but must not lose the record: it becomes a
    rejection naming the error.
    """
    steps = [(v.validate, getattr(v, "name", type(v).__name__)) for v in validators]
    done: list[Record] = []
    append = done.append
    for record in records:
        if record.reject is None:
            for validate, name in steps:
                try:
                    record = validate(record)
                except Exception as exc:
                    record = record.rejected_by(name, f"validator raised {type(exc).__name__}: {exc}", "error")
                    break
                if record.reject is not None:
                    break
        append(record)
    return done


def apply_validators(validators: Iterable[Validator], record: Record) -> Record:
    """:func:`validate_all` for one record."""
    return validate_all(validators, (record,))[0]
