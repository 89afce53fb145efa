"""Timing one run of a variant: wall time, this process's CPU (all threads, and waited-for children), and the
servers' CPU; and the figures made of several runs."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from .data import Counts

__all__ = ["Figures", "Sample", "Timing", "measure", "peak_rss_mb", "rss_mb"]

_REAP_WAIT = 0.3


@attrs.define
class Timing:
    """What one measured stretch took. Filled in when its ``with measure(...)`` block ends."""

    wall: float = 0.0
    cpu: float = 0.0  # this process (every thread) and the children it waited for, user + system
    server_cpu: float = 0.0  # the broker's and the database's


def _own_cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@contextmanager
def measure(server_cpu: Callable[[], float]) -> Iterator[Timing]:
    """Time the block: wall clock, own CPU including children, and ``server_cpu()`` before and after."""
    timing = Timing()
    cpu0, server0 = _own_cpu(), server_cpu()
    start = time.perf_counter()
    try:
        yield timing
    finally:
        timing.wall = time.perf_counter() - start
        timing.cpu = _own_cpu() - cpu0
        # A database backend that just exited counts for its server only once the server has reaped it.
        time.sleep(_REAP_WAIT)
        timing.server_cpu = server_cpu() - server0


@attrs.define
class Sample:
    """One run of one variant: how many messages (or rows) it handled, in what time, and what it wrote."""

    count: int
    timing: Timing
    got: Counts | None = None  # rows the tables hold afterwards (None: the variant writes no table)
    want: Counts | None = None  # what they must hold
    extra: dict[str, float] = attrs.field(factory=dict)  # e.g. join_s, rss_mb

    @property
    def rate(self) -> float:
        return self.count / self.timing.wall if self.timing.wall > 0 else 0.0

    @property
    def correct(self) -> bool:
        return self.got == self.want

    @property
    def steady_rate(self) -> float | None:
        """The rate after the start-up (the group join, or the processes' first write), for information only."""
        startup = self.extra.get("join_s", self.extra.get("first_row_s"))
        if startup is None or self.timing.wall <= startup:
            return None
        return self.count / (self.timing.wall - startup)


@attrs.define
class Figures:
    """The runs of one variant, summarised."""

    name: str
    unit: str
    note: str
    samples: list[Sample] = attrs.field(factory=list)

    @property
    def rates(self) -> list[float]:
        return [s.rate for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.samples else 0.0

    @property
    def correct(self) -> bool:
        return bool(self.samples) and all(s.correct for s in self.samples)

    @property
    def cpu_per_message(self) -> float:
        """The median of the runs' client CPU seconds per message (the harness and the processes it waited for)."""
        return self._median_of(lambda s: s.timing.cpu / s.count if s.count else 0.0)

    def _median_of(self, get: Callable[[Sample], float]) -> float:
        return statistics.median(get(s) for s in self.samples) if self.samples else 0.0

    def as_json(self) -> dict[str, Any]:
        extras = sorted({k for s in self.samples for k in s.extra})
        steady = [r for s in self.samples if (r := s.steady_rate) is not None]
        return {
            "unit": self.unit,
            "note": self.note,
            "median": round(self.median, 1),
            "min": round(min(self.rates, default=0.0), 1),
            "max": round(max(self.rates, default=0.0), 1),
            "runs": [round(r, 1) for r in self.rates],
            "messages": self.samples[0].count if self.samples else 0,
            "wall_s": round(self._median_of(lambda s: s.timing.wall), 3),
            "cpu_s": round(self._median_of(lambda s: s.timing.cpu), 3),
            "server_cpu_s": round(self._median_of(lambda s: s.timing.server_cpu), 3),
            "rows_ok": self.correct,
            "steady_median": round(statistics.median(steady), 1) if steady else None,
            "rows": str(self.samples[-1].got) if self.samples and self.samples[-1].got is not None else None,
            "truth": str(self.samples[-1].want) if self.samples and self.samples[-1].want is not None else None,
            **{k: round(self._median_of(lambda s, k=k: s.extra.get(k, 0.0)), 3) for k in extras},  # type: ignore[misc]
        }


def rss_mb() -> float:
    """This process's resident memory now, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory in MiB: of ``pid`` (VmHWM, while it runs), or of this process (ru_maxrss)."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
