"""The runner: batching, ordering (ack only after the write returned), rejects, stops, failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import attrs
import pytest

from lmnh_pipes import (
    BatchOptions,
    ConfigError,
    Pipeline,
    Record,
    RecordRejectedError,
    RetryPolicy,
    RunError,
    TransientError,
)
from lmnh_pipes.testing import ListSink, ListSource
from lmnh_pipes_rules import JsonValidator


@attrs.define
class Journal:
    """Records the order of calls across components."""

    events: list[str] = attrs.field(factory=list)


@attrs.define
class JournalSink(ListSink):
    journal: Journal = attrs.field(factory=Journal)
    label: str = "sink"

    def write(self, records: Sequence[Record]) -> None:
        super().write(records)
        self.journal.events.append(f"{self.label}:{','.join(str(r.meta.offset) for r in records)}")


@attrs.define
class JournalSource(ListSource):
    journal: Journal = attrs.field(factory=Journal)

    def ack(self, records: Sequence[Record]) -> None:
        super().ack(records)
        self.journal.events.append(f"ack:{','.join(str(r.meta.offset) for r in records)}")


ITEMS = [b'{"n": 0}', b"bad", b'{"n": 2}', b'{"n": 3}', b"{", b'{"n": 5}', b'{"n": 6}']


def test_every_batch_is_acked_after_both_writes_returned():
    journal = Journal()
    source = JournalSource(ITEMS, journal=journal)
    sink = JournalSink(journal=journal, label="sink")
    rejects = JournalSink(journal=journal, label="rejects")
    report = Pipeline(
        source=source, validators=[JsonValidator()], sink=sink, rejects=rejects, batch=BatchOptions(max_records=3)
    ).run()
    assert journal.events == [
        "rejects:1",
        "sink:0,2",
        "ack:0,1,2",
        "rejects:4",
        "sink:3,5",
        "ack:3,4,5",
        "sink:6",
        "ack:6",
    ]
    assert (report.read, report.accepted, report.rejected, report.written) == (7, 5, 2, 5)
    assert report.rejected_by == {("json", "json"): 2}
    assert report.stopped_by == "end of input"


def test_failing_sink_stops_the_run_without_acking_its_batch():
    source = ListSource(ITEMS)
    sink = ListSink(fail_on=2)
    with pytest.raises(RunError, match="write 2 fails as asked"):
        Pipeline(source=source, validators=[JsonValidator()], sink=sink, batch=BatchOptions(max_records=3)).run()
    assert [r.meta.offset for r in source.acked] == [0, 1, 2]
    assert source.closed
    assert sink.closed


def test_failing_rejects_sink_stops_the_run_without_acking():
    source = ListSource(ITEMS)
    with pytest.raises(RunError):
        Pipeline(source=source, validators=[JsonValidator()], sink=ListSink(), rejects=ListSink(fail_on=1)).run()
    assert source.acked == []


@attrs.define
class FlakySink(ListSink):
    failures: int = 2

    def write(self, records: Sequence[Record]) -> None:
        if self.failures:
            self.failures -= 1
            raise TransientError("database restarting")
        super().write(records)


def test_transient_write_failures_are_retried_not_rejected():
    source = ListSource(ITEMS)
    sink = FlakySink()
    report = Pipeline(source=source, validators=[JsonValidator()], sink=sink).run()
    assert [r.value["n"] for r in sink.records] == [0, 2, 3, 5, 6]
    assert report.rejected == 2
    assert len(source.acked) == 7


def test_limit_stops_after_n_records_and_writes_them():
    source = ListSource(ITEMS)
    sink = ListSink()
    report = Pipeline(source=source, sink=sink, batch=BatchOptions(max_records=2)).run(limit=5)
    assert report.read == 5
    assert report.stopped_by == "limit"
    assert [r.meta.offset for r in sink.records] == [0, 1, 2, 3, 4]
    assert len(source.acked) == 5


@attrs.define
class EndlessSource(ListSource):
    """Gives its items, then nothing, forever (like a quiet topic)."""

    def read(self, max_records: int, timeout: float) -> Sequence[Record]:
        if self._pos >= len(self.items):
            time.sleep(min(timeout, 0.05))
            return ()
        return super().read(max_records, timeout)


def test_idle_timeout_stops_a_quiet_stream_after_writing_everything():
    source = EndlessSource(ITEMS)
    sink = ListSink()
    started = time.monotonic()
    report = Pipeline(source=source, sink=sink).run(idle_timeout=0.3)
    assert report.stopped_by == "idle timeout"
    assert len(sink.records) == 7
    assert len(source.acked) == 7
    assert time.monotonic() - started < 5


def test_stop_event_drains_the_batch_in_hand():
    stop = threading.Event()
    source = EndlessSource(ITEMS)
    sink = ListSink()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    report = Pipeline(source=source, sink=sink, batch=BatchOptions(max_wait=60)).run(stop=stop)
    assert report.stopped_by == "signal"
    assert len(sink.records) == 7
    assert len(source.acked) == 7


def test_batch_waits_at_most_max_wait():
    source = EndlessSource(ITEMS[:2])
    sink = ListSink()
    stop = threading.Event()
    threading.Timer(1.5, stop.set).start()
    Pipeline(source=source, sink=sink, batch=BatchOptions(max_records=1000, max_wait=0.2)).run(stop=stop)
    assert sink.writes == 1
    assert len(sink.records) == 2


@attrs.define
class BrokenValidator:
    name: str = "broken"

    def open(self) -> None:
        return None

    def validate(self, record: Record) -> Record:
        if record.value["n"] == 3:
            raise KeyError("boom")
        return record

    def close(self) -> None:
        return None


def test_a_validator_that_raises_rejects_the_record_instead_of_crashing():
    rejects = ListSink()
    report = Pipeline(
        source=ListSource(ITEMS), validators=[JsonValidator(), BrokenValidator()], sink=ListSink(), rejects=rejects
    ).run()
    assert report.rejected == 3
    [broken] = [r for r in rejects.records if r.reject.validator == "broken"]
    assert broken.meta.offset == 3
    assert broken.reject.reason == "validator raised KeyError: 'boom'"


@attrs.define
class CatalogueValidator:
    name: str = "needs_catalogue"

    def open(self) -> None:
        raise ConfigError("catalogue 'nowhere' does not exist")

    def validate(self, record: Record) -> Record:
        return record

    def close(self) -> None:
        return None


def test_config_error_on_open_stops_before_the_source_opens():
    source = ListSource(ITEMS)
    sink = ListSink()
    with pytest.raises(ConfigError):
        Pipeline(source=source, validators=[CatalogueValidator()], sink=sink).run()
    assert not source.opened
    assert not sink.opened


def test_components_close_in_reverse_order_of_opening():
    journal: list[str] = []

    @attrs.define
    class Tracked(ListSink):
        label: str = ""

        def open(self) -> None:
            journal.append(f"open {self.label}")

        def close(self) -> None:
            journal.append(f"close {self.label}")

    @attrs.define
    class TrackedSource(ListSource):
        def open(self) -> None:
            journal.append("open source")

        def close(self) -> None:
            journal.append("close source")

    Pipeline(source=TrackedSource(ITEMS), sink=Tracked(label="sink"), rejects=Tracked(label="rejects")).run()
    assert journal == ["open source", "open sink", "open rejects", "close rejects", "close sink", "close source"]


def test_validate_on_plain_items():
    pipeline = Pipeline(source=ListSource([]), validators=[JsonValidator()], sink=ListSink())
    out = pipeline.validate([b'{"a": 1}', "nope", {"already": "decoded"}])
    assert [r.rejected for r in out] == [False, True, False]
    assert out[0].value == {"a": 1}


def test_a_record_rejected_by_its_source_keeps_that_reason():
    pre = Record.of(b"a,b").rejected_by("file", "row has 2 fields, the header has 3", "csv")
    out = Pipeline(source=ListSource([]), validators=[JsonValidator()], sink=ListSink()).validate([pre])
    assert out[0].reject == pre.reject


@attrs.define
class PickySink(ListSink):
    """Refuses records whose n is odd, as a database refuses rows that break a constraint."""

    def write(self, records: Sequence[Record]) -> None:
        bad = [(r, f'n {r.value["n"]} violates check constraint "even"') for r in records if r.value["n"] % 2]
        if bad:
            raise RecordRejectedError("picky", bad)
        super().write(records)


def test_records_the_sink_refuses_become_rejects_and_the_rest_is_written():
    source = ListSource(ITEMS)
    sink, rejects = PickySink(), ListSink()
    report = Pipeline(
        source=source, validators=[JsonValidator()], sink=sink, rejects=rejects, batch=BatchOptions(max_records=4)
    ).run()
    assert [r.value["n"] for r in sink.records] == [0, 2, 6]
    refused = [r for r in rejects.records if r.reject.validator == "picky"]
    assert [(r.meta.offset, r.reject.rule, r.reject.reason) for r in refused] == [
        (3, "write", 'n 3 violates check constraint "even"'),
        (5, "write", 'n 5 violates check constraint "even"'),
    ]
    assert (report.accepted, report.rejected, report.written) == (3, 4, 3)
    assert report.rejected_by[("picky", "write")] == 2
    assert len(source.acked) == 7


@attrs.define
class SlowToOpen(ListSink):
    failures_left: int = 2

    def open(self) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise TransientError("database starting up")
        super().open()


def test_an_outage_at_open_is_waited_for():
    sink = SlowToOpen()
    Pipeline(source=ListSource(ITEMS), sink=sink, retry=RetryPolicy(initial=0.01)).run()
    assert sink.opened
    assert len(sink.records) == 7


@attrs.define
class DownSink(ListSink):
    def write(self, records: Sequence[Record]) -> None:
        raise TransientError("database down")


def test_a_stop_gives_up_on_an_outage_after_the_shutdown_timeout():
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    source = EndlessSource(ITEMS)
    with pytest.raises(RunError, match="writing to the sink still failing"):
        Pipeline(
            source=source,
            sink=DownSink(),
            batch=BatchOptions(max_wait=60),
            retry=RetryPolicy(initial=0.05, max_backoff=0.1),
        ).run(stop=stop, shutdown_timeout=0.5)
    assert time.monotonic() - started < 5
    assert source.acked == []


def test_an_outage_longer_than_max_elapsed_fails_the_run():
    with pytest.raises(RunError, match="still failing after"):
        Pipeline(
            source=ListSource(ITEMS),
            sink=DownSink(),
            retry=RetryPolicy(initial=0.01, max_backoff=0.05, max_elapsed=0.3),
        ).run()


@attrs.define
class SlowThreadSink(ListSink):
    """Notes which thread wrote, and takes its time."""

    threads: set[str] = attrs.field(factory=set)

    def write(self, records: Sequence[Record]) -> None:
        self.threads.add(threading.current_thread().name)
        time.sleep(0.05)
        super().write(records)


def test_overlap_writes_in_a_writer_thread_and_acks_in_order():
    items = [b'{"n": %d}' % i for i in range(50)]
    source = ListSource(items)
    sink = SlowThreadSink()
    Pipeline(source=source, validators=[JsonValidator()], sink=sink, batch=BatchOptions(max_records=5)).run()
    assert [r.value["n"] for r in sink.records] == list(range(50))
    assert [r.meta.offset for r in source.acked] == list(range(50))
    assert all(name.startswith("lmnh-pipes-writer") for name in sink.threads)


def test_without_overlap_the_main_thread_writes():
    sink = SlowThreadSink()
    Pipeline(source=ListSource(ITEMS), sink=sink, batch=BatchOptions(max_records=2, overlap=False)).run()
    assert sink.threads == {threading.main_thread().name}


def test_overlap_never_acks_past_a_failed_write():
    items = [b'{"n": %d}' % i for i in range(40)]
    source = ListSource(items)
    with pytest.raises(RunError):
        Pipeline(source=source, sink=ListSink(fail_on=3), batch=BatchOptions(max_records=5)).run()
    assert [r.meta.offset for r in source.acked] == list(range(10))


def test_the_interpreter_is_tuned_during_a_run_and_restored_after():
    import gc
    import sys

    seen: list[tuple[tuple[int, int, int], int, float]] = []

    @attrs.define
    class Watching:
        name: str = "watching"

        def open(self) -> None:
            pass

        def validate(self, record: Record) -> Record:
            seen.append((gc.get_threshold(), gc.get_freeze_count(), sys.getswitchinterval()))
            return record

        def close(self) -> None:
            pass

    before = (gc.get_threshold(), gc.get_freeze_count(), sys.getswitchinterval())
    pipeline = Pipeline(source=ListSource(ITEMS), validators=[JsonValidator(), Watching()], sink=ListSink())
    pipeline.run(tune_interpreter=True)
    assert seen
    threshold, frozen, interval = seen[0]
    assert threshold[0] >= 20_000
    assert threshold[1:] == before[0][1:]
    assert frozen > before[1]  # what existed at the start is left out of collections
    assert interval == 0.001 < before[2]
    assert (gc.get_threshold(), gc.get_freeze_count(), sys.getswitchinterval()) == before

    # A library caller (a notebook, a host application) keeps its own settings unless it opts in.
    seen.clear()
    Pipeline(source=ListSource(ITEMS), validators=[JsonValidator(), Watching()], sink=ListSink()).run()
    assert seen
    assert all(s == before for s in seen)


def test_tuning_blocks_nest_and_the_outermost_restores():
    import gc
    import sys

    from lmnh_pipes import interpreter_tuned

    before = (gc.get_threshold(), sys.getswitchinterval())
    with interpreter_tuned():
        tuned = (gc.get_threshold(), sys.getswitchinterval())
        assert tuned != before
        with interpreter_tuned():
            pass
        assert (gc.get_threshold(), sys.getswitchinterval()) == tuned  # the inner block did not restore
    assert (gc.get_threshold(), sys.getswitchinterval()) == before


def test_validate_all_decides_as_apply_validators_record_by_record():
    from lmnh_pipes import apply_validators
    from lmnh_pipes.pipeline import validate_all
    from lmnh_pipes_rules import Range

    @attrs.define
    class Raising:
        name: str = "raising"

        def open(self) -> None:
            pass

        def validate(self, record: Record) -> Record:
            if record.value.get("n") == 3:
                raise KeyError("boom")
            return record

        def close(self) -> None:
            pass

    validators = [JsonValidator(), Raising(), Range(field="n", max=4)]
    records = [Record(raw=raw) for raw in ITEMS] + [Record(raw=b'{"n": 1}').rejected_by("source", "unreadable")]
    got = validate_all(validators, records)
    assert got == [apply_validators(validators, r) for r in records]
    rules = [(r.reject.validator, r.reject.rule) if r.reject else None for r in got]
    assert rules == [
        None,
        ("json", "json"),
        None,
        ("raising", "error"),
        ("json", "json"),
        ("range", "range"),
        ("range", "range"),
        ("source", "source"),
    ]


def test_a_freeze_of_the_host_process_is_left_alone():
    import gc

    from lmnh_pipes import interpreter_tuned

    assert gc.get_freeze_count() == 0
    gc.freeze()  # as a pre-forking server does
    try:
        frozen = gc.get_freeze_count()
        with interpreter_tuned():
            assert gc.get_freeze_count() == frozen
            assert gc.get_threshold()[0] >= 20_000
        assert gc.get_freeze_count() == frozen  # not undone
    finally:
        gc.unfreeze()


@attrs.define
class HoldingJournalSource(JournalSource):
    """A source that can hold its commits back (as the kafka source does)."""

    def open(self) -> None:
        super().open()
        self.journal.events.append("source:open")

    def hold_commits(self) -> None:
        self.journal.events.append("hold")

    def release_commits(self) -> None:
        self.journal.events.append("release")

    def close(self) -> None:
        super().close()
        self.journal.events.append("source:close")


@attrs.define
class BufferingJournalSink(JournalSink):
    """A sink whose rows are durable only when it closes (as a CSV file on S3); ``fail_close`` makes close raise."""

    fail_close: bool = False

    @property
    def durable_writes(self) -> bool:
        return False

    def close(self) -> None:
        super().close()
        self.journal.events.append(f"{self.label}:close")
        if self.fail_close:
            raise OSError("the upload failed")


def test_with_a_buffering_sink_commits_are_held_until_it_has_closed():
    journal = Journal()
    source = HoldingJournalSource([b'{"n": 0}', b'{"n": 1}', b'{"n": 2}'], journal=journal)
    sink = BufferingJournalSink(journal=journal)
    Pipeline(source=source, sink=sink, batch=BatchOptions(max_records=2, overlap=False)).run()
    assert journal.events == [
        "source:open",
        "hold",
        "sink:0,1",
        "ack:0,1",
        "sink:2",
        "ack:2",
        "sink:close",
        "release",
        "source:close",
    ]


def test_a_buffering_sink_that_fails_to_close_releases_no_commit():
    journal = Journal()
    source = HoldingJournalSource([b'{"n": 0}'], journal=journal)
    rejects = BufferingJournalSink(journal=journal, label="rejects", fail_close=True)
    with pytest.raises(RunError, match="the upload failed"):
        Pipeline(source=source, sink=JournalSink(journal=journal), rejects=rejects).run()
    assert "rejects:close" in journal.events
    assert "release" not in journal.events
    assert journal.events[-1] == "source:close"


def test_a_failed_run_releases_no_commit():
    journal = Journal()
    source = HoldingJournalSource(ITEMS, journal=journal)
    sink = BufferingJournalSink(journal=journal, fail_on=2)
    with pytest.raises(RunError):
        Pipeline(source=source, sink=sink, batch=BatchOptions(max_records=2)).run()
    assert journal.events[:2] == ["source:open", "hold"]
    assert "release" not in journal.events


def test_with_durable_sinks_nothing_is_held():
    journal = Journal()
    source = HoldingJournalSource([b'{"n": 0}'], journal=journal)
    Pipeline(source=source, sink=JournalSink(journal=journal)).run()
    assert "hold" not in journal.events
    assert "release" not in journal.events


@attrs.define
class InterruptedSink(BufferingJournalSink):
    def write(self, records: Sequence[Record]) -> None:
        raise KeyboardInterrupt


def test_an_interrupted_run_releases_no_commit():
    journal = Journal()
    source = HoldingJournalSource([b'{"n": 0}'], journal=journal)
    with pytest.raises(KeyboardInterrupt):
        Pipeline(source=source, sink=InterruptedSink(journal=journal), batch=BatchOptions(overlap=False)).run()
    assert journal.events[:2] == ["source:open", "hold"]
    assert "release" not in journal.events
    assert journal.events[-1] == "source:close"


def test_a_pipeline_without_rejects_says_that_rejected_records_are_not_kept(caplog):
    with caplog.at_level("WARNING", logger="lmnh_pipes.runner"):
        report = Pipeline(source=ListSource([b"bad"]), validators=[JsonValidator()], sink=ListSink()).run()
    assert report.rejected == 1
    assert "no rejects sink: rejected records are counted, but not kept" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="lmnh_pipes.runner"):
        Pipeline(source=ListSource([b"bad"]), validators=[JsonValidator()], sink=ListSink(), rejects=ListSink()).run()
    assert "rejects sink" not in caplog.text


@attrs.define
class NotThereSink(ListSink):
    """A sink whose server is not there for its first ``down_for`` seconds, at open and at write alike."""

    down_for: float = 0.0
    opens: int = 0
    _since: float = attrs.field(factory=time.monotonic)

    def _check(self) -> None:
        if time.monotonic() - self._since < self.down_for:
            raise TransientError("connection refused")

    def open(self) -> None:
        self.opens += 1
        self._check()

    def write(self, records: Sequence[Record]) -> None:
        self._check()
        super().write(records)


def test_a_server_not_there_at_the_start_fails_the_run_after_startup_timeout_not_max_elapsed():
    started = time.monotonic()
    with pytest.raises(RunError, match=r"opening NotThereSink still failing after 0 s: connection refused"):
        Pipeline(
            source=ListSource(ITEMS),
            sink=NotThereSink(down_for=3600),
            retry=RetryPolicy(initial=0.01, max_backoff=0.05, max_elapsed=3600, startup_timeout=0.4),
        ).run()
    assert 0.4 <= time.monotonic() - started < 5


def test_a_server_that_comes_up_within_startup_timeout_is_waited_for():
    sink = NotThereSink(down_for=0.3)
    report = Pipeline(
        source=ListSource(ITEMS),
        sink=sink,
        retry=RetryPolicy(initial=0.01, max_backoff=0.05, startup_timeout=10),
    ).run()
    assert report.written == len(ITEMS)
    assert sink.opens > 1


@attrs.define
class OutageSink(ListSink):
    """Up at the start, then down for ``down_for`` seconds from its first write."""

    down_for: float = 0.0
    _since: float | None = None

    def write(self, records: Sequence[Record]) -> None:
        self._since = self._since or time.monotonic()
        if time.monotonic() - self._since < self.down_for:
            raise TransientError("connection reset")
        super().write(records)


def test_an_outage_mid_run_keeps_the_max_elapsed_budget_past_startup_timeout():
    sink = OutageSink(down_for=0.6)
    report = Pipeline(
        source=ListSource(ITEMS),
        sink=sink,
        retry=RetryPolicy(initial=0.01, max_backoff=0.05, max_elapsed=30, startup_timeout=0.1),
    ).run()
    assert report.written == len(ITEMS)
