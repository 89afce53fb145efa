"""The runner with a reject limit: the batch that crosses it is neither written nor acknowledged; the run says so in
its error, its report, ``/metrics`` and ``/ready``."""

from __future__ import annotations

import threading

import attrs
import pytest

from lmnh_pipes import BatchOptions, Pipeline, RejectLimit, RejectLimitError, RunError, RunReport
from lmnh_pipes.http import HttpOptions
from lmnh_pipes.metrics import Metrics
from lmnh_pipes.testing import ListSink, ListSource
from lmnh_pipes_rules import JsonValidator
from tests.core.test_http import get, sample
from tests.core.test_runner import Journal, JournalSink, JournalSource
from tests.fixtures.kafka import free_port

G, B = b'{"n": 1}', b"bad"
#: Batches of four: the third takes the last eight records to five rejects, over max_share 0.5 of 8.
ITEMS = [*(G, B, G, G), *(G, G, B, G), *(B, B, B, B), *(G, G, G, G)]


def journalled(**options: object) -> tuple[Pipeline, Journal, JournalSource]:
    journal = Journal()
    source = JournalSource(ITEMS, journal=journal)
    pipeline = Pipeline(
        name="p",
        source=source,
        validators=[JsonValidator()],
        sink=JournalSink(journal=journal, label="sink"),
        rejects=JournalSink(journal=journal, label="rejects"),
        reject_limit=RejectLimit(window=8, max_share=0.5),
        **options,
    )
    return pipeline, journal, source


@pytest.mark.parametrize("overlap", [True, False])
def test_the_batch_that_crosses_is_neither_written_nor_acknowledged(overlap):
    pipeline, journal, source = journalled(batch=BatchOptions(max_records=4, overlap=overlap))
    metrics = Metrics(RunReport(pipeline="p"))
    with pytest.raises(RejectLimitError) as exc:
        pipeline.run(metrics=metrics)
    assert isinstance(exc.value, RunError)
    assert str(exc.value).startswith(
        "reject limit crossed: 5 of the last 8 records (62.5%) were rejected, more than max_share 0.5; "
        "top rules: json / json 5."
    )
    # The batches before it were written, then acknowledged (the writer thread had finished the second).
    assert journal.events == ["rejects:1", "sink:0,2,3", "ack:0,1,2,3", "rejects:6", "sink:4,5,7", "ack:4,5,6,7"]
    assert source.closed
    report = metrics.report
    assert report.stopped_by == "reject limit"
    assert (report.read, report.batches, report.rejected, report.written) == (12, 2, 2, 6)


def test_the_last_batch_is_judged_before_its_drain_writes_it():
    journal = Journal()
    source = JournalSource([G] * 8 + [B, B], journal=journal)
    sink = JournalSink(journal=journal, label="sink")
    with pytest.raises(
        RejectLimitError, match=r"2 of the last 4 records \(50\.0%\) were rejected, more than max_share"
    ):
        Pipeline(
            source=source,
            validators=[JsonValidator()],
            sink=sink,
            rejects=JournalSink(journal=journal, label="rejects"),
            batch=BatchOptions(max_records=4),
            reject_limit=RejectLimit(window=4, max_share=0.25),
        ).run()
    assert journal.events == ["sink:0,1,2,3", "ack:0,1,2,3", "sink:4,5,6,7", "ack:4,5,6,7"]


def test_below_the_limit_the_run_ends_as_usual_and_shows_the_share():
    metrics = Metrics(RunReport(pipeline="p"))
    sink = ListSink()
    report = Pipeline(
        name="p",
        source=ListSource([G, B, G, G] * 3),
        validators=[JsonValidator()],
        sink=sink,
        batch=BatchOptions(max_records=4),
        reject_limit=RejectLimit(window=8, max_share=0.25),
    ).run(metrics=metrics)
    assert report.stopped_by == "end of input"
    assert len(sink.records) == 9
    text = metrics.render()
    assert sample(text, "lmnh_pipes_reject_share", pipeline="p") == 0.25
    assert sample(text, "lmnh_pipes_reject_limit_tripped", pipeline="p") == 0


def test_metrics_after_a_trip():
    pipeline, _, _ = journalled(batch=BatchOptions(max_records=4))
    metrics = Metrics(RunReport(pipeline="p"))
    with pytest.raises(RejectLimitError):
        pipeline.run(metrics=metrics)
    text = metrics.render()
    assert sample(text, "lmnh_pipes_reject_share", pipeline="p") == 0.625
    assert sample(text, "lmnh_pipes_reject_limit_tripped", pipeline="p") == 1
    assert sample(text, "lmnh_pipes_errors_total", **{"class": "RejectLimitError"}) == 1
    assert metrics.reject_limit_tripped
    assert not metrics.ready


def test_without_a_reject_limit_metrics_show_no_share():
    metrics = Metrics(RunReport(pipeline="p"))
    Pipeline(source=ListSource([B] * 10), validators=[JsonValidator()], sink=ListSink()).run(metrics=metrics)
    assert "lmnh_pipes_reject_share" not in metrics.render()
    assert "lmnh_pipes_reject_limit_tripped" not in metrics.render()


def test_ready_is_false_once_tripped_even_while_the_run_is_still_running():
    metrics = Metrics(RunReport(pipeline="p"), running=True, sink_ok=True)
    assert metrics.ready
    metrics.reject_limit_tripped = True
    assert not metrics.ready


@attrs.define
class SlowToCloseSink(ListSink):
    """Holds its close until ``release`` is set, so that the endpoint can be asked while the run closes."""

    closing: threading.Event = attrs.field(factory=threading.Event)
    release: threading.Event = attrs.field(factory=threading.Event)

    def close(self) -> None:
        self.closing.set()
        self.release.wait(10)
        super().close()


@pytest.mark.parametrize(("items", "ready"), [(ITEMS, (503, "not ready\n")), ([G] * 16, (200, "ready\n"))])
def test_ready_over_http_turns_false_when_tripped(items, ready):
    port = free_port()
    sink = SlowToCloseSink()
    pipeline = Pipeline(
        name="p",
        source=ListSource(items),
        validators=[JsonValidator()],
        sink=sink,
        batch=BatchOptions(max_records=4),
        http=HttpOptions(address=f"127.0.0.1:{port}"),
        reject_limit=RejectLimit(window=8, max_share=0.5),
    )
    outcome: list[BaseException | RunReport] = []

    def run() -> None:
        try:
            outcome.append(pipeline.run(handle_signals=False))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert sink.closing.wait(10)
        # The run is still going (its components are closing), so only the trip can make it not ready.
        assert get(port, "/ready") == ready
        status, text = get(port, "/metrics")
    finally:
        sink.release.set()
        thread.join(10)
    assert status == 200
    tripped = ready[0] == 503
    assert sample(text, "lmnh_pipes_reject_limit_tripped", pipeline="p") == int(tripped)
    assert isinstance(outcome[0], RejectLimitError if tripped else RunReport)
