"""Repeated warnings are held back: one line per problem now and then, with a count, not thousands."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from lmnh_pipes.logs import JsonFormatter, RepeatFilter, setup_logging

# What librdkafka logs about an unreachable broker, a few hundred times a minute, and the run's retry warning.
REFUSED = (
    "FAIL [rdkafka#consumer-%d] [thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 "
    "failed: Connection refused (after %dms in state CONNECT)"
)
RETRY = "opening KafkaSource failed (cannot reach the Kafka broker at 127.0.0.1:1); retry %d in %.2f s"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines:
    """A handler with a :class:`RepeatFilter` on a clock of the test's own: what it lets through."""

    def __init__(self, interval: float = 30.0) -> None:
        self.clock = Clock()
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.handler.addFilter(RepeatFilter(interval=interval, clock=self.clock))

    def log(self, name: str, level: int, msg: str, *args: object) -> None:
        record = logging.LogRecord(name, level, __file__, 1, msg, args or None, None)
        self.handler.handle(record)

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


def test_a_burst_of_one_failure_is_one_line_then_one_with_its_count():
    out = Lines(interval=30)
    for i in range(1000):
        out.log("lmnh_pipes.kafka.librdkafka", logging.ERROR, REFUSED, 1, i % 3)
    assert len(out.lines) == 1
    assert out.lines[0].endswith("Connection refused (after 0ms in state CONNECT)")
    out.clock.now += 29
    out.log("lmnh_pipes.kafka.librdkafka", logging.ERROR, REFUSED, 2, 0)
    assert len(out.lines) == 1, "shown again before the interval passed"
    out.clock.now += 1
    out.log("lmnh_pipes.kafka.librdkafka", logging.ERROR, REFUSED, 3, 7)
    assert len(out.lines) == 2
    assert out.lines[1].endswith("(after 7ms in state CONNECT) (and 1000 more like this in the last 30 s)")
    out.clock.now += 30
    out.log("lmnh_pipes.kafka.librdkafka", logging.ERROR, REFUSED, 4, 0)
    assert out.lines[2].endswith("(after 0ms in state CONNECT)"), "the count starts again after each line shown"


def test_an_unreachable_broker_retried_for_a_minute_is_a_handful_of_lines():
    # 40 lines a second from librdkafka and a retry warning every few seconds, for 60 s, as before the filter.
    out = Lines()
    for tick in range(60 * 40):
        out.clock.now += 1 / 40
        out.log("lmnh_pipes.kafka.librdkafka", logging.ERROR, REFUSED, tick // 200, tick % 5)
        if tick % 200 == 0:
            out.log("lmnh_pipes.retry", logging.WARNING, RETRY, tick // 200, tick / 97)
    assert len(out.lines) <= 6, "\n".join(out.lines)
    assert len([line for line in out.lines if "Connection refused" in line]) == 2  # at 0 s and 30 s
    assert len([line for line in out.lines if "retry" in line]) >= 2


def test_different_problems_each_have_their_line():
    out = Lines()
    for _ in range(3):
        out.log("lmnh_pipes.kafka.librdkafka", logging.ERROR, "Connect to ipv4#10.0.0.1:9092 failed")
        out.log("lmnh_pipes.kafka.librdkafka", logging.ERROR, "Connect to ipv4#10.0.0.2:9092 failed")  # another host
        out.log("lmnh_pipes.kafka.librdkafka", logging.WARNING, "Connect to ipv4#10.0.0.1:9092 failed")  # level
        out.log("lmnh_pipes.postgres", logging.ERROR, "Connect to ipv4#10.0.0.1:9092 failed")  # logger
    assert len(out.lines) == 4, "\n".join(out.lines)


def test_information_and_debugging_are_never_held_back():
    out = Lines()
    for _ in range(5):
        out.log("lmnh_pipes.runner", logging.INFO, "assigned t[0]@5")
        out.log("lmnh_pipes.runner", logging.DEBUG, "batch 1: 5 accepted, 0 rejected")
    assert len(out.lines) == 10


def test_json_lines_carry_the_count():
    clock = Clock()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RepeatFilter(interval=10, clock=clock))
    for _ in range(4):
        handler.handle(logging.LogRecord("lmnh_pipes.retry", logging.WARNING, __file__, 1, "down", None, None))
    clock.now += 10
    handler.handle(logging.LogRecord("lmnh_pipes.retry", logging.WARNING, __file__, 1, "down", None, None))
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "repeated" not in first
    assert second["repeated"] == 3
    assert second["message"] == "down (and 3 more like this in the last 10 s)"


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_the_cli_logging_holds_repeats_back(root_logging, capsys):
    setup_logging("WARNING", "text")
    log = logging.getLogger("lmnh_pipes.kafka.librdkafka")
    for i in range(500):
        log.error(REFUSED, 1, i % 4)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "Connection refused" in lines[0]
