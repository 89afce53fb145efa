"""The run loop: read, validate, write, acknowledge, as the pipeline's delivery plan says.

A batch's life::

    main thread                                         writer thread
    -----------                                         -------------
    read      source.read() until batch.max_records,
              or batch.max_wait after its first record
    validate  validate_all(validators, records)
    write     hand the Batch to the writer  ------->    Writer.write(batch): rejects that cannot join first,
              (read and validate the next batch          then the rows (exactly-once: rows, positions and
               meanwhile)                                joined rejects in one write_batch transaction)
    ack       wait for it, then source.ack(records) <---
              and count it in the report

Only one batch is ever being written; the next waits for it before it is handed over, and batches are acknowledged
in the order they were read. Without ``batch.overlap`` the write runs on the main thread.

**A rebalance.** A :class:`~lmnh_pipes.delivery.DrainingSource` calls :meth:`Runner.drain` from inside its
``read`` before it gives partitions up: the records read so far are validated, written and acknowledged there and
then (the drain is re-entrant: it finishes the batch being written first), so the partitions' next owner starts
exactly after them.

**A failure.** An outage (:class:`~lmnh_pipes.errors.TransientError`) is retried with back-off by
:class:`~lmnh_pipes.stopping.StoppableRetry`. Anything else, or an outage past the retry budget, stops the run: the
batch in hand and every later one stay unacknowledged (a drain after a failure does nothing), the components are
closed in reverse order, and :func:`Runner.run` raises :class:`~lmnh_pipes.errors.RunError`. With commits held
until close, the source releases them only after every sink closed without an error.

**A reject limit** (``reject_limit``): each batch is judged by a :class:`~lmnh_pipes.breaker.RejectWindow` once
validated and once the batch before it is written and acknowledged. A batch that takes the share of rejects past
``max_share`` is neither written nor acknowledged: the run stops with
:class:`~lmnh_pipes.errors.RejectLimitError`, and the next run reads it again.

**A stop** (the end of the source, ``limit``, ``idle_timeout``, the ``stop`` event or a signal): the batch in hand
is written and acknowledged, then everything closes.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from types import TracebackType

import attrs

from .batching import BatchOptions
from .breaker import RejectLimit, RejectWindow
from .capabilities import Readiness, acknowledger, closer, opener
from .delivery import DrainingSource, HoldingSource, ReplayableSource, ResumingSource, TransactionalSink
from .errors import ConfigError, EndOfInput, LmnhPipesError, RejectLimitError, RunError, TransientError
from .http import HttpOptions, MetricsServer
from .interfaces import Sink, Source, Validator
from .metrics import Metrics
from .plan import DeliveryPlan
from .positioning import LaggingSource
from .records import Record
from .report import RunReport
from .retry import RetryPolicy
from .stopping import StoppableRetry, stop_on_signals
from .tuning import interpreter_tuned
from .validation import validate_all
from .writer import Batch, Writer

__all__ = ["Runner"]

log = logging.getLogger("lmnh_pipes.runner")

#: How long one empty read may block while nothing is pending, so that stops are noticed promptly.
POLL_INTERVAL = 0.25


@attrs.define(kw_only=True)
class Runner:
    """One run of a pipeline's components, following ``plan``. :meth:`lmnh_pipes.Pipeline.run` builds it."""

    pipeline: str
    source: Source
    validators: Sequence[Validator]
    sink: Sink
    rejects: Sink | None
    plan: DeliveryPlan
    batch: BatchOptions
    retry_policy: RetryPolicy
    #: Kept up to date as the run goes; its report is what :meth:`run` returns.
    metrics: Metrics
    http: HttpOptions | None = None
    reject_limit: RejectLimit | None = None
    #: Places a component's ConfigError at its file, line and key path.
    locate: Callable[[object, ConfigError], ConfigError] = lambda component, exc: exc
    limit: int | None = None
    idle_timeout: float | None = None
    stop: threading.Event = attrs.field(factory=threading.Event)
    handle_signals: bool = True
    shutdown_timeout: float = 30.0
    tune_interpreter: bool = False
    on_batch: Callable[[RunReport], None] | None = None

    _pending: list[Record] = attrs.field(factory=list, init=False)
    _in_flight: Future[Batch] | None = attrs.field(default=None, init=False)
    _failed: bool = attrs.field(default=False, init=False)
    _executor: ThreadPoolExecutor | None = attrs.field(default=None, init=False)
    _retry: StoppableRetry = attrs.field(init=False)
    _writer: Writer = attrs.field(init=False)
    _ack: Callable[[Sequence[Record]], None] = attrs.field(init=False)
    _window: RejectWindow | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        self.metrics.report.delivery = self.plan
        self._retry = StoppableRetry(self.retry_policy, self.stop, self.shutdown_timeout, self._count_retry)
        self._writer = Writer(
            plan=self.plan,
            pipeline=self.pipeline,
            sink=self.sink,
            rejects=self.rejects,
            retry=self._retry,
            metrics=self.metrics,
        )
        self._ack = acknowledger(self.source)
        if self.reject_limit is not None:
            self._window = RejectWindow(self.reject_limit)
            self.metrics.reject_share = 0.0

    @property
    def report(self) -> RunReport:
        """The run's counts, kept up to date as it goes."""
        return self.metrics.report

    def run(self) -> RunReport:
        """Open everything, run until a stop, drain, close, and return the report. Raises
        :class:`~lmnh_pipes.errors.ConfigError` if a component finds its configuration wrong when opened, and
        :class:`~lmnh_pipes.errors.RunError` if the run failed."""
        metrics, report = self.metrics, self.report
        started = time.monotonic()
        try:
            with ExitStack() as stack:
                if self.http is not None:
                    server = MetricsServer(self.http, metrics)
                    server.open()
                    stack.callback(server.close)
                if self.handle_signals:
                    stack.enter_context(stop_on_signals(self.stop))
                if self.tune_interpreter:
                    stack.enter_context(interpreter_tuned())
                self._open(stack)
                try:
                    report.stopped_by = self._loop()
                    self.drain()
                except BaseException:
                    self._failed = True
                    raise
                finally:
                    if self._executor is not None:
                        self._executor.shutdown(wait=True, cancel_futures=True)
        except (ConfigError, RunError) as exc:
            metrics.errors[type(exc).__name__] += 1
            raise
        except LmnhPipesError as exc:
            metrics.errors[type(exc).__name__] += 1
            raise RunError(str(exc)) from exc
        except Exception as exc:
            # Also what a close raises: a sink whose final flush fails has not durably written its last batch.
            metrics.errors[type(exc).__name__] += 1
            raise RunError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            metrics.running = False
            report.seconds = time.monotonic() - started
        return report

    def _open(self, stack: ExitStack) -> None:
        """Set the source up as the plan says, then open every component; each closes, in reverse, on every path."""
        plan, source, metrics = self.plan, self.source, self.metrics
        if plan.positions_in_sink:
            assert isinstance(source, ReplayableSource)
            assert isinstance(self.sink, TransactionalSink)
            source.use_position_store(self.sink, self.pipeline)
        if plan.drains:
            assert isinstance(source, DrainingSource)
            source.drain_with(self.drain)
        if isinstance(source, Readiness):
            metrics.source_ready = source.ready
        if isinstance(source, ResumingSource):
            metrics.positions = source.committed_positions
        if isinstance(source, LaggingSource):
            metrics.lag = source.lag
        # A server that is not there yet is waited for retry.startup_timeout, the same for every component.
        opening = StoppableRetry(self.retry_policy.at_startup(), self.stop, self.shutdown_timeout, self._count_retry)
        # The source opens before the sinks, so that a wrong source path cannot truncate an output first;
        # it then closes after them, so that its final commit follows the sinks' final flush.
        for component in (*self.validators, source, self.sink, self.rejects):
            if component is None:
                continue
            try:
                opening.call(f"opening {type(component).__name__}", opener(component))
            except ConfigError as exc:
                raise self.locate(component, exc) from exc
            stack.callback(closer(component))
            if plan.commits_held and component is source:
                assert isinstance(source, HoldingSource)
                source.hold_commits()  # once opened: the source's close ends the hold, whatever happens next
                # Runs after the sinks' close (a stack unwinds in reverse), and sees what it raised.
                stack.push(self._release_commits)
        metrics.sink_ok = True
        metrics.running = True
        log.info("delivery: %s", plan)
        for warning in plan.warnings:
            log.warning("%s", warning)

    def _release_commits(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        """An exit callback: once the sinks have closed without an error (their rows durable), commit."""
        if exc_type is None:
            assert isinstance(self.source, HoldingSource)
            self.source.release_commits()
        return False

    def _loop(self) -> str:
        """Read, and hand each full or due batch to the writer, until a stop; return what stopped the run."""
        report, pending = self.report, self._pending
        max_records, max_wait = self.batch.max_records, self.batch.max_wait
        due = 0.0  # when the pending batch must be written, however small
        last_record = time.monotonic()
        while True:
            if self.stop.is_set():
                return "signal"
            room = max_records - len(pending)
            if self.limit is not None:
                room = min(room, self.limit - report.read)
            if room <= 0 and not pending:
                return "limit"
            got, ended = self._read(room, max(0.0, due - time.monotonic()) if pending else min(POLL_INTERVAL, max_wait))
            now = time.monotonic()
            if got:
                if not pending:
                    due = now + max_wait
                pending.extend(got)
                last_record = now
            limit_reached = self.limit is not None and report.read >= self.limit
            finishing = ended or limit_reached or self.stop.is_set()
            if len(pending) >= max_records and not finishing:
                self._write_next()  # a full batch: written while the next one is read
            elif pending and (finishing or now >= due):
                self.drain()
            elif not got:
                self._acknowledge()  # the source is quiet: acknowledge the batch written meanwhile
            if ended:
                return "end of input"
            if limit_reached:
                return "limit"
            if not got and self.idle_timeout is not None and now - last_record >= self.idle_timeout:
                return "idle timeout"

    def _read(self, room: int, timeout: float) -> tuple[Sequence[Record], bool]:
        """Up to ``room`` records, and whether the source has ended."""
        if room <= 0:
            return (), False
        try:
            got = self._retry.call("reading the source", functools.partial(self.source.read, room, timeout))
        except EndOfInput:
            return (), True
        if got:
            with self.metrics.lock:
                self.report.read += len(got)
        return got, False

    def drain(self) -> None:
        """Write and acknowledge every record read so far (also called by a source about to lose partitions)."""
        # After a failure the batch in hand must stay unwritten and unacknowledged, even when closing the
        # source revokes its partitions.
        if self._failed:
            return
        self._write_next()
        self._acknowledge()

    def _write_next(self) -> None:
        """Validate the records read so far and hand them to the writer, once the batch before them is
        acknowledged; with ``batch.overlap`` the writer works in a thread while the next batch is read."""
        if not self._pending or self._failed:
            return
        started = time.monotonic()
        batch = Batch.of(validate_all(self.validators, self._pending), started)
        self._pending.clear()
        self._acknowledge()
        self._judge(batch)
        if self.batch.overlap:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lmnh-pipes-writer")
            self._in_flight = self._executor.submit(self._writer.write, batch)
        else:
            self._in_flight = _completed(self._writer.write(batch))

    def _judge(self, batch: Batch) -> None:
        """Count the batch's rejects in the reject limit's window; raise :class:`RejectLimitError`, before the
        batch is handed over, if they crossed the limit (the batch before it is already acknowledged)."""
        window = self._window
        if window is None:
            return
        crossing = window.add(batch.records)
        metrics = self.metrics
        metrics.reject_share = window.share
        if crossing is not None:
            metrics.reject_share = crossing.share
            metrics.reject_limit_tripped = True
            self.report.stopped_by = "reject limit"
            raise RejectLimitError(str(crossing))

    def _acknowledge(self) -> None:
        """Wait for the batch being written, then acknowledge it to the source and count it."""
        if self._in_flight is None:
            return
        future, self._in_flight = self._in_flight, None
        batch = future.result()
        metrics, report = self.metrics, self.report
        metrics.sink_ok = True
        committing = time.monotonic()
        self._retry.call("acknowledging to the source", functools.partial(self._ack, batch.records))
        finished = time.monotonic()
        with metrics.lock:
            report.written += batch.written
            report.rejects_written += batch.rejects_written
            report.rejected_by.update([(r.reject.validator, r.reject.rule) for r in batch.rejected if r.reject])
            report.accepted += len(batch.accepted)
            report.rejected += len(batch.rejected)
            report.batches += 1
            metrics.batch_seconds.observe(committing - batch.started)
            metrics.commit_seconds.observe(finished - committing)
        log.debug("batch %d: %d accepted, %d rejected", report.batches, len(batch.accepted), len(batch.rejected))
        if self.on_batch is not None:
            self.on_batch(report)

    def _count_retry(self, what: str, exc: TransientError) -> None:
        metrics = self.metrics
        with metrics.lock:
            metrics.retries[what] += 1
            metrics.errors[type(exc).__name__] += 1
        if what.startswith("writing"):
            metrics.sink_ok = False


def _completed(batch: Batch) -> Future[Batch]:
    future: Future[Batch] = Future()
    future.set_result(batch)
    return future
