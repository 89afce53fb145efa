"""Replay: stored rejects through the current validators, the accepted written once, each batch settled as planned."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import pytest

from lmnh_pipes import (
    ConfigError,
    LmnhPipesError,
    Meta,
    Pipeline,
    Record,
    RecordRejectedError,
    Rejection,
    RetryPolicy,
    RunError,
    TransientError,
)
from lmnh_pipes.replay import ReplayMode, ReplayReport, Selection, plan_replay, replay, replay_name
from lmnh_pipes.replaying import RejectStore, Settlement, StoredReject
from lmnh_pipes.testing import ListSource

FAST = RetryPolicy(initial=0.001, max_backoff=0.001, max_elapsed=0.05)


def stored(
    n: int,
    *,
    validator: str = "range",
    rule: str = "max",
    replays: int = 0,
    duplicate: bool = False,
    handle: Any = None,
    partition: int = 0,
) -> StoredReject:
    """A reject as a store gives it back: raw ``{"n": n}`` read at offset ``n``, an old value and an old reason."""
    meta = Meta(source="kafka", topic="in", partition=partition, offset=n, key=f"k{n}")
    record = Record(
        value={"old": True},
        raw=json.dumps({"n": n}).encode(),
        meta=meta,
        reject=Rejection(validator=validator, reason="old reason", rule=rule, replays=replays),
    )
    return StoredReject(record=record, handle=n if handle is None else handle, duplicate=duplicate)


def handles(items: Sequence[StoredReject]) -> list[Any]:
    return [s.handle for s in items]


def ns(records: Sequence[Record]) -> list[int]:
    return [json.loads(r.raw)["n"] for r in records]


# -- components: each appends what it is asked to a shared list of events --


@attrs.define
class Store:
    """A rejects sink that gives back ``items`` and keeps each settlement."""

    items: list[StoredReject]
    events: list[str] = attrs.field(factory=list)
    settled: list[Settlement] = attrs.field(factory=list)
    pulled: int = 0
    closed: bool = False

    def write(self, records: Sequence[Record]) -> None:
        raise AssertionError("a replay never writes through its store")

    def stored_rejects(self) -> Iterator[StoredReject]:
        self.events.append("read")
        for item in list(self.items):
            self.pulled += 1
            yield item

    def settle(self, settlement: Settlement) -> None:
        self.events.append(f"settle:{handles(settlement.accepted)}")
        self.settled.append(settlement)

    def close(self) -> None:
        self.events.append("close store")
        self.closed = True


@attrs.define
class JournalStore(Store):
    """A store that journals a replay's batch; ``journal`` is an unfinished replay's mark."""

    journal: Mapping[str, Any] | None = None

    def unfinished_replay(self) -> Mapping[str, Any] | None:
        return self.journal

    def begin_replay(self, mark: Mapping[str, Any]) -> None:
        self.events.append(f"begin:{dict(mark)}")
        self.journal = mark

    def abandon_replay(self) -> None:
        self.events.append("abandon")
        self.journal = None

    def settle(self, settlement: Settlement) -> None:
        super().settle(settlement)
        self.journal = None


@attrs.define
class TopicStore(Store):
    """A dead-letter topic: handles are (topic, partition, offset); it reads from the positions of the position
    store it was given, and settles by appending the still-rejected (and the passed over) as new messages."""

    positions_from: Any = None
    name: str = ""

    def use_position_store(self, store: Any, pipeline: str) -> None:
        self.events.append(f"use positions:{pipeline}")
        self.positions_from, self.name = store, pipeline

    def stored_rejects(self) -> Iterator[StoredReject]:
        items = list(self.items)
        partitions = sorted({s.handle[:2] for s in items})
        start = {} if self.positions_from is None else self.positions_from.stored_positions(self.name, partitions)
        for item in super().stored_rejects():
            if item.handle[2] >= start.get(item.handle[:2], 0):
                yield item

    def settle(self, settlement: Settlement) -> None:
        super().settle(settlement)
        again = [r for _, r in settlement.rejected] + [s.record for s in settlement.passed]
        for record in again:
            offset = len(self.items)
            self.items.append(StoredReject(record=record, handle=("dlq", 0, offset)))


@attrs.define
class Sink:
    """A list sink; ``refuse`` names raws that its first write refuses for content; ``outages`` fails writes."""

    events: list[str] = attrs.field(factory=list)
    records: list[Record] = attrs.field(factory=list)
    refuse: Mapping[bytes, str] = attrs.field(factory=dict)
    outages: int = 0
    broken: Exception | None = None
    opened: bool = False
    closed: bool = False

    def open(self) -> None:
        self.events.append("open sink")
        self.opened = True

    def write(self, records: Sequence[Record]) -> None:
        self.deliver(records)

    def deliver(self, records: Sequence[Record]) -> None:
        if self.broken is not None:
            raise self.broken
        if self.outages:
            self.outages -= 1
            self.events.append("outage")
            raise TransientError("database restarting")
        refused = [(r, self.refuse[r.raw]) for r in records if r.raw in self.refuse]
        if refused:
            self.events.append(f"refused:{ns([r for r, _ in refused])}")
            raise RecordRejectedError("db", refused)
        self.events.append(f"write:{ns(records)}")
        self.records.extend(records)

    def close(self) -> None:
        self.events.append("close sink")
        self.closed = True


@attrs.define
class TxSink(Sink):
    """A sink that writes a replayed batch and its settlement in one transaction (``joins`` a store or not)."""

    joins: bool = True
    calls: list[tuple[str, list[Record], Settlement, object]] = attrs.field(factory=list)

    def joins_replay(self, store: RejectStore) -> bool:
        self.events.append(f"joins? {type(store).__name__}")
        return self.joins

    def write_replayed(
        self, pipeline: str, accepted: Sequence[Record], settlement: Settlement, store: RejectStore | None
    ) -> int:
        self.deliver(accepted)
        self.calls.append((pipeline, list(accepted), settlement, store))
        if store is not None:
            store.settle(settlement)
        return len(accepted)


@attrs.define
class PositionSink(TxSink):
    """A transactional sink that stores a replay's positions, as a database sink stores a source's."""

    positions: dict[str, dict[tuple[str, int], int]] = attrs.field(factory=dict)

    def stored_positions(self, pipeline: str, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        stored = self.positions.get(pipeline, {})
        return {p: stored[p] for p in partitions if p in stored}

    def write_replayed(
        self, pipeline: str, accepted: Sequence[Record], settlement: Settlement, store: RejectStore | None
    ) -> int:
        written = super().write_replayed(pipeline, accepted, settlement, store)
        self.positions.setdefault(pipeline, {}).update(settlement.positions)
        return written


@attrs.define
class RewindSink(Sink):
    """Files appended to: the mark is how many records were written."""

    def output_mark(self) -> Mapping[str, Any]:
        return {"rows": len(self.records)}

    def rewind(self, mark: Mapping[str, Any]) -> None:
        self.events.append(f"rewind:{dict(mark)}")
        del self.records[mark["rows"] :]


@attrs.define
class OverwritingSink(Sink):
    def existing_output(self, others: Sequence[object]) -> str | None:
        return "out.csv holds rows"


@attrs.define
class KeepingSink(OverwritingSink):
    def keep_output(self) -> None:
        self.events.append("keep output")


@attrs.define
class Refuses:
    """A validator that refuses, with ``rule``, the records whose ``n`` (decoded here when need be) matches ``when``;
    ``seen`` keeps every record it was given."""

    name: str
    when: Callable[[int], bool]
    rule: str = "max"
    events: list[str] = attrs.field(factory=list)
    seen: list[Record] = attrs.field(factory=list)

    def open(self) -> None:
        self.events.append(f"open {self.name}")

    def validate(self, record: Record) -> Record:
        self.seen.append(record)
        value = json.loads(record.raw) if record.value is None else record.value
        if self.when(value["n"]):
            return record.rejected_by(self.name, f"n is {value['n']}", self.rule)
        return record.with_value(value)

    def close(self) -> None:
        self.events.append(f"close {self.name}")


@attrs.define
class JsonSource:
    """A source that decodes raw JSON itself (and rejects what does not decode); never opened by a replay."""

    decoded: list[Record] = attrs.field(factory=list)
    csv: bool = False

    def open(self) -> None:
        raise AssertionError("a replay does not open the source")

    def read(self, max_records: int, timeout: float) -> Sequence[Record]:
        raise AssertionError("a replay does not read the source")

    def decode(self, record: Record) -> Record:
        if self.csv:
            raise ValueError("a csv row is decoded by its file's header")
        self.decoded.append(record)
        value = json.loads(record.raw)
        if value["n"] < 0:
            return record.rejected_by("file", "n below zero", "file")
        return record.with_value({**value, "decoded": True})


def run(store: Store, sink: Sink, *validators: Refuses, **options: Any) -> ReplayReport:
    options.setdefault("source", ListSource([]))
    options.setdefault("retry", FAST)
    return replay(pipeline="p", validators=list(validators), sink=sink, store=store, **options)


def over(limit: int, events: list[str] | None = None) -> Refuses:
    return Refuses("range", lambda n: n > limit, events=[] if events is None else events)


# -- the plan --


@pytest.mark.parametrize(
    ("store", "sink", "mode"),
    [
        (Store([]), TxSink(joins=True), ReplayMode.JOINED),
        (TopicStore([]), PositionSink(joins=True), ReplayMode.JOINED),
        (TopicStore([]), PositionSink(joins=False), ReplayMode.POSITIONED),
        (TopicStore([]), TxSink(joins=False), ReplayMode.AT_LEAST_ONCE),  # no position store
        (Store([]), PositionSink(joins=False), ReplayMode.AT_LEAST_ONCE),  # not read by position
        (JournalStore([]), RewindSink(), ReplayMode.JOURNALED),
        (JournalStore([]), Sink(), ReplayMode.AT_LEAST_ONCE),
        (Store([]), RewindSink(), ReplayMode.AT_LEAST_ONCE),
        (Store([]), Sink(), ReplayMode.AT_LEAST_ONCE),
    ],
)
def test_the_plan_follows_what_store_and_sink_can_do(store, sink, mode):
    plan = plan_replay(store, sink)
    assert plan.mode is mode
    assert str(plan).startswith(f"{mode.value} (")


def test_joined_asks_the_sink_about_this_store():
    sink = TxSink(joins=False)
    assert plan_replay(Store([]), sink).mode is ReplayMode.AT_LEAST_ONCE
    assert sink.events == ["joins? Store"]


def test_a_rejects_sink_that_keeps_nothing_cannot_be_replayed():
    sink, validator = Sink(), over(5)
    with pytest.raises(ConfigError, match=r"rejects sink \(Sink\) cannot give back what it stored"):
        plan_replay(Sink(), sink)
    with pytest.raises(ConfigError, match="cannot give back"):
        replay(pipeline="p", source=ListSource([]), validators=[validator], sink=sink, store=Sink())
    assert sink.events == []
    assert validator.events == []


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_sink_that_replaces_its_output_is_refused_before_anything_opens(dry_run):
    # A dry run says so too: it tells what the replay would do, and the replay would refuse.
    store, sink, validator = Store([stored(1)]), OverwritingSink(), over(5)
    with pytest.raises(ConfigError, match=r"sink \(OverwritingSink\) replaces its output"):
        run(store, sink, validator, dry_run=dry_run)
    assert (sink.events, validator.events, store.events) == ([], [], [])


def test_a_sink_that_can_keep_its_output_is_told_to_before_it_opens_and_not_in_a_dry_run():
    events: list[str] = []
    run(Store([stored(1)], events=events), KeepingSink(events=events), dry_run=True)
    assert events == ["read", "close store"]
    events.clear()
    run(Store([stored(1)], events=events), KeepingSink(events=events))
    assert events[:3] == ["keep output", "open sink", "read"]


# -- selection --


@pytest.mark.parametrize(
    ("selection", "chosen"),
    [
        (Selection(), [0, 1, 2, 3]),
        (Selection(rules=frozenset({"max", "min"})), [0, 1, 3]),
        (Selection(validators=frozenset({"range", "json"})), [0, 1, 2]),
        (Selection(rules=frozenset({"max"}), validators=frozenset({"range"})), [0]),
        (Selection(rules=frozenset({"max"}), validators=frozenset({"json"})), []),
    ],
)
def test_selection_by_rule_and_validator(selection, chosen):
    items = [
        stored(0, validator="range", rule="max"),
        stored(1, validator="range", rule="min"),
        stored(2, validator="json", rule="json"),
        stored(3, validator="site", rule="max"),
    ]
    store, validator = Store(items), over(99)
    report = run(store, Sink(), validator, selection=selection)
    assert (report.read, report.chosen, report.accepted) == (4, len(chosen), len(chosen))
    [settlement] = store.settled
    assert handles(settlement.accepted) == chosen
    assert handles(settlement.passed) == [n for n in range(4) if n not in chosen]
    assert ns(validator.seen) == chosen


def test_limit_stops_reading_once_enough_were_chosen():
    items = [stored(n, rule="min" if n % 2 else "max") for n in range(10)]
    store, sink = Store(items), Sink()
    report = run(store, sink, over(99), selection=Selection(rules=frozenset({"max"}), limit=2))
    assert (report.read, report.chosen, report.accepted, report.written) == (3, 2, 2, 2)
    assert ns(sink.records) == [0, 2]
    assert handles(store.settled[0].passed) == [1]
    assert store.pulled == 3  # stopped reading: 10 were there


def test_limit_reads_no_reject_past_the_last_one_chosen():
    store = Store([stored(n) for n in range(10)])
    report = run(store, Sink(), over(99), selection=Selection(limit=3))
    assert report.read == 3
    assert store.pulled == 3


def test_max_replays_passes_over_rejects_replayed_that_often():
    items = [stored(0, replays=0), stored(1, replays=1), stored(2, replays=2), stored(3, replays=5)]
    store, validator = Store(items), over(99)
    report = run(store, Sink(), validator, selection=Selection(max_replays=2))
    assert (report.read, report.chosen, report.accepted) == (4, 2, 2)
    [settlement] = store.settled
    assert handles(settlement.accepted) == [0, 1]
    assert handles(settlement.passed) == [2, 3]
    assert ns(validator.seen) == [0, 1]


def test_duplicates_are_dropped_without_being_validated():
    items = [stored(0), stored(1, duplicate=True), stored(2, rule="other", duplicate=True), stored(3, rule="other")]
    store, sink, validator = Store(items), Sink(), over(99)
    report = run(store, sink, validator, selection=Selection(rules=frozenset({"max"})))
    assert (report.read, report.chosen, report.accepted, report.dropped) == (4, 1, 1, 2)
    [settlement] = store.settled
    assert handles(settlement.accepted) == [0]
    assert handles(settlement.dropped) == [1, 2]
    assert handles(settlement.passed) == [3]
    assert ns(validator.seen) == [0]
    assert ns(sink.records) == [0]
    assert "  dropped copies  2" in report.lines()


# -- validation --


def test_each_reject_is_validated_afresh_from_its_raw_bytes_and_original_coordinates():
    items = [stored(1, replays=2), stored(7, validator="site", rule="code")]
    first = Refuses("first", lambda n: False)
    second = over(5)
    report = run(Store(items), Sink(), first, second)
    assert report.accepted == 1
    assert [(r.value, r.reject) for r in first.seen] == [(None, None), (None, None)]
    assert [(r.value, r.reject) for r in second.seen] == [({"n": 1}, None), ({"n": 7}, None)]
    for validator in (first, second):
        assert [r.raw for r in validator.seen] == [s.record.raw for s in items]
        assert [r.meta for r in validator.seen] == [s.record.meta for s in items]


def test_a_decoding_source_decodes_each_reject_before_the_validators():
    source = JsonSource()
    items = [stored(1), stored(-3), stored(8)]
    store, sink, validator = Store(items), Sink(), over(5)
    report = run(store, sink, validator, source=source)
    assert [(r.value, r.reject, r.meta) for r in source.decoded] == [(None, None, s.record.meta) for s in items]
    assert [r.value for r in validator.seen] == [{"n": 1, "decoded": True}, {"n": 8, "decoded": True}]
    assert [r.value for r in sink.records] == [{"n": 1, "decoded": True}]
    [settlement] = store.settled
    assert [(s.handle, r.reject.validator, r.reject.reason) for s, r in settlement.rejected] == [
        (-3, "file", "n below zero"),
        (8, "range", "n is 8"),
    ]
    assert report.still_rejected == {("file", "file"): 1, ("range", "max"): 1}


def test_accepted_are_written_and_the_still_rejected_carry_their_new_reason_and_one_more_replay():
    items = [
        stored(1, replays=3),
        stored(9, validator="json", rule="json", replays=0),
        stored(2, validator="site", rule="code"),
        stored(8, replays=4),
        stored(4, validator="range", rule="min"),
    ]
    store, sink = Store(items), Sink()
    report = run(store, sink, Refuses("code", lambda n: n == 8, rule="lookup"), over(5))
    assert [r.value for r in sink.records] == [{"n": 1}, {"n": 2}, {"n": 4}]
    [settlement] = store.settled
    assert handles(settlement.accepted) == [1, 2, 4]
    rejected = [(s.handle, r.reject) for s, r in settlement.rejected]
    assert rejected == [
        (9, Rejection(validator="range", reason="n is 9", rule="max", replays=1)),
        (8, Rejection(validator="code", reason="n is 8", rule="lookup", replays=5)),
    ]
    for s, r in settlement.rejected:
        assert (r.raw, r.meta) == (s.record.raw, s.record.meta)
    assert (report.read, report.chosen, report.accepted, report.written, report.rejected) == (5, 5, 3, 3, 2)
    assert report.still_rejected == {("range", "max"): 1, ("code", "lookup"): 1}
    assert report.to_dict() == {
        "pipeline": "p",
        "dry_run": False,
        "delivery": str(plan_replay(store, sink)),
        "read": 5,
        "chosen": 5,
        "accepted": 3,
        "written": 3,
        "dropped": 0,
        "still_rejected": 2,
        "still_rejected_by": [
            {"validator": "code", "rule": "lookup", "count": 1},
            {"validator": "range", "rule": "max", "count": 1},
        ],
    }
    assert report.lines() == [
        "replay of p",
        "  rejects read    5",
        "  chosen          5",
        "  accepted        3",
        "  written         3",
        "  still rejected  2",
        f"  delivery        {plan_replay(store, sink)}",
        "  still rejected by validator / rule:",
        "            1  code / lookup",
        "            1  range / max",
    ]


def test_the_source_is_not_opened_and_the_validators_are_opened_and_closed():
    events: list[str] = []
    report = run(
        Store([stored(1)], events=events),
        Sink(events=events),
        Refuses("a", lambda n: False, events=events),
        Refuses("b", lambda n: False, events=events),
        source=JsonSource(),
    )
    assert report.written == 1
    assert events == [
        "open a",
        "open b",
        "open sink",
        "read",
        "write:[1]",
        "settle:[1]",
        "close sink",
        "close b",
        "close a",
        "close store",
    ]


# -- dry run --


def test_a_dry_run_writes_and_settles_nothing_and_counts_as_the_replay_that_follows():
    items = [stored(1), stored(9), stored(2, duplicate=True), stored(3, rule="other"), stored(4, replays=3)]
    store, sink = Store(list(items)), Sink()
    selection = Selection(rules=frozenset({"max"}), max_replays=3)
    dry = run(store, sink, over(5), selection=selection, dry_run=True)
    assert (sink.opened, sink.records, store.settled) == (False, [], [])
    assert store.closed
    real = run(Store(list(items)), Sink(), over(5), selection=selection)
    counts = ("read", "chosen", "accepted", "dropped", "still_rejected")
    assert [getattr(dry, c) for c in counts] == [getattr(real, c) for c in counts]
    assert (dry.read, dry.chosen, dry.accepted, dry.dropped, dry.rejected) == (5, 2, 1, 1, 1)
    assert (dry.written, real.written) == (0, 1)
    assert dry.to_dict()["dry_run"] is True
    lines = dry.lines()
    assert lines[0] == "replay of p (dry run: nothing written)"
    assert "  would accept    1" in lines
    assert not any(line.startswith("  written") for line in lines)


def test_a_dry_run_leaves_an_unfinished_journal_alone():
    events: list[str] = []
    store = JournalStore([stored(1), stored(2)], events=events, journal={"rows": 0})
    sink = RewindSink(events=events, records=[Record.of(b"x")])
    report = run(store, sink, over(5), dry_run=True)
    assert report.accepted == 2
    assert events == ["read", "close store"]
    assert store.journal == {"rows": 0}
    assert len(sink.records) == 1


def test_a_dry_run_of_a_store_read_by_position_reads_from_the_replay_position():
    # Each replay builds its components afresh, as `lmnh-pipes replay` does: the topic and the stored positions last.
    topic = [stored(n, handle=("dlq", 0, i)) for i, n in enumerate([1, 2, 8, 9])]
    positions: dict[str, dict[tuple[str, int], int]] = {}

    def again(**options: Any) -> ReplayReport:
        return run(TopicStore(topic), PositionSink(joins=False, positions=positions), over(5), **options)

    first = again()
    assert (first.read, first.accepted, first.rejected) == (4, 2, 2)
    assert len(topic) == 6
    dry = again(dry_run=True)
    real = again()
    assert (real.read, real.accepted, real.rejected) == (2, 0, 2)
    assert (dry.read, dry.chosen, dry.accepted, dry.rejected) == (real.read, real.chosen, real.accepted, real.rejected)


# -- the order of delivery, per mode --


def test_at_least_once_writes_then_settles_each_batch():
    events: list[str] = []
    report = run(Store([stored(n) for n in (1, 9, 2)], events=events), Sink(events=events), over(5), batch_size=2)
    assert report.written == 2
    assert events == [
        "open sink",
        "read",
        "write:[1]",
        "settle:[1]",
        "write:[2]",
        "settle:[2]",
        "close sink",
        "close store",
    ]


def test_at_least_once_settles_a_batch_with_nothing_accepted_without_writing():
    events: list[str] = []
    store = Store([stored(8), stored(9)], events=events)
    report = run(store, Sink(events=events), over(5))
    assert (report.written, report.rejected) == (0, 2)
    assert events == ["open sink", "read", "settle:[]", "close sink", "close store"]


def test_journaled_journals_the_mark_before_writing_and_settles_after():
    events: list[str] = []
    store = JournalStore([stored(1), stored(2), stored(3)], events=events)
    sink = RewindSink(events=events, records=[Record.of(b"old")])
    report = run(store, sink, over(5), batch_size=2)
    assert report.written == 3
    assert events == [
        "open sink",
        "read",
        "begin:{'rows': 1}",
        "write:[1, 2]",
        "settle:[1, 2]",
        "begin:{'rows': 3}",
        "write:[3]",
        "settle:[3]",
        "close sink",
        "close store",
    ]
    assert store.journal is None


def test_journaled_rewinds_an_unfinished_replay_before_the_sink_opens():
    events: list[str] = []
    store = JournalStore([stored(1)], events=events, journal={"rows": 1})
    sink = RewindSink(events=events, records=[Record.of(b"kept"), Record.of(b"half-replayed")])
    run(store, sink, over(5))
    assert events[:5] == ["rewind:{'rows': 1}", "abandon", "open sink", "read", "begin:{'rows': 1}"]
    assert [r.raw for r in sink.records] == [b"kept", b'{"n": 1}']


def test_positioned_uses_the_sink_for_positions_and_settles_before_writing():
    events: list[str] = []
    items = [
        stored(1, handle=("dlq", 0, 10)),
        stored(9, handle=("dlq", 1, 4)),
        stored(2, handle=("dlq", 0, 11), rule="other"),
        stored(3, handle=("dlq", 1, 5), duplicate=True),
        stored(4, handle=("dlq", 0, 12)),
    ]
    store, sink = TopicStore(items, events=events), PositionSink(joins=False, events=events)
    report = run(store, sink, over(5), batch_size=3, selection=Selection(rules=frozenset({"max"})))
    assert report.written == 2
    assert events == [
        "joins? TopicStore",
        "use positions:p/replay",
        "open sink",
        "read",
        "settle:[('dlq', 0, 10)]",
        "write:[1]",
        "settle:[('dlq', 0, 12)]",
        "write:[4]",
        "close sink",
        "close store",
    ]
    assert store.positions_from is sink
    assert [(name, ns(accepted), store) for name, accepted, _, store in sink.calls] == [
        (replay_name("p"), [1], None),
        (replay_name("p"), [4], None),
    ]
    assert [s.positions for s in store.settled] == [{("dlq", 0): 12, ("dlq", 1): 5}, {("dlq", 0): 13, ("dlq", 1): 6}]
    assert [c[2] for c in sink.calls] == store.settled
    assert sink.positions == {"p/replay": {("dlq", 0): 13, ("dlq", 1): 6}}


def test_positions_are_only_for_a_store_read_by_position():
    store = Store([stored(1), stored(2)])
    run(store, Sink(), over(5))
    assert store.settled[0].positions == {}


def test_joined_writes_and_settles_in_the_sinks_transaction():
    events: list[str] = []
    store, sink = Store([stored(1), stored(9), stored(8)], events=events), TxSink(events=events)
    report = run(store, sink, over(5), batch_size=2)
    assert (report.written, report.rejected) == (1, 2)
    assert events == [
        "joins? Store",
        "open sink",
        "read",
        "write:[1]",
        "settle:[1]",
        "write:[]",
        "settle:[]",
        "close sink",
        "close store",
    ]
    assert [(name, ns(accepted), s) for name, accepted, _, s in sink.calls] == [("p", [1], store), ("p", [], store)]
    assert [c[2] for c in sink.calls] == store.settled


# -- records the sink refuses --


@pytest.mark.parametrize("kind", [Sink, TxSink], ids=["at-least-once", "joined"])
def test_records_the_sink_refuses_are_still_rejected_and_the_rest_delivered_again(kind):
    sink = kind(refuse={b'{"n": 2}': "value too long for type"})
    store = Store([stored(1), stored(2, replays=1), stored(3), stored(9)])
    report = run(store, sink, over(5))
    assert ns(sink.records) == [1, 3]
    assert sink.events[-3:] == ["refused:[2]", "write:[1, 3]", "close sink"]
    [settlement] = store.settled
    assert handles(settlement.accepted) == [1, 3]
    rejected = {s.handle: r.reject for s, r in settlement.rejected}
    assert rejected == {
        9: Rejection(validator="range", reason="n is 9", rule="max", replays=1),
        2: Rejection(validator="db", reason="value too long for type", rule="write", replays=2),
    }
    assert (report.chosen, report.accepted, report.written, report.rejected) == (4, 2, 2, 2)
    assert report.still_rejected == {("range", "max"): 1, ("db", "write"): 1}


def test_a_refusal_that_names_records_not_of_the_batch_fails_the_replay():
    class Confused(Sink):
        def write(self, records: Sequence[Record]) -> None:
            raise RecordRejectedError("db", [(Record.of(b'{"n": 1}'), "not mine")])

    store, sink = Store([stored(1), stored(2)]), Confused()
    with pytest.raises(RunError, match="not of this batch"):
        run(store, sink, over(5))
    assert store.settled == []
    assert sink.closed
    assert store.closed


# -- batches, outages, failures --


def test_each_batch_is_settled_on_its_own():
    store, sink = Store([stored(n) for n in range(5)]), Sink()
    report = run(store, sink, over(99), batch_size=2)
    assert [handles(s.accepted) for s in store.settled] == [[0, 1], [2, 3], [4]]
    assert sink.events[1:-1] == ["write:[0, 1]", "write:[2, 3]", "write:[4]"]
    assert (report.read, report.chosen, report.accepted, report.written) == (5, 5, 5, 5)


def test_an_outage_is_retried_and_the_batch_written_once():
    store, sink = Store([stored(1), stored(2), stored(3)]), Sink(outages=1)
    report = run(store, sink, over(99), batch_size=2)
    assert sink.events[1:-1] == ["outage", "write:[1, 2]", "write:[3]"]
    assert ns(sink.records) == [1, 2, 3]
    assert [handles(s.accepted) for s in store.settled] == [[1, 2], [3]]
    assert report.written == 3


def test_a_replay_whose_write_keeps_failing_settles_nothing_and_closes_everything():
    events: list[str] = []
    store = Store([stored(1)], events=events)
    sink = Sink(events=events, outages=1_000_000)
    validator = over(5, events)
    with pytest.raises(RunError, match="replaying into the sink still failing"):
        run(store, sink, validator)
    assert store.settled == []
    assert events[-3:] == ["close sink", "close range", "close store"]


def test_a_write_that_fails_is_a_run_error():
    store = Store([stored(1)])
    sink = Sink(broken=OSError("disk full"))
    pipeline = Pipeline(name="p", source=ListSource([]), sink=sink, rejects=store, retry=FAST)
    try:
        with pytest.raises(RunError, match="disk full"):
            pipeline.replay()
    finally:
        assert store.settled == []
        assert store.closed


def test_a_source_that_cannot_decode_a_reject_alone_is_a_library_error():
    store, sink = Store([stored(1)]), Sink()
    try:
        with pytest.raises(LmnhPipesError, match="header"):
            run(store, sink, over(5), source=JsonSource(csv=True))
    finally:
        assert store.settled == []
        assert sink.records == []
