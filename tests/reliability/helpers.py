"""What the fault tests share: the kiosk pipeline to PostgreSQL, the truth as the broker serves it, runs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import confluent_kafka as ck

from lmnh_pipes_kiosk import KioskSimulator
from tests.plugins.postgres.kiosk_db import rows
from tests.plugins.postgres.test_exactly_once import PIPELINE as EXACTLY_ONCE_PIPELINE

ROOT = Path(__file__).resolve().parents[2]
LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")
CATALOGUE = str(ROOT / "examples" / "lmnh" / "exhibitions")
PARTITIONS = 3

#: Kafka -> kiosk -> PostgreSQL (ratings, requests, and rejects in kiosk_reject), exactly once; the broker may be
#: unreachable for ${CONNECT_TIMEOUT} seconds. A session of 2 s makes Tansu's JoinGroup wait 1 s.
PIPELINE = EXACTLY_ONCE_PIPELINE.replace(
    "  group_id: ${GROUP}\n", "  group_id: ${GROUP}\n  connect_timeout: ${CONNECT_TIMEOUT:-60}\n"
)
assert "connect_timeout" in PIPELINE
assert "session.timeout.ms: 2000" in PIPELINE

Truth = dict[str, Any]


def simulate(n: int, seed: int = 7) -> tuple[list[bytes], dict[bytes, str]]:
    """``n`` simulated kiosk messages, and what each one is (``rating``, ``request`` or an invalid kind)."""
    messages = list(KioskSimulator(seed=seed, clock="day", invalid_share=0.2).generate(n))
    return [m.raw for m in messages], {m.raw: m.expected for m in messages}


def served(bootstrap: str, topic: str, *, quiet: float = 1.0, deadline: float = 60.0) -> dict[tuple[int, int], bytes]:
    """Every message the broker serves on ``topic`` (which must hold some), read by a fresh consumer from the
    start: (partition, offset) -> value. Jepsen-style, this is the truth a run is compared with, not what
    producers were told. Call it once the producers are done.

    Done when nothing new came for ``quiet`` seconds after the first message (watermarks are wrong on Tansu).
    """
    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"truth-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 10,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in partitions])
        got: dict[tuple[int, int], bytes] = {}
        end = time.monotonic() + deadline
        last_new = float("inf")  # the quiet period starts with the first message
        while time.monotonic() - last_new < quiet or not got:
            assert time.monotonic() < end, f"{topic}: no quiet second within {deadline} s ({len(got)} messages)"
            for m in consumer.consume(10_000, 0.5):
                if m.error() is None:
                    got[(m.partition(), m.offset())] = m.value() or b""
                    last_new = time.monotonic()
        return got
    finally:
        consumer.close()


def truth_of(messages: dict[tuple[int, int], bytes], expected: dict[bytes, str]) -> Truth:
    """What the kiosk tables must hold for ``messages`` (the format of test_exactly_once.assert_exactly_once)."""
    ratings: Counter[tuple[object, ...]] = Counter()
    requests: Counter[tuple[object, ...]] = Counter()
    rejected: set[tuple[int, int]] = set()
    for where, raw in messages.items():
        kind = expected[raw]
        if kind in ("rating", "request"):
            v = json.loads(raw)
            key = (
                f"EXH_{int(v['site']):02d}",
                v["val"] if kind == "rating" else v["type"],
                datetime.fromisoformat(v["at"]),
            )
            (ratings if kind == "rating" else requests)[key] += 1
        else:
            rejected.add(where)
    return {"rating": ratings, "request": requests, "rejected": rejected}


def environment(dsn: str, bootstrap: str, topic: str, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "DSN": dsn,
        "BOOTSTRAP": bootstrap,
        "TOPIC": topic,
        "GROUP": f"g-{topic}",
        "CATALOGUE": CATALOGUE,
        **more,
    }


class Run(subprocess.Popen[str]):
    """``lmnh-pipes ARGS`` in the background. Its stderr goes to a file, not a pipe: during an outage a run logs
    a lot, and a full pipe that nobody reads would block it."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        # Lives as long as this object: read after the process ended, deleted when closed or collected.
        self.errfile = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        super().__init__([LMNH_PIPES, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=self.errfile, text=True)

    def err(self) -> str:
        """What the run wrote to stderr so far."""
        self.errfile.seek(0)
        return self.errfile.read()


def start(pipeline: Path, env: dict[str, str], *extra: str) -> Run:
    """``lmnh-pipes run PIPELINE --json ...`` in the background."""
    return Run(["run", str(pipeline), "--json", *extra], env)


def finish(proc: Run, timeout: float = 120) -> tuple[dict[str, Any], str]:
    """Wait for a run; assert it succeeded; return its JSON report and its stderr."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"the run did not end within {timeout} s; stderr:\n{proc.err()[-4000:]}") from None
    err = proc.err()
    assert proc.returncode == 0, f"exit {proc.returncode}; stderr:\n{err[-4000:]}"
    report: dict[str, Any] = json.loads(out)
    return report, err


def produce(bootstrap: str, topic: str, values: list[bytes | None], partitions: int = PARTITIONS) -> None:
    """Produce ``values`` round-robin over ``partitions`` (large messages allowed)."""
    producer = ck.Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all", "message.max.bytes": 4 << 20}
    )
    failed: list[str] = []

    def delivered(err: object, msg: object) -> None:
        if err is not None:
            failed.append(str(err))

    for i, value in enumerate(values):
        while True:
            try:
                producer.produce(topic, value=value, partition=i % partitions, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0, "not every message was delivered"
    assert not failed, failed[:3]


def consumed(dsn: str) -> int:
    """How many messages the pipeline has written (rows and rejects), from its stored next offsets."""
    if rows(dsn, "SELECT to_regclass('lmnh_pipes_offsets')")[0][0] is None:
        return 0
    return int(rows(dsn, "SELECT coalesce(sum(next_offset), 0) FROM lmnh_pipes_offsets WHERE next_offset > 0")[0][0])


def wait_for(what: str, condition: Callable[[], bool], timeout: float, proc: Run | None = None) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` s, or at once if ``proc`` ended meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {what}:\n{proc.err()[-4000:]}")
        assert time.monotonic() < deadline, f"not {what} after {timeout} s"
        time.sleep(0.1)


def stop_when_written(proc: Run, dsn: str, total: int, timeout: float = 90) -> tuple[dict[str, Any], str]:
    """Once the run has written ``total`` messages (by its stored offsets), SIGTERM it; it must stop cleanly.

    Counting what was written is how a test decides "done" on Tansu: its watermarks are wrong after batches.
    """
    wait_for(f"{total} messages written", lambda: consumed(dsn) >= total, timeout, proc)
    proc.send_signal(signal.SIGTERM)
    report, err = finish(proc, timeout=30)
    assert report["stopped_by"] == "signal"
    return report, err


def stop(proc: Run) -> None:
    """After a failed assertion: end a run that may still be going."""
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


class SteadyProducer(threading.Thread):
    """Produces ``values`` round-robin over the partitions at about ``rate`` messages a second, whatever the network
    does: messages produced while it is cut wait in the client until it is back (or two minutes)."""

    def __init__(self, bootstrap: str, topic: str, values: list[bytes], rate: float) -> None:
        super().__init__(name="steady-producer", daemon=True)
        self.bootstrap, self.topic, self.values, self.rate = bootstrap, topic, values, rate
        self.sent = 0
        self.undelivered = -1
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Stop producing, and wait briefly for the thread: for a test's ``finally``, so that a failed test leaves
        no producer retrying a cut connection (and logging it) under the tests after it."""
        self._stopped.set()
        self.join(15)

    @property
    def producing(self) -> bool:
        """Still handing messages to the client (not merely waiting for their delivery)."""
        return self.sent < len(self.values)

    def run(self) -> None:
        producer = ck.Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "linger.ms": 20,
                "message.timeout.ms": 120_000,
                "logger": logging.getLogger("steady-producer"),  # connection failures are expected in fault tests
            }
        )
        started = time.monotonic()
        for i, value in enumerate(self.values):
            if self._stopped.is_set():
                break
            while True:
                try:
                    producer.produce(self.topic, value=value, partition=i % PARTITIONS)
                    break
                except BufferError:
                    producer.poll(0.1)
            self.sent = i + 1
            ahead = started + self.sent / self.rate - time.monotonic()
            if ahead > 0:
                producer.poll(ahead)
        self.undelivered = producer.flush(1 if self._stopped.is_set() else 120)
