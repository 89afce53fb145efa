"""A broker or a database that is not there when the run starts: every component is waited for the same
``retry.startup_timeout``, in a handful of log lines (not librdkafka's hundreds a second), then the run exits 1
with one line that gives the reason. ``check --online`` tries once and says why at once."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import attrs
import pytest

from lmnh_pipes import Pipeline, RetryPolicy, RunReport
from lmnh_pipes.testing import ListSink, ListSource
from lmnh_pipes_kafka import KafkaSink, KafkaSource
from tests.fixtures.kafka import FAST_GROUP, free_port, start_tansu

LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")
MARGIN = 8.0  # seconds on top of the configured time: process start-up on a loaded machine

KAFKA_SOURCE = "source: {type: kafka, bootstrap_servers: '127.0.0.1:PORT', topic: t, group_id: g}\n"
SIMULATOR = "source: {type: kiosk_simulator, count: 10}\n"
CSV_SINK = "sink: {type: csv, path: out.csv}\n"
KAFKA_SINK = "sink: {type: kafka, bootstrap_servers: '127.0.0.1:PORT', topic: t}\n"
POSTGRES_SINK = "sink: {type: postgres, dsn: 'postgresql://u@127.0.0.1:PORT/db', table: t}\n"

#: Each pipeline, and the start of the reason its run gives.
PIPELINES = {
    "kafka source": (KAFKA_SOURCE + CSV_SINK, "cannot reach the Kafka broker at 127.0.0.1:PORT: "),
    "kafka sink": (SIMULATOR + KAFKA_SINK, "cannot reach the Kafka broker at 127.0.0.1:PORT: "),
    "postgres sink": (SIMULATOR + POSTGRES_SINK, "cannot connect to PostgreSQL at 127.0.0.1:PORT/db: "),
}


@attrs.frozen
class Outcome:
    name: str
    reason: str
    code: int
    err: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return self.err.strip().splitlines()


class SideBySide:
    """``lmnh-pipes COMMAND FILE`` for each named pipeline, each against a port of its own where nothing listens,
    all started at once; stderr goes to a file, which a run that floods it cannot block on. Each run's time is
    taken when it exits, however late :meth:`outcomes` is called."""

    def __init__(self, tmp_path: Path, command: list[str], names: list[str], settings: str = "") -> None:
        self.started = time.monotonic()
        self.runs: list[tuple[str, str, subprocess.Popen[bytes], IO[str]]] = []
        self.ended: dict[str, float] = {}
        for name in names:
            port = str(free_port())
            text, reason = PIPELINES[name]
            path = tmp_path / f"{name.replace(' ', '-')}.yaml"
            path.write_text(text.replace("PORT", port) + settings)
            err = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 -- closed below
            proc = subprocess.Popen(
                [LMNH_PIPES, *command, str(path)], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err
            )
            self.runs.append((name, reason.replace("PORT", port), proc, err))
        self.waiters = [
            threading.Thread(target=self._note_end, args=(name, proc), daemon=True) for name, _, proc, _ in self.runs
        ]
        for waiter in self.waiters:
            waiter.start()

    def _note_end(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()
        self.ended[name] = time.monotonic()

    def outcomes(self, timeout: float = 180) -> list[Outcome]:
        """Wait for every run (killing one still going after ``timeout`` s from the start); their outcomes."""
        outcomes = []
        for (name, reason, proc, err), waiter in zip(self.runs, self.waiters, strict=True):
            waiter.join(max(0.0, self.started + timeout - time.monotonic()))
            if proc.poll() is None:
                proc.kill()
                waiter.join()
            err.seek(0)
            outcomes.append(Outcome(name, reason, proc.returncode, err.read(), self.ended[name] - self.started))
        self.close()
        return outcomes

    def close(self) -> None:
        """End what still runs (after a failure elsewhere) and close the stderr files."""
        for _, _, proc, err in self.runs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            err.close()


def run_side_by_side(tmp_path: Path, command: list[str], names: list[str], settings: str = "") -> list[Outcome]:
    """:class:`SideBySide` runs, waited for."""
    return SideBySide(tmp_path, command, names, settings).outcomes()


LONG_START_UP = "test_an_unreachable_broker_for_a_long_start_up_is_a_handful_of_lines"


@pytest.fixture(scope="module", autouse=True)
def long_start_up(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SideBySide | None]:
    """The runs of the long start-up test, started with this module's first test: they do nothing but wait for
    35 s (the repeats are summed up only after 30 s), so the module's other tests run meanwhile, and that test,
    the last here, collects them. Not started when that test is not selected."""
    if not any(item.name == LONG_START_UP and item.module is request.module for item in request.session.items):
        yield None
        return
    runs = SideBySide(
        tmp_path_factory.mktemp("long-start-up"),
        ["run"],
        ["kafka source", "kafka sink"],
        "retry: {startup_timeout: 35}\n",
    )
    try:
        yield runs
    finally:
        runs.close()


def assert_gave_up_in_one_line(outcome: Outcome) -> None:
    assert outcome.code == 1, outcome.err
    errors = [line for line in outcome.lines if line.startswith("error:")]
    assert len(errors) == 1, outcome.err
    assert errors[0] == outcome.lines[-1], "the reason is not the last word"
    assert outcome.reason in errors[0], errors[0]


def test_a_broker_or_a_database_not_there_at_the_start_is_waited_for_the_same_startup_timeout(tmp_path: Path):
    startup = 4.0
    outcomes = run_side_by_side(
        tmp_path,
        ["run"],
        list(PIPELINES),
        # A long mid-run budget, which the start-up must not use.
        f"retry: {{initial: 0.1, max_backoff: 1, max_elapsed: 600, startup_timeout: {startup:g}}}\n",
    )
    for outcome in outcomes:
        assert_gave_up_in_one_line(outcome)
        waited = re.search(r"still failing after (\d+) s", outcome.lines[-1])
        assert waited is not None, outcome.lines[-1]
        assert startup <= int(waited.group(1)) <= startup + 2, outcome.lines[-1]
        assert startup <= outcome.seconds < startup + MARGIN, outcome
        # Before: librdkafka's every failure twice, about 40 lines a second.
        assert len(outcome.lines) <= 5, outcome.err
    postgres = outcomes[-1].lines[-1]
    assert "Connection refused; Is the server running" in postgres, "psycopg's lines run together"


def test_check_online_says_at_once_that_the_broker_is_not_there(tmp_path: Path):
    outcomes = run_side_by_side(tmp_path, ["check", "--online"], ["kafka source", "kafka sink"])
    for outcome in outcomes:
        assert outcome.code == 2, outcome.err
        assert outcome.reason in outcome.lines[-1], outcome.err
        assert len(outcome.lines) <= 3, outcome.err  # before: about 2,300 in 60 s
        assert outcome.seconds < 15  # before: 60 s


def test_a_broker_that_comes_up_during_the_startup_timeout_is_waited_for(tmp_path: Path):
    # A producing pipeline and a consuming one, both started before their broker.
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    values = [b'{"n": %d}' % i for i in range(5)]
    fast = {**FAST_GROUP, "topic.metadata.refresh.interval.ms": 500}
    retry = RetryPolicy(initial=0.1, max_backoff=0.5, startup_timeout=60)
    received = ListSink()
    producing = Pipeline(source=ListSource(values), sink=KafkaSink(bootstrap_servers=bootstrap, topic="t"), retry=retry)
    consuming = Pipeline(
        source=KafkaSource(bootstrap_servers=bootstrap, topic="t", group_id="g", options=fast),
        sink=received,
        retry=retry,
    )
    reports: dict[str, RunReport] = {}
    threads = [
        threading.Thread(target=lambda: reports.update(p=producing.run(handle_signals=False))),
        threading.Thread(target=lambda: reports.update(c=consuming.run(limit=5, handle_signals=False))),
    ]
    for thread in threads:
        thread.start()
    time.sleep(2)
    assert not reports, "a run ended without a broker"
    broker = start_tansu(tmp_path, port=port)
    try:
        broker.create_topic("t")
        for thread in threads:
            thread.join(60)
    finally:
        broker.stop()
    assert reports["p"].written == len(values)
    assert sorted(r.raw for r in received.records) == sorted(values)


@pytest.mark.slow
def test_an_unreachable_broker_for_a_long_start_up_is_a_handful_of_lines(long_start_up: SideBySide | None):
    # A new user's settings, but for a start-up budget of 35 s rather than the default 60 (which RetryPolicy
    # asserts): long enough for librdkafka to report the refused connection a thousand times, and for the
    # repeats to be summed up once, after 30 s.
    assert RetryPolicy().startup_timeout == 60
    # Runs started with the module (the long_start_up fixture), and timed from then to their exit.
    assert long_start_up is not None
    outcomes = long_start_up.outcomes()
    for outcome in outcomes:
        assert_gave_up_in_one_line(outcome)
        assert 35 <= outcome.seconds < 35 + MARGIN + 10, outcome  # a last attempt may take up to 10 s
        assert len(outcome.lines) <= 7, outcome.err  # before: 2,333 in the default minute for the source
        assert any("more like this" in line for line in outcome.lines), outcome.err
