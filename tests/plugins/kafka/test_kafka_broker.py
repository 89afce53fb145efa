"""The kafka source and sink against a real broker (Tansu)."""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from lmnh_pipes import BatchOptions, Pipeline, RetryPolicy, RunError
from lmnh_pipes.testing import ListSink, ListSource
from lmnh_pipes_kafka import KafkaSink, KafkaSource
from lmnh_pipes_rules import JsonValidator
from tests.fixtures.kafka import FAST_GROUP, free_port, start_tansu


def source(tansu, topic, group, **kw):
    return KafkaSource(bootstrap_servers=tansu.bootstrap, topic=topic, group_id=group, options=dict(FAST_GROUP), **kw)


def test_multi_partition_topic_read_in_full(tansu, topic_name):
    tansu.create_topic(topic_name, partitions=6)
    values = [json.dumps({"n": i}).encode() for i in range(3000)]
    tansu.produce(topic_name, values, partitions=6)
    sink = ListSink()
    report = Pipeline(
        source=source(tansu, topic_name, "g-full"),
        validators=[JsonValidator()],
        sink=sink,
        batch=BatchOptions(max_records=500, max_wait=0.2),
    ).run(limit=3000, idle_timeout=30)  # the idle timeout only bounds a run that lost records
    assert report.stopped_by == "limit"
    seen = sorted(r.value["n"] for r in sink.records)
    assert seen == list(range(3000))
    assert {r.meta.partition for r in sink.records} == set(range(6))
    first = sink.records[0].meta
    assert first.source == "kafka"
    assert first.topic == topic_name
    assert first.key is None
    assert first.timestamp is not None


def test_restart_resumes_from_committed_offsets(tansu, topic_name):
    tansu.create_topic(topic_name, partitions=3)
    tansu.produce(topic_name, [b'{"n": %d}' % i for i in range(1000)], partitions=3)
    first, second = ListSink(), ListSink()
    report = Pipeline(
        source=source(tansu, topic_name, "g-restart"), sink=first, batch=BatchOptions(max_records=100)
    ).run(limit=400)
    assert report.read == 400
    assert len(first.records) == 400
    Pipeline(source=source(tansu, topic_name, "g-restart"), sink=second).run(limit=600, idle_timeout=30)
    a = [(r.meta.partition, r.meta.offset) for r in first.records]
    b = [(r.meta.partition, r.meta.offset) for r in second.records]
    assert not set(a) & set(b), "a record was read twice"
    assert len(a) + len(b) == 1000


def test_unwritten_batch_is_not_committed(tansu, topic_name):
    tansu.create_topic(topic_name, partitions=1)
    tansu.produce(topic_name, [b'{"n": %d}' % i for i in range(300)])
    failing = ListSink(fail_on=2)
    with pytest.raises(RunError):
        Pipeline(source=source(tansu, topic_name, "g-fail"), sink=failing, batch=BatchOptions(max_records=100)).run(
            idle_timeout=30
        )
    assert len(failing.records) == 100
    again = ListSink()
    Pipeline(source=source(tansu, topic_name, "g-fail"), sink=again).run(limit=200, idle_timeout=30)
    assert [r.meta.offset for r in again.records] == list(range(100, 300))


def test_sink_produces_values_keys_and_dead_letter_headers(tansu, topic_name):
    dlq = f"{topic_name}-dlq"
    items = [b'{"site": "3", "val": 2}', b"not json", b'{"site": "4", "val": 1}']
    pipeline = Pipeline(
        source=ListSource(items),
        validators=[JsonValidator()],
        sink=KafkaSink(bootstrap_servers=tansu.bootstrap, topic=topic_name, key="site"),
        rejects=KafkaSink(bootstrap_servers=tansu.bootstrap, topic=dlq),
    )
    report = pipeline.run()
    assert (report.written, report.rejects_written) == (2, 1)
    accepted = consume_all(tansu, topic_name, 2)
    # Keyed messages of an auto-created topic may land in different partitions, which Kafka does not order.
    assert sorted((m.key(), json.loads(m.value())) for m in accepted) == [
        (b"3", {"site": "3", "val": 2}),
        (b"4", {"site": "4", "val": 1}),
    ]
    [dead] = consume_all(tansu, dlq, 1)
    headers = dict(dead.headers())
    assert dead.value() == b"not json"
    assert headers["lmnh.validator"] == b"json"
    assert headers["lmnh.reason"].startswith(b"not valid JSON")
    assert headers["lmnh.offset"] == b"1"


def consume_all(tansu, topic, n, timeout=20.0, until_timeout=False):
    """The ``n`` messages of ``topic``; with ``until_timeout``, read for all of ``timeout`` to see none follow."""
    consumer = Consumer(
        {"bootstrap.servers": tansu.bootstrap, "group.id": f"check-{topic}", "enable.auto.commit": False}
    )
    # Assigned, not subscribed: there is no group to join (each JoinGroup makes Tansu wait half a session).
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    out = []
    deadline = time.monotonic() + timeout
    while (len(out) < n or until_timeout) and time.monotonic() < deadline:
        out += [m for m in consumer.consume(100, 0.5) if m.error() is None]
    consumer.close()
    assert len(out) == n
    return out


def test_unreachable_broker_fails_within_the_startup_timeout():
    # At the start, the pipeline's retry.startup_timeout governs (connect_timeout is for an outage mid-run).
    started = time.monotonic()
    src = KafkaSource(bootstrap_servers=f"127.0.0.1:{free_port()}", topic="t", group_id="g")
    with pytest.raises(RunError, match="cannot reach the Kafka broker"):
        Pipeline(source=src, sink=ListSink(), retry=RetryPolicy(startup_timeout=2)).run()
    assert 2 <= time.monotonic() - started < 6


def test_wrong_scram_credentials_fail_fast_naming_sasl(tmp_path):
    broker = start_tansu(tmp_path, "--authentication")
    try:
        started = time.monotonic()
        src = KafkaSource(
            bootstrap_servers=broker.bootstrap,
            topic="t",
            group_id="g",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-256",
            username="museum",
            password="wrong-password-123",
        )
        with pytest.raises(RunError) as exc:
            Pipeline(source=src, sink=ListSink()).run()
        assert time.monotonic() - started < 10
        assert "SASL authentication failed" in str(exc.value)
        assert "wrong-password-123" not in str(exc.value)
    finally:
        broker.stop()


def test_metrics_show_readiness_and_committed_offsets_per_partition(tansu, topic_name):
    import threading
    import urllib.error
    import urllib.request

    from lmnh_pipes import RunReport
    from lmnh_pipes.http import HttpOptions
    from lmnh_pipes.metrics import Metrics
    from tests.fixtures.kafka import free_port

    tansu.create_topic(topic_name, partitions=2)
    tansu.produce(topic_name, [b'{"n": %d}' % i for i in range(100)], partitions=2)
    port = free_port()

    def status(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""
        except urllib.error.URLError:
            return 0, ""  # not listening yet

    metrics = Metrics(RunReport(pipeline="p"))
    stop = threading.Event()
    pipeline = Pipeline(
        source=source(tansu, topic_name, "g-metrics"),
        sink=ListSink(),
        name="p",
        batch=BatchOptions(max_wait=0.1),
        http=HttpOptions(address=f"127.0.0.1:{port}"),
    )
    thread = threading.Thread(target=lambda: pipeline.run(stop=stop, metrics=metrics, handle_signals=False))
    thread.start()
    try:
        codes = set()
        deadline = time.monotonic() + 30
        while metrics.report.written < 100:
            assert time.monotonic() < deadline
            codes.add(status("/ready")[0])
            time.sleep(0.05)
        assert codes >= {503}, "ready before partitions were assigned"
        # The commit is asynchronous: its offsets appear once a later poll has run its callback.
        wanted = [
            f'lmnh_pipes_committed_offset{{pipeline="p",topic="{topic_name}",partition="{partition}"}} 50'
            for partition in (0, 1)
        ]
        deadline = time.monotonic() + 10
        while True:
            code, text = status("/metrics")
            assert code == 200
            if all(line in text for line in wanted) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert [line for line in wanted if line not in text] == []
        assert status("/ready")[0] == 200
    finally:
        stop.set()
        thread.join(30)


def test_a_record_the_producer_can_never_send_goes_to_the_rejects_and_the_rest_once(tansu, topic_name):
    # Larger than message.max.bytes: no retry can deliver it. It becomes a reject with the client's reason, and
    # the rest of its batch is delivered once, not again when the batch is written a second time.
    small = [json.dumps({"n": i}).encode() for i in range(5)]
    big = json.dumps({"n": 5, "pad": "x" * 5000}).encode()
    rejects = ListSink()
    report = Pipeline(
        source=ListSource([*small[:3], big, *small[3:]]),
        validators=[JsonValidator()],
        sink=KafkaSink(bootstrap_servers=tansu.bootstrap, topic=topic_name, options={"message.max.bytes": 2000}),
        rejects=rejects,
    ).run()
    assert (report.written, report.rejected) == (5, 1)
    [refused] = rejects.records
    assert refused.value["n"] == 5
    assert (refused.reject.validator, refused.reject.rule) == ("kafka", "write")
    assert "too large" in refused.reject.reason.lower()
    delivered = consume_all(tansu, topic_name, 5, timeout=8, until_timeout=True)
    assert sorted(json.loads(m.value())["n"] for m in delivered) == [0, 1, 2, 3, 4]


def test_a_dead_letter_topic_that_refuses_a_record_fails_the_run_at_once(tansu, topic_name):
    started = time.monotonic()
    with pytest.raises(RunError, match="Message size too large"):
        Pipeline(
            source=ListSource([b"x" * 5000]),
            validators=[JsonValidator()],
            sink=ListSink(),
            rejects=KafkaSink(bootstrap_servers=tansu.bootstrap, topic=topic_name, options={"message.max.bytes": 2000}),
        ).run()
    assert time.monotonic() - started < 20  # not the 300 s of retries an outage gets
