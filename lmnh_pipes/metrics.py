"""Run metrics for ``/metrics`` (Prometheus text format), kept by the runner as it goes."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import attrs

from .report import RunReport

__all__ = ["LATENCY_BUCKETS", "Histogram", "Metrics"]

#: Seconds: where batch and commit latencies are counted.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@attrs.define
class Histogram:
    """A Prometheus histogram of seconds."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = attrs.field(init=False)
    total: float = 0.0
    count: int = 0

    def __attrs_post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, seconds: float) -> None:
        self.total += seconds
        self.count += 1
        for i, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[i] += 1

    def lines(self, name: str, labels: str) -> list[str]:
        sep = "," if labels else ""
        out = [f'{name}_bucket{{{labels}{sep}le="{b:g}"}} {c}' for b, c in zip(self.buckets, self.counts, strict=True)]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        out.append(f"{name}_sum{{{labels}}} {self.total:.6f}")
        out.append(f"{name}_count{{{labels}}} {self.count}")
        return out


@attrs.define
class Metrics:
    """What a running pipeline exposes: the report's counters, latencies, retries, errors, positions, readiness.

    The runner writes; the HTTP thread reads under ``lock``.
    """

    report: RunReport
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    batch_seconds: Histogram = attrs.field(factory=Histogram)
    commit_seconds: Histogram = attrs.field(factory=Histogram)
    retries: Counter[str] = attrs.field(factory=Counter)
    errors: Counter[str] = attrs.field(factory=Counter)
    sink_ok: bool = False
    running: bool = False
    source_ready: Callable[[], bool] = lambda: True
    positions: Callable[[], dict[tuple[str, int], int]] = dict
    #: Per partition, the high watermark minus the source's position, as the source last measured it.
    lag: Callable[[], dict[tuple[str, int], int]] = dict
    #: The share of the reject limit's window that is rejected; None when the run has no ``reject_limit``.
    reject_share: float | None = None
    #: Whether the reject limit was crossed (the run then stops).
    reject_limit_tripped: bool = False

    @property
    def ready(self) -> bool:
        """Partitions are assigned (or the source needs none), the sink is reachable, and the reject limit has not
        been crossed."""
        return self.running and self.sink_ok and not self.reject_limit_tripped and self.source_ready()

    def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        with self.lock:
            r = self.report
            p = f'pipeline="{_escape(r.pipeline)}"'
            lines = [
                "# HELP lmnh_pipes_records_read_total Records read from the source.",
                "# TYPE lmnh_pipes_records_read_total counter",
                f"lmnh_pipes_records_read_total{{{p}}} {r.read}",
                "# HELP lmnh_pipes_records_accepted_total Records every validator accepted.",
                "# TYPE lmnh_pipes_records_accepted_total counter",
                f"lmnh_pipes_records_accepted_total{{{p}}} {r.accepted}",
                "# HELP lmnh_pipes_records_rejected_total Records rejected, by validator and rule.",
                "# TYPE lmnh_pipes_records_rejected_total counter",
                *(
                    f'lmnh_pipes_records_rejected_total{{{p},validator="{_escape(v)}",rule="{_escape(rule)}"}} {n}'
                    for (v, rule), n in sorted(r.rejected_by.items())
                ),
                "# HELP lmnh_pipes_records_written_total Records the sink wrote.",
                "# TYPE lmnh_pipes_records_written_total counter",
                f"lmnh_pipes_records_written_total{{{p}}} {r.written}",
                "# HELP lmnh_pipes_rejects_written_total Rejected records the rejects sink wrote.",
                "# TYPE lmnh_pipes_rejects_written_total counter",
                f"lmnh_pipes_rejects_written_total{{{p}}} {r.rejects_written}",
                "# HELP lmnh_pipes_batches_total Batches written and acknowledged.",
                "# TYPE lmnh_pipes_batches_total counter",
                f"lmnh_pipes_batches_total{{{p}}} {r.batches}",
                "# HELP lmnh_pipes_batch_seconds Time to validate and write one batch.",
                "# TYPE lmnh_pipes_batch_seconds histogram",
                *self.batch_seconds.lines("lmnh_pipes_batch_seconds", p),
                "# HELP lmnh_pipes_commit_seconds Time to acknowledge (commit) one batch to the source.",
                "# TYPE lmnh_pipes_commit_seconds histogram",
                *self.commit_seconds.lines("lmnh_pipes_commit_seconds", p),
                "# HELP lmnh_pipes_retries_total Retried outages, by what was being done.",
                "# TYPE lmnh_pipes_retries_total counter",
                *(f'lmnh_pipes_retries_total{{{p},what="{_escape(w)}"}} {n}' for w, n in sorted(self.retries.items())),
                "# HELP lmnh_pipes_errors_total Errors, by class.",
                "# TYPE lmnh_pipes_errors_total counter",
                *(f'lmnh_pipes_errors_total{{{p},class="{_escape(c)}"}} {n}' for c, n in sorted(self.errors.items())),
                "# HELP lmnh_pipes_committed_offset The next offset committed, per partition.",
                "# TYPE lmnh_pipes_committed_offset gauge",
                *(
                    f'lmnh_pipes_committed_offset{{{p},topic="{_escape(t)}",partition="{part}"}} {o}'
                    for (t, part), o in sorted(self.positions().items())
                ),
                "# HELP lmnh_pipes_lag Records behind: the high watermark minus the source's position, per partition.",
                "# TYPE lmnh_pipes_lag gauge",
                *(
                    f'lmnh_pipes_lag{{{p},topic="{_escape(t)}",partition="{part}"}} {n}'
                    for (t, part), n in sorted(self.lag().items())
                ),
                "# HELP lmnh_pipes_ready 1 when partitions are assigned, the sink is reachable and no limit crossed.",
                "# TYPE lmnh_pipes_ready gauge",
                f"lmnh_pipes_ready{{{p}}} {int(self.ready)}",
            ]
            if self.reject_share is not None:
                lines += [
                    "# HELP lmnh_pipes_reject_share The share of the reject limit's window that was rejected.",
                    "# TYPE lmnh_pipes_reject_share gauge",
                    f"lmnh_pipes_reject_share{{{p}}} {self.reject_share:.6g}",
                    "# HELP lmnh_pipes_reject_limit_tripped 1 once the share passed max_share, which stops the run.",
                    "# TYPE lmnh_pipes_reject_limit_tripped gauge",
                    f"lmnh_pipes_reject_limit_tripped{{{p}}} {int(self.reject_limit_tripped)}",
                ]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
