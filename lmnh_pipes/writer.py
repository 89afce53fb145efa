"""Writing one batch as the delivery plan says, on the writer thread: :class:`Batch` and :class:`Writer`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import attrs

from .delivery import TransactionalSink
from .errors import RecordRejectedError, RunError
from .interfaces import Sink
from .metrics import Metrics
from .plan import DeliveryPlan
from .records import Record
from .stopping import StoppableRetry

__all__ = ["Batch", "Writer", "refused_by_sink"]

log = logging.getLogger("lmnh_pipes.runner")


@attrs.frozen(kw_only=True)
class Batch:
    """One batch on its way: validated on the main thread, written on the writer thread, then acknowledged.

    ``records`` are every record read, in read order, each accepted or rejected: what is acknowledged to the
    source. :meth:`of` splits them into ``accepted`` and ``rejected`` as validated; :meth:`Writer.write` returns
    the batch with them as they finally are (a sink may refuse a record for its content, which then becomes a
    reject), and how many rows each sink wrote.
    """

    records: Sequence[Record]
    #: When validation began (``time.monotonic()``), for the batch-latency metric.
    started: float
    accepted: Sequence[Record] = ()
    rejected: Sequence[Record] = ()
    written: int = 0
    rejects_written: int = 0

    @classmethod
    def of(cls, records: Sequence[Record], started: float) -> Batch:
        """A batch of validated ``records``, split on the validating thread: the writer's thread, which the
        batch's write waits for, has the less to do."""
        accepted: list[Record] = []
        rejected: list[Record] = []
        for r in records:
            (accepted if r.reject is None else rejected).append(r)
        return cls(records=records, started=started, accepted=accepted, rejected=rejected)


@attrs.define(kw_only=True)
class Writer:
    """Writes batches to the sink and the rejects sink as ``plan`` says, retrying outages."""

    plan: DeliveryPlan
    pipeline: str
    sink: Sink
    rejects: Sink | None
    retry: StoppableRetry
    metrics: Metrics

    def write(self, batch: Batch) -> Batch:
        """Write ``batch``; return it with what was written. When this returns, every record of it is durable (or,
        for a sink that is durable only at close, handed over), so that the batch may be acknowledged.

        Exactly-once: rows, positions and (when joined) rejects go through the sink's ``write_batch``, in one
        transaction. Rejects that cannot join are written first, so a crash writes them again (at least once).
        A record the sink refuses for its content becomes a reject, and the batch is written again without it.
        """
        plan, rejects, retry = self.plan, self.rejects, self.retry
        accepted, rejected = list(batch.accepted), list(batch.rejected)
        outside = [] if plan.rejects_joined else rejected
        rejects_written = 0
        while True:
            if outside and rejects is not None:
                retry.call("writing to the rejects sink", functools.partial(rejects.write, outside))
                rejects_written += len(outside)
            try:
                written = self._write_rows(accepted, rejected)
            except RecordRejectedError as exc:
                refused = self._refused(exc, accepted)
                accepted = [r for r in accepted if id(r) not in refused]
                rejected = rejected + list(refused.values())
                outside = [] if plan.rejects_joined else list(refused.values())
                continue
            if plan.rejects_joined:
                rejects_written += len(rejected)
            return attrs.evolve(
                batch, accepted=accepted, rejected=rejected, written=written, rejects_written=rejects_written
            )

    def _write_rows(self, accepted: list[Record], rejected: list[Record]) -> int:
        """Write the rows (and, exactly-once, the positions and joined rejects); how many rows were written."""
        sink = self.sink
        if self.plan.positions_in_sink:
            assert isinstance(sink, TransactionalSink)
            joined = self.rejects if self.plan.rejects_joined else None
            write = functools.partial(sink.write_batch, self.pipeline, accepted, rejected, joined)
            written: int = self.retry.call("writing to the sink", write)
            return written
        if accepted:
            self.retry.call("writing to the sink", functools.partial(sink.write, accepted))
        return len(accepted)

    def _refused(self, exc: RecordRejectedError, accepted: list[Record]) -> dict[int, Record]:
        """The records of ``accepted`` that the sink refused, each now rejected with the sink's reason, by id."""
        refused = refused_by_sink(exc, accepted)
        first = next(iter(refused.values()))
        log.warning(
            "%s refused %d record(s); they go to the rejects",
            exc.sink,
            len(refused),
            extra={"topic": first.meta.topic, "partition": first.meta.partition, "offset": first.meta.offset},
        )
        with self.metrics.lock:
            self.metrics.errors[type(exc).__name__] += 1
        return refused


def refused_by_sink(exc: RecordRejectedError, accepted: Sequence[Record]) -> dict[int, Record]:
    """The records of ``accepted`` that ``exc`` says the sink refused, each now rejected with the sink's reason
    (rule ``write``), by id. RunError when it names no record, or records that are not among ``accepted``."""
    reasons = {id(r): reason for r, reason in exc.records}
    refused = {id(r): r.rejected_by(exc.sink, reasons[id(r)], "write") for r in accepted if id(r) in reasons}
    if not refused or len(refused) != len(reasons):
        raise RunError(f"{exc} (the refused records are not of this batch)") from exc
    return refused
