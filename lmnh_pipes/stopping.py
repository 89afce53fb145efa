"""How a run stops: on SIGINT/SIGTERM, and with outages retried only for so long once a stop was asked for."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

import attrs

from .errors import TransientError
from .retry import RetryPolicy

__all__ = ["StoppableRetry", "signals_ignored", "stop_on_signals"]

log = logging.getLogger("lmnh_pipes.runner")
T = TypeVar("T")


@attrs.define
class StoppableRetry:
    """A :class:`~lmnh_pipes.retry.RetryPolicy` that a stop cuts short: the back-off wakes at once, and the call
    gives up once the stop has waited ``shutdown_timeout`` seconds. ``on_retry(what, exc)`` counts each retry."""

    policy: RetryPolicy
    stop: threading.Event
    shutdown_timeout: float
    on_retry: Callable[[str, TransientError], None] = lambda what, exc: None
    _stopped_at: float | None = None

    def give_up(self) -> bool:
        """Whether a stop has waited ``shutdown_timeout`` seconds (the clock starts at the first look after it)."""
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
        """``fn()``, its outages retried; raises :class:`~lmnh_pipes.errors.RunError` when the policy gives up."""

        def sleep(seconds: float) -> None:
            # A stop wakes the back-off at once, so that the shutdown time counts from the stop itself.
            if not self.stop.is_set():
                if self.stop.wait(seconds):
                    self.give_up()
                return
            time.sleep(min(seconds, max(0.0, self.remaining())))

        return self.policy.call(what, fn, self.give_up, on_retry=lambda exc: self.on_retry(what, exc), sleep=sleep)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """On the first SIGINT/SIGTERM, set ``stop`` (the loop drains and stops); a second one interrupts at once.
    Outside the main thread, where Python cannot take signals, it does nothing."""

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("%s received again: stopping at once, without writing the batch in hand", name)
            raise KeyboardInterrupt
        stop.set()  # before logging: a second signal may come while the message is written
        log.warning(
            "%s received: finishing the batch in hand, then stopping (a second SIGINT or SIGTERM stops at once, "
            "without writing it)",
            name,
        )

    with _handling(handler):
        yield


@contextmanager
def signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored while the block lasts (in the main thread; elsewhere nothing changes)."""
    with _handling(signal.SIG_IGN):
        yield


@contextmanager
def _handling(handler: Callable[[int, FrameType | None], None] | signal.Handlers) -> Iterator[None]:
    """``handler`` for SIGINT and SIGTERM while the block lasts, then the previous ones again."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
