"""The run loop: read, validate, write, acknowledge; batching, stop conditions, signals, metrics, the report.

Ordering guarantee: a batch is acknowledged to the source only after the sink's ``write`` (and the rejects
sink's) returned for every record of it, and batches are acknowledged in the order they were read. If a write
fails, neither that batch nor any later one is acknowledged, and the run fails.

Overlap (``batch.overlap``, on by default): a full batch is written in one writer thread while the main thread
reads and validates the next; the source is only ever used from the main thread.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, TypeVar

import attrs

from .errors import ConfigError, EndOfInput, LmnhPipesError, RecordRejectedError, RunError
from .http import MetricsServer
from .interfaces import DrainingSource, HoldingSource, ReplayableSource, TransactionalSink
from .metrics import Metrics
from .records import Record
from .report import RunReport
from .retry import RetryPolicy
from .tuning import interpreter_tuned

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["run"]

log = logging.getLogger("lmnh_pipes.runner")
T = TypeVar("T")

#: How long one empty read may block while nothing is pending, so that stops are noticed promptly.
POLL_INTERVAL = 0.25


def run(
    pipeline: Pipeline,
    *,
    limit: int | None = None,
    idle_timeout: float | None = None,
    stop: threading.Event | None = None,
    handle_signals: bool = True,
    shutdown_timeout: float = 30.0,
    metrics: Metrics | None = None,
    on_batch: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Run ``pipeline``; see :meth:`Pipeline.run`."""
    stop = stop if stop is not None else threading.Event()
    metrics = metrics if metrics is not None else Metrics(RunReport(pipeline=pipeline.name))
    state = _Run(
        pipeline=pipeline,
        metrics=metrics,
        stop=stop,
        limit=limit,
        idle_timeout=idle_timeout,
        retry=_Retry(pipeline.retry, stop, shutdown_timeout, metrics),
        on_batch=on_batch,
    )
    report = metrics.report
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            if pipeline.http is not None:
                server = MetricsServer(pipeline.http, metrics)
                server.open()
                stack.callback(server.close)
            if handle_signals:
                stack.enter_context(_stop_on_signals(stop))
            stack.enter_context(interpreter_tuned())
            state.open(stack)
            state.loop()
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


@attrs.define
class _Retry:
    """The pipeline's retry policy, counted in the metrics, and cut short once a stop has waited
    ``shutdown_timeout`` seconds."""

    policy: RetryPolicy
    stop: threading.Event
    shutdown_timeout: float
    metrics: Metrics
    _stopped_at: float | None = None

    def give_up(self) -> bool:
        if not self.stop.is_set():
            return False
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()
        return time.monotonic() - self._stopped_at >= self.shutdown_timeout

    def remaining(self) -> float:
        """Seconds left of the shutdown time (all of it while no stop was asked for)."""
        if self._stopped_at is None:
            return self.shutdown_timeout
        return self.shutdown_timeout - (time.monotonic() - self._stopped_at)

    def call(self, what: str, fn: Callable[[], T]) -> T:
        def counted(exc: BaseException) -> None:
            with self.metrics.lock:
                self.metrics.retries[what] += 1
                self.metrics.errors[type(exc).__name__] += 1
            if what.startswith("writing"):
                self.metrics.sink_ok = False

        def sleep(seconds: float) -> None:
            # A stop wakes the back-off at once, so that the shutdown time counts from the stop itself.
            if not self.stop.is_set():
                if self.stop.wait(seconds):
                    self.give_up()
                return
            time.sleep(min(seconds, max(0.0, self.remaining())))

        return self.policy.call(what, fn, self.give_up, on_retry=counted, sleep=sleep)


@attrs.define(kw_only=True)
class _Run:
    pipeline: Pipeline
    metrics: Metrics
    stop: threading.Event
    limit: int | None
    idle_timeout: float | None
    retry: _Retry
    on_batch: Callable[[RunReport], None] | None
    pending: list[Record] = attrs.field(factory=list)
    failed: bool = False
    writer: ThreadPoolExecutor | None = None
    in_flight: tuple[list[Record], float, Future[tuple[list[Record], list[Record], int, int]]] | None = None

    @property
    def report(self) -> RunReport:
        return self.metrics.report

    def open(self, stack: ExitStack) -> None:
        p = self.pipeline
        p.check_delivery()
        holding = self._hold_commits()
        if p.exactly_once:
            assert isinstance(p.source, ReplayableSource)
            assert isinstance(p.sink, TransactionalSink)
            p.source.use_position_store(p.sink, p.name)
        if isinstance(p.source, DrainingSource):
            p.source.drain_with(self.drain)
        ready = getattr(p.source, "ready", None)
        if callable(ready):
            self.metrics.source_ready = ready
        positions = getattr(p.source, "committed_positions", None)
        if callable(positions):
            self.metrics.positions = positions
        # The source opens before the sinks, so that a wrong source path cannot truncate an output first;
        # it then closes after them, so that its final commit follows the sinks' final flush.
        for component in (*p.validators, p.source, p.sink, p.rejects):
            if component is None:
                continue
            try:
                self.retry.call(f"opening {type(component).__name__}", component.open)
            except ConfigError as exc:
                raise p.locate(component, exc) from exc
            stack.callback(component.close)
            if holding and component is p.source:
                assert isinstance(p.source, HoldingSource)
                p.source.hold_commits()  # once opened: the source's close ends the hold, whatever happens next
                # Runs after the sinks' close (a stack unwinds in reverse), and sees what it raised.
                stack.push(self._release_commits)
        self.metrics.sink_ok = True
        self.metrics.running = True
        if p.rejects is None:
            log.warning("this pipeline has no rejects sink: rejected records are counted, but not kept")
        if p.exactly_once and p.name == "pipeline":
            log.warning(
                "this pipeline has no name: its stored positions are under the default name 'pipeline', "
                "which another unnamed pipeline would share; give it a name"
            )

    def _hold_commits(self) -> bool:
        """Whether the source's commits are to be held back until the sinks close (a sink whose rows are durable
        only when it closes, and a source that can hold them)."""
        p = self.pipeline
        buffering = p.buffering_sinks()
        if not buffering:
            return False
        names = ", ".join(type(s).__name__ for s in buffering)
        if isinstance(p.source, HoldingSource):
            log.info("%s makes its rows durable only when it closes: the source commits only then", names)
            return True
        if isinstance(p.source, DrainingSource):
            log.warning(
                "%s makes its rows durable only when it closes, but the source commits after each batch: a crash "
                "can lose the rows of committed batches",
                names,
            )
        return False

    def _release_commits(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        """An exit callback: once the sinks have closed without an error (their rows durable), commit."""
        if exc_type is None:
            assert isinstance(self.pipeline.source, HoldingSource)
            self.pipeline.source.release_commits()
        return False

    def drain(self) -> None:
        """Write and acknowledge every record read so far (also called by a source about to lose partitions)."""
        # After a failure the batch in hand must stay unwritten and unacknowledged, even when closing the
        # source revokes its partitions.
        if self.failed:
            return
        self.submit()
        self.settle()

    def submit(self) -> None:
        """Validate the records read so far and hand them to the writer; with ``batch.overlap`` the writer works
        in a thread while the next batch is read and validated. The previous batch is settled first."""
        if not self.pending or self.failed:
            return
        from .pipeline import validate_all

        started = time.monotonic()
        done = validate_all(self.pipeline.validators, self.pending)
        self.pending.clear()
        self.settle()
        if self.pipeline.batch.overlap:
            if self.writer is None:
                self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lmnh-pipes-writer")
            self.in_flight = (done, started, self.writer.submit(self._write_batch, done))
        else:
            self.in_flight = (done, started, _completed(self._write_batch(done)))

    def settle(self) -> None:
        """Wait for the batch being written, then acknowledge it to the source and count it."""
        if self.in_flight is None:
            return
        done, started, future = self.in_flight
        self.in_flight = None
        accepted, rejected, written, rejects_written = future.result()
        self.metrics.sink_ok = True
        committing = time.monotonic()
        self.retry.call("acknowledging to the source", functools.partial(self.pipeline.source.ack, done))
        finished = time.monotonic()
        report = self.report
        with self.metrics.lock:
            report.written += written
            report.rejects_written += rejects_written
            # Every record of `rejected` has its rejection (the sinks' split made it so).
            report.rejected_by.update([(r.reject.validator, r.reject.rule) for r in rejected])  # type: ignore[union-attr]
            report.accepted += len(accepted)
            report.rejected += len(rejected)
            report.batches += 1
            self.metrics.batch_seconds.observe(committing - started)
            self.metrics.commit_seconds.observe(finished - committing)
        log.debug("batch %d: %d accepted, %d rejected", report.batches, len(accepted), len(rejected))
        if self.on_batch is not None:
            self.on_batch(report)

    def loop(self) -> None:
        try:
            self._poll()
        except BaseException:
            self.failed = True
            raise
        finally:
            if self.writer is not None:
                self.writer.shutdown(wait=True, cancel_futures=True)

    def _poll(self) -> None:
        source, report = self.pipeline.source, self.report
        max_records = self.pipeline.batch.max_records
        max_wait = self.pipeline.batch.max_wait
        limit, pending = self.limit, self.pending
        batch_deadline = 0.0
        last_record = time.monotonic()
        while True:
            if self.stop.is_set():
                report.stopped_by = "signal"
                break
            want = max_records - len(pending)
            if limit is not None:
                want = min(want, limit - report.read)
            if want <= 0 and not pending:
                report.stopped_by = "limit"
                break
            now = time.monotonic()
            timeout = max(0.0, batch_deadline - now) if pending else min(POLL_INTERVAL, max_wait)
            ended = False
            got: Sequence[Record] = ()
            if want > 0:
                try:
                    got = self.retry.call("reading the source", functools.partial(source.read, want, timeout))
                except EndOfInput:
                    ended = True
            now = time.monotonic()
            if got:
                if not pending:
                    batch_deadline = now + max_wait
                pending.extend(got)
                with self.metrics.lock:
                    report.read += len(got)
                last_record = now
            limit_reached = limit is not None and report.read >= limit
            if pending and len(pending) >= max_records and not (ended or limit_reached or self.stop.is_set()):
                self.submit()  # a full batch: write it while the next one is read
            elif pending and (now >= batch_deadline or ended or limit_reached or self.stop.is_set()):
                self.drain()
            elif not got and self.in_flight is not None:
                self.settle()  # the source is quiet: acknowledge the batch written meanwhile
            if ended:
                report.stopped_by = "end of input"
                break
            if limit_reached:
                report.stopped_by = "limit"
                break
            if not got and self.idle_timeout is not None and now - last_record >= self.idle_timeout:
                report.stopped_by = "idle timeout"
                break
        self.drain()

    def _write_batch(self, done: list[Record]) -> tuple[list[Record], list[Record], int, int]:
        accepted = [r for r in done if r.reject is None]
        rejected = [r for r in done if r.reject is not None]
        return self._write(accepted, rejected)

    def _write(self, accepted: list[Record], rejected: list[Record]) -> tuple[list[Record], list[Record], int, int]:
        """Write a batch; records that the sink refuses for their content become rejects, and the rest is
        written again. Returns the accepted and rejected records as they finally are, and how many records
        the sink and the rejects sink wrote."""
        p, retry = self.pipeline, self.retry
        sink, rejects = p.sink, p.rejects
        exactly_once = p.exactly_once
        joined = exactly_once and rejects is not None and isinstance(sink, TransactionalSink) and sink.joins(rejects)
        # Rejects that cannot join the sink's transaction are written first: a crash replays them (at least once).
        outside = [] if joined else rejected
        rejects_written = 0
        while True:
            if outside and rejects is not None:
                retry.call("writing to the rejects sink", functools.partial(rejects.write, outside))
                rejects_written += len(outside)
            outside = []
            try:
                if exactly_once:
                    assert isinstance(sink, TransactionalSink)
                    written: int = retry.call(
                        "writing to the sink",
                        functools.partial(sink.write_batch, p.name, accepted, rejected, rejects if joined else None),
                    )
                else:
                    if accepted:
                        retry.call("writing to the sink", functools.partial(sink.write, accepted))
                    written = len(accepted)
            except RecordRejectedError as exc:
                refused = {id(r): reason for r, reason in exc.records}
                newly = [r.rejected_by(exc.sink, refused[id(r)], "write") for r in accepted if id(r) in refused]
                if not newly or len(newly) != len(refused):
                    raise RunError(f"{exc} (the refused records are not of this batch)") from exc
                log.warning(
                    "%s refused %d record(s); they go to the rejects",
                    exc.sink,
                    len(newly),
                    extra={
                        "topic": newly[0].meta.topic,
                        "partition": newly[0].meta.partition,
                        "offset": newly[0].meta.offset,
                    },
                )
                with self.metrics.lock:
                    self.metrics.errors[type(exc).__name__] += 1
                accepted = [r for r in accepted if id(r) not in refused]
                rejected = rejected + newly
                if not joined:
                    outside = newly
                continue
            if joined:
                rejects_written += len(rejected)
            return accepted, rejected, written, rejects_written


def _completed(result: T) -> Future[T]:
    future: Future[T] = Future()
    future.set_result(result)
    return future


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """On the first SIGINT/SIGTERM, ask the loop to drain and stop; a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.warning("%s received: finishing the batch in hand, then stopping", signal.Signals(signum).name)
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
