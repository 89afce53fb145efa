"""``lmnh-pipes offsets`` for a pipeline whose positions are its consumer group's commits (Kafka -> CSV), and
the lag gauge.

Tansu 0.6, measured: its high watermark is the base offset of a partition's last batch plus one (right only when
that batch holds one record); ``offsets_for_times`` answers 0 whatever the time; ``describe_consumer_groups`` says
STABLE with no members while one runs. The tests produce a last single-record batch where they rely on the
high watermark, and ``--to-time`` reads forward from the broker's answer.
"""

from __future__ import annotations

import csv
import json
import threading
import time

import confluent_kafka as ck
from click.testing import CliRunner

from lmnh_pipes import RunReport, load
from lmnh_pipes.cli import main
from lmnh_pipes.metrics import Metrics
from tests.fixtures.kafka import FAST_GROUP

PIPELINE = """\
name: group-offsets
source:
  type: kafka
  bootstrap_servers: ${BOOTSTRAP}
  topic: ${TOPIC}
  group_id: ${GROUP}
  options: {session.timeout.ms: 2000, heartbeat.interval.ms: 500, statistics.interval.ms: 200}
validators: [{type: json}]
sink: {type: csv, path: "${OUT}", columns: [n, meta.offset], append: true}
batch: {max_records: 100, max_wait: 0.1}
"""

BASE_MS = 1_800_000_000_000  # 2027-01-15T08:00:00Z


def produce_stamped(bootstrap: str, topic: str, count: int) -> None:
    """``count`` messages ``{"n": i}`` stamped BASE_MS + i s: all but the last in one batch, the last alone, so
    that Tansu's high watermark is right."""
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    for i in range(count):
        producer.produce(topic, json.dumps({"n": i}).encode(), partition=0, timestamp=BASE_MS + i * 1000)
        if i >= count - 2:
            assert producer.flush(10) == 0
    assert producer.flush(10) == 0


def offsets(env: dict[str, str], pipeline: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["offsets", pipeline, *args], env=env)
    return result.exit_code, result.output


def committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return consumer.committed([ck.TopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        consumer.close()


def test_offsets_of_a_consumer_group_show_move_refuse_and_the_lag_falls_to_zero(tansu, topic_name, tmp_path):
    tansu.create_topic(topic_name, partitions=1)
    produce_stamped(tansu.bootstrap, topic_name, 10)
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE)
    out = tmp_path / "out.csv"
    group = f"g-{topic_name}"
    env = {"BOOTSTRAP": tansu.bootstrap, "TOPIC": topic_name, "GROUP": group, "OUT": str(out)}

    # Before any run: nothing stored, no lag; the watermarks are the topic's (right: the last batch is one record).
    code, text = offsets(env, str(path), "--json")
    assert code == 0, text
    assert json.loads(text)["partitions"] == [
        {"topic": topic_name, "partition": 0, "stored": None, "kept_by": None, "low": 0, "high": 10, "lag": None}
    ]

    # A run, in-process for its metrics: the lag gauge falls to 0 once it has caught up.
    metrics = Metrics(RunReport(pipeline="group-offsets"))
    for key, value in env.items():
        path.write_text(path.read_text().replace("${" + key + "}", value))
    report = load(path).run(idle_timeout=4, metrics=metrics, handle_signals=False)
    assert report.written == 10
    assert f'lmnh_pipes_lag{{pipeline="group-offsets",topic="{topic_name}",partition="0"}} 0' in metrics.render()

    code, text = offsets(env, str(path), "--json")
    assert code == 0, text
    [row] = json.loads(text)["partitions"]
    assert (row["stored"], row["kept_by"], row["high"], row["lag"]) == (10, "group", 10, 0)
    assert committed(tansu.bootstrap, group, topic_name) == 10

    # --to-time: the first message at or after 4.5 s is n=5. A dry run changes nothing.
    when = "2027-01-15T08:00:04.500+00:00"
    code, text = offsets(env, str(path), "--to-time", when, "--dry-run")
    assert code == 0, text
    assert "dry run" in text
    assert committed(tansu.bootstrap, group, topic_name) == 10
    code, text = offsets(env, str(path), "--to-time", when, "--json")
    assert code == 0, text
    assert json.loads(text)["moves"] == [{"topic": topic_name, "partition": 0, "old": 10, "new": 5}]

    # While a member runs, a reset is refused and changes nothing.
    member = ck.Consumer(
        {"bootstrap.servers": tansu.bootstrap, "group.id": group, "enable.auto.commit": False, **FAST_GROUP}
    )
    member.subscribe([topic_name])
    deadline = time.monotonic() + 15
    while not member.assignment():
        assert time.monotonic() < deadline
        member.poll(0.1)
    stop = threading.Event()
    keeper = threading.Thread(target=lambda: [member.poll(0.1) for _ in iter(stop.is_set, True)])
    keeper.start()
    try:
        code, text = offsets(env, str(path), "--reset", "earliest")
    finally:
        stop.set()
        keeper.join()
        member.close()
    assert code == 1, text
    assert "active members" in text
    assert "nothing was changed" in text
    assert committed(tansu.bootstrap, group, topic_name) == 5

    # The next run resumes where offsets said: at n=5.
    report = load(path).run(idle_timeout=4, handle_signals=False)
    assert report.read == 5
    with out.open() as f:
        assert [r["n"] for r in csv.DictReader(f)] == [str(i) for i in range(10)] + [str(i) for i in range(5, 10)]
