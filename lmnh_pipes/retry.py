"""Retrying calls that fail with :class:`~lmnh_pipes.errors.TransientError`: exponential back-off, full jitter."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from .errors import RunError, TransientError
from .options import option_doc

__all__ = ["RetryPolicy", "positive"]

T = TypeVar("T")
log = logging.getLogger("lmnh_pipes.retry")


def positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """An attrs validator: a finite number above zero."""
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive number, found {value}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Retry a transient fault (an outage) for up to ``max_elapsed`` seconds, sleeping a random time up to
    ``initial * 2**attempt`` seconds (capped at ``max_backoff``) between attempts: exponential back-off with
    full jitter. The ``retry:`` mapping of a pipeline file sets these fields.

    ``startup_timeout`` is the budget while the components open instead: a server that is not there when the
    run starts is more often a wrong address or a service not started than an outage, and is retried for less.
    """

    initial: float = attrs.field(
        default=0.2, validator=positive, metadata=option_doc("seconds: the longest first wait")
    )
    max_backoff: float = attrs.field(
        default=10.0, validator=positive, metadata=option_doc("seconds: the longest wait between attempts")
    )
    max_elapsed: float = attrs.field(
        default=300.0, validator=positive, metadata=option_doc("seconds of retrying before the run fails")
    )
    startup_timeout: float = attrs.field(
        default=60.0, validator=positive, metadata=option_doc("seconds of retrying to open a component at start")
    )

    def at_startup(self) -> RetryPolicy:
        """This policy with ``startup_timeout`` for its budget: for opening the components."""
        return attrs.evolve(self, max_elapsed=self.startup_timeout)

    def call(
        self,
        what: str,
        fn: Callable[[], T],
        give_up: Callable[[], bool] | None = None,
        on_retry: Callable[[TransientError], None] | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> T:
        """Call ``fn`` until it returns; a :class:`TransientError` is retried, anything else propagates.

        Raises :class:`RunError` when ``max_elapsed`` has passed, or as soon as ``give_up()`` is true (a
        shutdown that has waited long enough for the outage to pass).
        """
        start = time.monotonic()
        attempt = 0
        while True:
            try:
                return fn()
            except TransientError as exc:
                elapsed = time.monotonic() - start
                if elapsed >= self.max_elapsed or (give_up is not None and give_up()):
                    raise RunError(f"{what} still failing after {elapsed:.0f} s: {exc}") from exc
                if on_retry is not None:
                    on_retry(exc)
                delay = random.uniform(0, min(self.max_backoff, self.initial * 2 ** min(attempt, 32)))
                attempt += 1
                log.warning("%s failed (%s); retry %d in %.2f s", what, exc, attempt, delay)
                sleep(min(delay, max(0.0, self.max_elapsed - elapsed)))
