"""Retrying calls that fail with :class:`~lmnh_pipes.errors.TransientError`: exponential back-off, full jitter."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import attrs

from .errors import RunError, TransientError

__all__ = ["RetryPolicy"]

T = TypeVar("T")
log = logging.getLogger("lmnh_pipes.retry")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Retry a transient fault for up to ``max_elapsed`` seconds, sleeping a random time up to
    ``initial * 2**attempt`` (capped at ``max_backoff``) between attempts."""

    initial: float = 0.2
    max_backoff: float = 10.0
    max_elapsed: float = 300.0

    def call(self, what: str, fn: Callable[[], T], stop: threading.Event | None = None) -> T:
        """Call ``fn`` until it returns; a :class:`TransientError` is retried, anything else propagates.

        Raises :class:`RunError` when ``max_elapsed`` has passed. A set ``stop`` event does not cut a retry
        short: the batch in hand must still be written before the run can end cleanly.
        """
        start = time.monotonic()
        attempt = 0
        while True:
            try:
                return fn()
            except TransientError as exc:
                elapsed = time.monotonic() - start
                if elapsed >= self.max_elapsed:
                    raise RunError(f"{what} still failing after {elapsed:.0f} s: {exc}") from exc
                delay = random.uniform(0, min(self.max_backoff, self.initial * 2**attempt))
                attempt += 1
                log.warning("%s failed (%s); retry %d in %.2f s", what, exc, attempt, delay)
                time.sleep(min(delay, max(0.0, self.max_elapsed - elapsed)))
