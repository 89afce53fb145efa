"""What a variant is given for one run: the servers, the filled topic, the caps, and a fresh name per run."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from lmnh_pipes import interpreter_tuned

from .data import Topic
from .measure import Timing, measure
from .servers import Servers

__all__ = ["Context"]

#: Tansu makes every JoinGroup wait session.timeout.ms / 2 (see tests/fixtures/kafka.py): 6 s keeps that at ~3 s.
GROUP_SETTINGS = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}

_ids = itertools.count()


@attrs.define
class Context:
    """Shared by every variant of one benchmark invocation."""

    servers: Servers
    topic: Topic
    workdir: Path
    cap: int  # messages (or rows) for the one-at-a-time variants
    executemany_cap: int
    cache: dict[str, Any] = attrs.field(factory=dict)  # what several variants prepare once (validated records)
    peers_python: Path | None = None  # the interpreter of the peers' environment, once run.py prepared it
    processes: int = 2  # scale_n's lmnh-pipes processes

    @property
    def capped(self) -> int:
        return min(self.cap, self.topic.size)

    def fresh(self, prefix: str) -> str:
        """A name not used before in this invocation (a consumer group, a pipeline)."""
        return f"{prefix}-{next(_ids)}"

    @contextmanager
    def measure(self) -> Iterator[Timing]:
        """Time a block, with the servers' CPU (see :func:`benchmarks.measure.measure`), under the interpreter
        settings of `lmnh-pipes run` (:func:`lmnh_pipes.interpreter_tuned`: fewer garbage collections, a
        shorter switch interval), so that every variant compares loops, not the collector."""
        with measure(self.servers.cpu_seconds) as timing, interpreter_tuned():
            yield timing
