"""A pipeline: one source, a chain of validators, a sink, and an optional rejects sink."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import attrs

from .audit import AuditReport, audit
from .batching import BatchOptions
from .breaker import RejectLimit
from .conformance import conformance_problems
from .errors import ConfigError, Problem
from .http import HttpOptions
from .interfaces import Sink, Source, Validator
from .metrics import Metrics
from .plan import DEFAULT_NAME, DeliveryPlan, plan_delivery
from .records import Record
from .registry import Kind
from .replay import ReplayReport, Selection, replay
from .report import RunReport
from .retry import RetryPolicy
from .runner import Runner
from .validation import apply_validators, validate_all

__all__ = ["BatchOptions", "Pipeline", "apply_validators", "validate_all"]


@attrs.define(kw_only=True)
class Pipeline:
    """Source -> validators -> sink (and rejects). Build it from component objects, or with :func:`load`.

    Raises :class:`~lmnh_pipes.errors.ConfigError` when built with a component that lacks what the runner will call
    (see :mod:`lmnh_pipes.conformance`).
    """

    source: Source
    sink: Sink
    validators: list[Validator] = attrs.field(factory=list)
    rejects: Sink | None = None
    batch: BatchOptions = attrs.field(factory=BatchOptions)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    http: HttpOptions | None = None
    #: Stop before writing a batch that takes the share of rejects past ``max_share``; None: never.
    reject_limit: RejectLimit | None = None
    name: str = DEFAULT_NAME
    #: Where each component was configured (id -> a Problem holding file, line and key path), when built from
    #: a file: errors that components find when opened or checked are reported there.
    origins: dict[int, Problem] = attrs.field(factory=dict, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        problems: list[Problem] = []
        roles: list[tuple[object, Kind]] = [(self.source, "source"), (self.sink, "sink")]
        roles += [(v, "validator") for v in self.validators]
        if self.rejects is not None:
            roles.append((self.rejects, "sink"))
        for component, kind in roles:
            for problem in conformance_problems(component, kind):
                refused = ConfigError(f"{type(component).__qualname__} ({type(component).__module__}): {problem}")
                problems += self.locate(component, refused).problems
        if problems:
            raise ConfigError(problems)

    def locate(self, component: object, exc: ConfigError) -> ConfigError:
        """``exc`` with each problem placed at ``component``'s file, line and key path, when known."""
        origin = self.origins.get(id(component))
        if origin is None:
            return exc
        return ConfigError([p.placed_at(origin) for p in exc.problems])

    def plan(self) -> DeliveryPlan:
        """How this pipeline delivers (at-least-once, exactly-once, or commits held until close), decided from
        its components. Raises :class:`~lmnh_pipes.errors.ConfigError` for a combination that could lose records
        that it acknowledged. Reads local state (an earlier run's output), connects nothing."""
        return plan_delivery(self.source, self.sink, self.rejects, name=self.name, locate=self.locate)

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
        tune_interpreter: bool = False,
    ) -> RunReport:
        """Open everything, run until the source ends, ``limit`` records were read, nothing came for
        ``idle_timeout`` seconds, ``stop`` is set, or SIGINT/SIGTERM; then drain, close, and return the report.
        After a stop, an outage is retried for at most ``shutdown_timeout`` seconds before the run fails.
        ``metrics`` (optional) is kept up to date as the run goes; ``on_batch`` is called after every batch.
        ``tune_interpreter`` applies :func:`~lmnh_pipes.interpreter_tuned` for the run (``lmnh-pipes run`` does);
        off, the host's garbage-collector and thread settings are left as they are.

        Raises :class:`~lmnh_pipes.errors.ConfigError` if the delivery plan refuses the pipeline or a component
        finds its configuration wrong when opened, and :class:`~lmnh_pipes.errors.RunError` if the run failed (the
        batch in hand was not acknowledged): :class:`~lmnh_pipes.errors.RejectLimitError` when ``reject_limit`` was
        crossed.
        """
        runner = Runner(
            pipeline=self.name,
            source=self.source,
            validators=self.validators,
            sink=self.sink,
            rejects=self.rejects,
            plan=self.plan(),
            batch=self.batch,
            retry_policy=self.retry,
            http=self.http,
            reject_limit=self.reject_limit,
            locate=self.locate,
            limit=limit,
            idle_timeout=idle_timeout,
            stop=stop if stop is not None else threading.Event(),
            handle_signals=handle_signals,
            shutdown_timeout=shutdown_timeout,
            tune_interpreter=tune_interpreter,
            metrics=metrics if metrics is not None else Metrics(RunReport(pipeline=self.name)),
            on_batch=on_batch,
        )
        return runner.run()

    def replay(
        self,
        *,
        rule: str | Iterable[str] = (),
        validator: str | Iterable[str] = (),
        limit: int | None = None,
        max_replays: int | None = None,
        dry_run: bool = False,
    ) -> ReplayReport:
        """Run the rejects that the rejects sink stored through the current validators, from the first, and write
        those now accepted to the sink; the rest stay rejects, with their new reasons. ``lmnh-pipes replay``.

        ``rule`` and ``validator`` (one name or several) choose rejects by what refused them; ``limit`` caps how
        many are replayed; ``max_replays`` passes over rejects replayed that often already. ``dry_run`` writes
        and changes nothing, and reports what would be accepted. Raises
        :class:`~lmnh_pipes.errors.ConfigError` when there is no rejects sink or it cannot give its rejects back,
        and :class:`~lmnh_pipes.errors.RunError` when the replay failed (its batch in hand was not settled).
        """
        if self.rejects is None:
            raise ConfigError("the pipeline has no rejects sink: there is nothing to replay")
        selection = Selection(
            rules=frozenset(_names(rule)),
            validators=frozenset(_names(validator)),
            limit=limit,
            max_replays=max_replays,
        )
        try:
            return replay(
                pipeline=self.name,
                source=self.source,
                validators=self.validators,
                sink=self.sink,
                store=self.rejects,
                selection=selection,
                dry_run=dry_run,
                batch_size=self.batch.max_records,
                retry=self.retry,
            )
        except ConfigError as exc:
            raise self.locate(self.rejects, exc) from exc

    def audit(self, *, from_time: datetime | None = None) -> AuditReport:
        """Account for every offset the pipeline read, up to its stored position: each must be one row of the sink
        or one reject, exactly. ``lmnh-pipes audit``; reads, changes nothing. ``from_time`` starts each partition
        at its first record at or after that time, instead of at the smallest offset kept. Raises
        :class:`~lmnh_pipes.errors.ConfigError` when the source cannot list its partitions and positions."""
        try:
            return audit(self.source, self.sink, self.rejects, name=self.name, plan=self.plan(), from_time=from_time)
        except ConfigError as exc:
            raise self.locate(self.source, exc) from exc

    def validate(self, items: Iterable[Any]) -> list[Record]:
        """Run the validator chain alone over dicts, bytes, strings or records (for notebooks).

        The validators must have been opened (``open()``) if they need to load anything.
        """
        return validate_all(self.validators, [Record.of(item) for item in items])


def _names(names: str | Iterable[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)
