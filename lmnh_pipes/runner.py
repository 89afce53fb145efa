"""The run loop: read, validate, write, acknowledge; batching, stop conditions, signals, the report.

Ordering guarantee: a batch is acknowledged to the source only after the sink's ``write`` (and the rejects
sink's) returned for every record of it. If a write fails, the batch is not acknowledged and the run fails.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

import attrs

from .errors import ConfigError, EndOfInput, LmnhPipesError, RecordRejectedError, RunError
from .interfaces import DrainingSource, ReplayableSource, TransactionalSink
from .records import Record
from .report import RunReport
from .retry import RetryPolicy

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
) -> RunReport:
    """Run ``pipeline``; see :meth:`Pipeline.run`."""
    stop = stop if stop is not None else threading.Event()
    retry = _Retry(pipeline.retry, stop, shutdown_timeout)
    report = RunReport(pipeline=pipeline.name)
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            if handle_signals:
                stack.enter_context(_stop_on_signals(stop))
            if _exactly_once(pipeline):
                assert isinstance(pipeline.source, ReplayableSource)
                assert isinstance(pipeline.sink, TransactionalSink)
                pipeline.source.use_position_store(pipeline.sink, pipeline.name)
            # The source opens before the sinks, so that a wrong source path cannot truncate an output first;
            # it then closes after them, so that its final commit follows the sinks' final flush.
            for component in (*pipeline.validators, pipeline.source, pipeline.sink, pipeline.rejects):
                if component is None:
                    continue
                retry.call(f"opening {type(component).__name__}", component.open)
                stack.callback(component.close)
            _loop(pipeline, report, limit, idle_timeout, stop, retry)
    except (ConfigError, RunError):
        raise
    except LmnhPipesError as exc:
        raise RunError(str(exc)) from exc
    except Exception as exc:
        # Also what a close raises: a sink whose final flush fails has not durably written its last batch.
        raise RunError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        report.seconds = time.monotonic() - started
    return report


def _loop(
    pipeline: Pipeline,
    report: RunReport,
    limit: int | None,
    idle_timeout: float | None,
    stop: threading.Event,
    retry: _Retry,
) -> None:
    source = pipeline.source
    pending: list[Record] = []
    failed = False

    def drain() -> None:
        # After a failure the batch in hand must stay unwritten and unacknowledged, even when closing the
        # source revokes its partitions.
        if pending and not failed:
            _flush(pipeline, pending, report, retry)
            pending.clear()

    if isinstance(source, DrainingSource):
        source.drain_with(drain)
    try:
        _poll(pipeline, report, limit, idle_timeout, stop, retry, pending, drain)
    except BaseException:
        failed = True
        raise


def _poll(
    pipeline: Pipeline,
    report: RunReport,
    limit: int | None,
    idle_timeout: float | None,
    stop: threading.Event,
    retry: _Retry,
    pending: list[Record],
    drain: Callable[[], None],
) -> None:
    source = pipeline.source
    max_records = pipeline.batch.max_records
    max_wait = pipeline.batch.max_wait
    batch_deadline = 0.0
    last_record = time.monotonic()
    while True:
        if stop.is_set():
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
                got = retry.call("reading the source", functools.partial(source.read, want, timeout))
            except EndOfInput:
                ended = True
        now = time.monotonic()
        if got:
            if not pending:
                batch_deadline = now + max_wait
            pending.extend(got)
            report.read += len(got)
            last_record = now
        limit_reached = limit is not None and report.read >= limit
        if pending and (
            len(pending) >= max_records or now >= batch_deadline or ended or limit_reached or stop.is_set()
        ):
            drain()
        if ended:
            report.stopped_by = "end of input"
            break
        if limit_reached:
            report.stopped_by = "limit"
            break
        if not got and idle_timeout is not None and now - last_record >= idle_timeout:
            report.stopped_by = "idle timeout"
            break
    drain()


def _flush(pipeline: Pipeline, batch: list[Record], report: RunReport, retry: _Retry) -> None:
    from .pipeline import apply_validators

    done = [apply_validators(pipeline.validators, r) for r in batch]
    accepted = [r for r in done if r.reject is None]
    rejected = [r for r in done if r.reject is not None]
    accepted, rejected, written = _write(pipeline, accepted, rejected, report, retry)
    report.written += written
    for r in rejected:
        assert r.reject is not None
        report.rejected_by[(r.reject.validator, r.reject.rule)] += 1
    retry.call("acknowledging to the source", functools.partial(pipeline.source.ack, done))
    report.accepted += len(accepted)
    report.rejected += len(rejected)
    report.batches += 1
    log.debug("batch %d: %d accepted, %d rejected", report.batches, len(accepted), len(rejected))


def _write(
    pipeline: Pipeline, accepted: list[Record], rejected: list[Record], report: RunReport, retry: _Retry
) -> tuple[list[Record], list[Record], int]:
    """Write a batch; records that the sink refuses for their content become rejects, and the rest is written
    again. Returns the accepted and rejected records as they finally are, and how many the sink wrote."""
    sink, rejects = pipeline.sink, pipeline.rejects
    exactly_once = _exactly_once(pipeline)
    joined = exactly_once and rejects is not None and isinstance(sink, TransactionalSink) and sink.joins(rejects)
    # Rejects that cannot join the sink's transaction are written first: a crash replays them (at least once).
    outside = [] if joined else rejected
    while True:
        if outside and rejects is not None:
            retry.call("writing to the rejects sink", functools.partial(rejects.write, outside))
            report.rejects_written += len(outside)
        outside = []
        try:
            if exactly_once:
                assert isinstance(sink, TransactionalSink)
                written: int = retry.call(
                    "writing to the sink",
                    functools.partial(sink.write_batch, pipeline.name, accepted, rejected, rejects if joined else None),
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
            log.warning("%s refused %d record(s); they go to the rejects", exc.sink, len(newly))
            accepted = [r for r in accepted if id(r) not in refused]
            rejected = rejected + newly
            if not joined:
                outside = newly
            continue
        if joined:
            report.rejects_written += len(rejected)
        return accepted, rejected, written


@attrs.define
class _Retry:
    """The pipeline's retry policy, cut short once a stop has waited ``shutdown_timeout`` seconds."""

    policy: RetryPolicy
    stop: threading.Event
    shutdown_timeout: float
    _stopped_at: float | None = None

    def give_up(self) -> bool:
        if not self.stop.is_set():
            return False
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()
        return time.monotonic() - self._stopped_at >= self.shutdown_timeout

    def call(self, what: str, fn: Callable[[], T]) -> T:
        return self.policy.call(what, fn, self.give_up)


def _exactly_once(pipeline: Pipeline) -> bool:
    """Whether the sink stores the source's positions in its own transaction."""
    return isinstance(pipeline.sink, TransactionalSink) and isinstance(pipeline.source, ReplayableSource)


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
