"""``lmnh-pipes replay``: stored rejects through the current validators; the accepted written once.

:func:`replay` reads a :class:`~lmnh_pipes.replaying.RejectStore`'s rejects in batches. For each, it chooses the
rejects a :class:`Selection` asks for, gives each one's raw bytes and original coordinates to the source's
``decode`` (when it decodes) and then to the validators from the first, and delivers the batch as
:func:`plan_replay` decided: the rows written, and the batch settled in the store, so that a second replay finds
no reject it wrote. ``dry_run`` writes and settles nothing, and counts what would happen.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from .capabilities import Decoding, closer, opener
from .delivery import OverwritingSink, PositionStore, ReplayableSource
from .errors import ConfigError, LmnhPipesError, RecordRejectedError, RunError
from .interfaces import Sink, Source, Validator
from .records import Record, make_record
from .replaying import (
    JournalingStore,
    OutputKeeper,
    RejectStore,
    ReplayTransaction,
    RewindableSink,
    Settlement,
    StoredReject,
)
from .report import counts_as_dicts, counts_lines, summary_lines
from .retry import RetryPolicy
from .validation import validate_all
from .writer import refused_by_sink

__all__ = ["ReplayMode", "ReplayPlan", "ReplayReport", "Selection", "plan_replay", "replay", "replay_name"]

log = logging.getLogger("lmnh_pipes.replay")


def replay_name(pipeline: str) -> str:
    """The name under which a pipeline's replays store the position of a store read by position."""
    return f"{pipeline}/replay"


@attrs.frozen(kw_only=True)
class Selection:
    """Which stored rejects a replay takes: by the rule and the validator that refused them (any of each, when
    given), at most ``limit`` of them, and none replayed ``max_replays`` times already."""

    rules: frozenset[str] = frozenset()
    validators: frozenset[str] = frozenset()
    limit: int | None = None
    max_replays: int | None = None

    def chooses(self, stored: StoredReject) -> bool:
        """Whether ``stored`` is one of those asked for (``limit`` aside)."""
        reject = stored.record.reject
        if reject is None:
            return True
        if self.rules and reject.rule not in self.rules:
            return False
        if self.validators and reject.validator not in self.validators:
            return False
        return self.max_replays is None or reject.replays < self.max_replays


class ReplayMode(enum.Enum):
    """How a replayed batch is kept safe from a crash (see :mod:`lmnh_pipes.replaying`)."""

    JOINED = "exactly-once"
    POSITIONED = "exactly-once, by position"
    JOURNALED = "exactly-once, journaled"
    AT_LEAST_ONCE = "at-least-once"


@attrs.frozen(kw_only=True)
class ReplayPlan:
    """The mode, and the one line that says it."""

    mode: ReplayMode
    detail: str

    def __str__(self) -> str:
        return f"{self.mode.value} ({self.detail})"


def plan_replay(store: object, sink: Sink) -> ReplayPlan:
    """How a replay from ``store`` into ``sink`` will be delivered; ConfigError when ``store`` keeps no rejects."""
    if not isinstance(store, RejectStore):
        raise ConfigError(
            f"the rejects sink ({type(store).__name__}) cannot give back what it stored: "
            "replay needs a rejects sink that can (see the rejects sinks in the docs)"
        )
    if isinstance(sink, ReplayTransaction) and sink.joins_replay(store):
        return ReplayPlan(mode=ReplayMode.JOINED, detail="rows and settled rejects in one transaction")
    if isinstance(store, ReplayableSource) and isinstance(sink, ReplayTransaction) and isinstance(sink, PositionStore):
        return ReplayPlan(
            mode=ReplayMode.POSITIONED,
            detail="rows and the rejects' position in one transaction; copies of a crashed replay dropped",
        )
    if isinstance(store, JournalingStore) and isinstance(sink, RewindableSink):
        return ReplayPlan(
            mode=ReplayMode.JOURNALED, detail="a crash is undone by the next replay, from the rejects' journal"
        )
    return ReplayPlan(
        mode=ReplayMode.AT_LEAST_ONCE,
        detail="rows written, then the rejects settled: a crash between them writes those rows again",
    )


@attrs.define(kw_only=True)
class ReplayReport:
    """What a replay did, or (``dry_run``) would do."""

    pipeline: str
    dry_run: bool
    delivery: str
    read: int = 0
    chosen: int = 0
    accepted: int = 0
    written: int = 0
    dropped: int = 0
    #: (validator, rule) -> how many of the chosen are still refused, by their new reason's validator and rule.
    still_rejected: Counter[tuple[str, str]] = attrs.field(factory=Counter)

    @property
    def rejected(self) -> int:
        """How many of the chosen are still refused."""
        return sum(self.still_rejected.values())

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data, for ``--json``."""
        return {
            "pipeline": self.pipeline,
            "dry_run": self.dry_run,
            "delivery": self.delivery,
            "read": self.read,
            "chosen": self.chosen,
            "accepted": self.accepted,
            "written": self.written,
            "dropped": self.dropped,
            "still_rejected": self.rejected,
            "still_rejected_by": counts_as_dicts(self.still_rejected),
        }

    def lines(self) -> list[str]:
        """The report as a person reads it."""
        rows = [
            ("rejects read", f"{self.read:,}"),
            ("chosen", f"{self.chosen:,}"),
            ("would accept" if self.dry_run else "accepted", f"{self.accepted:,}"),
        ]
        if not self.dry_run:
            rows.append(("written", f"{self.written:,}"))
        rows.append(("still rejected", f"{self.rejected:,}"))
        if self.dropped:
            rows.append(("dropped copies", f"{self.dropped:,}"))
        rows.append(("delivery", self.delivery))
        title = f"replay of {self.pipeline}{' (dry run: nothing written)' if self.dry_run else ''}"
        return summary_lines(title, rows) + counts_lines("still rejected by validator / rule:", self.still_rejected)


def replay(
    *,
    pipeline: str,
    source: Source,
    validators: Sequence[Validator],
    sink: Sink,
    store: object,
    selection: Selection = Selection(),
    dry_run: bool = False,
    batch_size: int = 1000,
    retry: RetryPolicy | None = None,
) -> ReplayReport:
    """Replay ``store``'s rejects chosen by ``selection`` through ``validators`` into ``sink``; the report.

    The source is not opened: only its ``decode`` is used, when it has one, so that the validators see each reject
    as a run would give it to them. Raises :class:`~lmnh_pipes.errors.ConfigError` before anything is read when
    the store keeps no rejects or the sink would replace its output.
    """
    plan = plan_replay(store, sink)
    assert isinstance(store, RejectStore)
    if isinstance(sink, OverwritingSink):
        if not isinstance(sink, OutputKeeper):
            raise ConfigError(f"the sink ({type(sink).__name__}) replaces its output when it opens: replay cannot add")
        if not dry_run:
            sink.keep_output()
    policy = retry or RetryPolicy()
    report = ReplayReport(pipeline=pipeline, dry_run=dry_run, delivery=str(plan))
    deliver = _Delivery(plan=plan, pipeline=pipeline, sink=sink, store=store, retry=policy)
    with contextlib.ExitStack() as stack:
        stack.callback(closer(store))
        for validator in validators:
            opener(validator)()
            stack.callback(closer(validator))
        deliver.prepare(dry_run)
        if not dry_run:
            opener(sink)()
            stack.callback(closer(sink))
        for batch in _batches(_chosen(store.stored_rejects(), selection, report), batch_size):
            settlement, accepted = _decide(batch, source, validators, report)
            if not dry_run:
                written, settlement = deliver.batch(accepted, settlement)
                report.written += written
            report.accepted += len(settlement.accepted)
            for _, record in settlement.rejected:
                assert record.reject is not None
                report.still_rejected[record.reject.validator, record.reject.rule] += 1
    log.info("replay: %s", "; ".join(line.strip() for line in report.lines()[1:]))
    return report


@attrs.frozen
class _Item:
    """A stored reject read, and what the selection made of it."""

    stored: StoredReject
    chosen: bool


def _chosen(stored: Iterable[StoredReject], selection: Selection, report: ReplayReport) -> Iterator[_Item]:
    """Every stored reject read, marked chosen or not, until ``selection.limit`` were chosen."""
    if selection.limit is not None and selection.limit <= 0:
        return
    for item in stored:
        report.read += 1
        chosen = not item.duplicate and selection.chooses(item)
        report.chosen += chosen
        yield _Item(item, chosen)
        # Stop before taking another: a store with no end (a topic) would wait for one.
        if selection.limit is not None and report.chosen >= selection.limit:
            return


def _batches(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    batch: list[_Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _decide(
    batch: Sequence[_Item], source: Source, validators: Sequence[Validator], report: ReplayReport
) -> tuple[Settlement, list[Record]]:
    """The batch's settlement, and the accepted records, as the validators decide now."""
    chosen = [item.stored for item in batch if item.chosen]
    fresh = [_fresh(s.record, source) for s in chosen]
    decided = validate_all(validators, fresh)
    accepted = [s for s, r in zip(chosen, decided, strict=True) if r.reject is None]
    rejected = [(s, _counted(s, r)) for s, r in zip(chosen, decided, strict=True) if r.reject is not None]
    dropped = [item.stored for item in batch if item.stored.duplicate]
    report.dropped += len(dropped)
    passed = [item.stored for item in batch if not item.chosen and not item.stored.duplicate]
    records = [r for r in decided if r.reject is None]
    positions = _positions_after(item.stored for item in batch)
    settlement = Settlement(accepted=accepted, rejected=rejected, dropped=dropped, passed=passed, positions=positions)
    return settlement, records


def _fresh(record: Record, source: Source) -> Record:
    """The reject as its source first gave it: its raw bytes and coordinates, decoded as the source decodes."""
    new = make_record(None, record.raw, record.meta)
    if not isinstance(source, Decoding):
        return new
    try:
        return source.decode(new)
    except ValueError as exc:
        raise ConfigError(f"the source cannot decode a stored reject alone, so it cannot be replayed: {exc}") from exc


def _counted(stored: StoredReject, record: Record) -> Record:
    """``record``, still rejected, counting one more replay than ``stored``."""
    assert record.reject is not None
    before = stored.record.reject.replays if stored.record.reject is not None else 0
    return attrs.evolve(record, reject=attrs.evolve(record.reject, replays=before + 1))


def _positions_after(items: Iterable[StoredReject]) -> dict[tuple[str, int], int]:
    """For a store read by position (whose handles are ``(topic, partition, offset)``), the next offset of each
    partition after ``items``; empty for other stores."""
    positions: dict[tuple[str, int], int] = {}
    for item in items:
        handle = item.handle
        if not (isinstance(handle, tuple) and len(handle) == 3 and isinstance(handle[2], int)):
            return {}
        topic, partition, offset = handle
        key = (str(topic), int(partition))
        positions[key] = max(positions.get(key, 0), offset + 1)
    return positions


@attrs.define(kw_only=True)
class _Delivery:
    """Writes a replayed batch and settles it in the store, as the plan says, retrying outages."""

    plan: ReplayPlan
    pipeline: str
    sink: Sink
    store: RejectStore
    retry: RetryPolicy

    def prepare(self, dry_run: bool) -> None:
        """Before the sink opens: undo a journaled replay that crashed (not in a dry run, which changes nothing);
        give a positioned store its positions, so that a dry run reads what the replay would."""
        store, sink = self.store, self.sink
        if self.plan.mode is ReplayMode.JOURNALED and not dry_run:
            assert isinstance(store, JournalingStore)
            assert isinstance(sink, RewindableSink)
            mark = store.unfinished_replay()
            if mark is not None:
                log.warning("an earlier replay did not finish: its rows are taken back, and its rejects replayed again")
                sink.rewind(mark)
                store.abandon_replay()
        elif self.plan.mode is ReplayMode.POSITIONED:
            assert isinstance(store, ReplayableSource)
            assert isinstance(sink, PositionStore)
            store.use_position_store(sink, replay_name(self.pipeline))

    def batch(self, accepted: list[Record], settlement: Settlement) -> tuple[int, Settlement]:
        """Deliver one batch; how many rows were written, and the settlement as delivered: records the sink
        refused for their content are among its still-rejected."""
        while True:
            try:
                return self._deliver(accepted, settlement), settlement
            except RecordRejectedError as exc:
                accepted, settlement = _refused(exc, accepted, settlement)
            except LmnhPipesError:
                raise
            except Exception as exc:  # a component's own error: the replay fails, its batch not settled
                raise RunError(f"replaying a batch failed: {type(exc).__name__}: {exc}") from exc

    def _deliver(self, accepted: list[Record], settlement: Settlement) -> int:
        store, sink, mode, call = self.store, self.sink, self.plan.mode, self.retry.call
        if mode is ReplayMode.JOINED:
            assert isinstance(sink, ReplayTransaction)
            return call(
                "replaying into the sink",
                functools.partial(sink.write_replayed, self.pipeline, accepted, settlement, store),
            )
        if mode is ReplayMode.POSITIONED:
            assert isinstance(sink, ReplayTransaction)
            call("settling the replayed rejects", functools.partial(store.settle, settlement))
            name = replay_name(self.pipeline)
            return call(
                "replaying into the sink", functools.partial(sink.write_replayed, name, accepted, settlement, None)
            )
        if mode is ReplayMode.JOURNALED:
            assert isinstance(store, JournalingStore)
            assert isinstance(sink, RewindableSink)
            call("journaling the replay", lambda: store.begin_replay(sink.output_mark()))
        if accepted:
            call("replaying into the sink", functools.partial(sink.write, accepted))
        call("settling the replayed rejects", functools.partial(store.settle, settlement))
        return len(accepted)


def _refused(
    exc: RecordRejectedError, accepted: list[Record], settlement: Settlement
) -> tuple[list[Record], Settlement]:
    """The batch again, with the records the sink refused moved to the still-rejected, with the sink's reason."""
    refused = refused_by_sink(exc, accepted)
    keep: list[Record] = []
    kept: list[StoredReject] = []
    rejected = list(settlement.rejected)
    for record, stored in zip(accepted, settlement.accepted, strict=True):
        if id(record) in refused:
            rejected.append((stored, _counted(stored, refused[id(record)])))
        else:
            keep.append(record)
            kept.append(stored)
    return keep, attrs.evolve(settlement, accepted=kept, rejected=rejected)
