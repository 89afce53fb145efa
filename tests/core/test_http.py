"""The HTTP endpoint: /metrics equals the run report, /healthz, /ready."""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request

import pytest

from lmnh_pipes import BatchOptions, Pipeline, RunReport
from lmnh_pipes.http import HttpOptions
from lmnh_pipes.metrics import Metrics
from lmnh_pipes.testing import ListSink
from lmnh_pipes_rules import JsonValidator, Range
from tests.core.test_runner import ITEMS, EndlessSource
from tests.fixtures.kafka import free_port


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} {labels} in metrics")


def test_metrics_equal_the_run_report():
    port = free_port()
    items = [*ITEMS, b'{"n": 7}', b'{"n": 70}']
    stop = threading.Event()
    metrics = Metrics(RunReport(pipeline="scraped"))
    pipeline = Pipeline(
        name="scraped",
        source=EndlessSource(items),
        validators=[JsonValidator(), Range(field="n", max=10)],
        sink=ListSink(),
        rejects=ListSink(),
        batch=BatchOptions(max_records=3, max_wait=0.05),
        http=HttpOptions(address=f"127.0.0.1:{port}"),
    )
    result: list[RunReport] = []
    thread = threading.Thread(
        target=lambda: result.append(pipeline.run(stop=stop, metrics=metrics, handle_signals=False))
    )
    thread.start()
    deadline = time.monotonic() + 10
    while metrics.report.batches < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # the source is now idle: nothing more changes
    status, text = get(port, "/metrics")
    assert get(port, "/healthz") == (200, "ok\n")
    assert get(port, "/ready") == (200, "ready\n")
    stop.set()
    thread.join(10)
    [report] = result
    assert status == 200
    assert sample(text, "lmnh_pipes_records_read_total", pipeline="scraped") == report.read == 9
    assert sample(text, "lmnh_pipes_records_accepted_total") == report.accepted == 6
    assert sample(text, "lmnh_pipes_records_written_total") == report.written == 6
    assert sample(text, "lmnh_pipes_rejects_written_total") == report.rejects_written == 3
    assert sample(text, "lmnh_pipes_records_rejected_total", validator="json", rule="json") == 2
    assert sample(text, "lmnh_pipes_records_rejected_total", validator="range", rule="range") == 1
    assert sample(text, "lmnh_pipes_batches_total") == report.batches
    assert sample(text, "lmnh_pipes_batch_seconds_count") == report.batches
    assert sample(text, "lmnh_pipes_ready") == 1
    assert re.search(r'lmnh_pipes_batch_seconds_bucket\{pipeline="scraped",le="\+Inf"\} \d+', text)


def test_ready_is_503_before_the_run_and_server_closes_after():
    port = free_port()
    stop = threading.Event()
    metrics = Metrics(RunReport(pipeline="p"))
    assert not metrics.ready
    pipeline = Pipeline(source=EndlessSource([]), sink=ListSink(), http=HttpOptions(address=f"127.0.0.1:{port}"))
    thread = threading.Thread(target=lambda: pipeline.run(stop=stop, metrics=metrics, handle_signals=False))
    thread.start()
    deadline = time.monotonic() + 10
    while not metrics.running:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert get(port, "/ready")[0] == 200
    assert get(port, "/nope")[0] == 404
    stop.set()
    thread.join(10)
    assert not metrics.ready
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_http_address_is_checked():
    with pytest.raises(ValueError, match="HOST:PORT"):
        HttpOptions(address="9108")
