"""Hostile bytes through a PostgreSQL rejects table and back: Tansu -> json -> kiosk_reject -> replay -> a table.

Each message is refused by ``json``; a second pipeline file, with no validator, replays them into a table that
keeps the raw bytes, key, timestamp and coordinates it is given: they must be the produced ones, byte for byte.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import confluent_kafka as ck
import psycopg

from tests.plugins.postgres.kiosk_db import SCHEMA, rows
from tests.reliability.helpers import Run, environment

HOSTILE: list[tuple[bytes, bytes | None]] = [
    (b"\xd0\x00\xff not UTF-8", b"\xff\xfe"),
    (b"a\x00b\x01c\x1f\x7fd", b"nul\x00key"),
    (b"\\xd0 is four characters here", b"text key"),
    (b"a backslash at the end \\", None),
    (b"line one\r\nline two\r\n", b"k"),
    (b"{" + b"x" * (1 << 20), b"big"),  # 1 MB and one byte more, not JSON
    (b"", None),
]

PIPELINE = """\
name: hostile
source:
  type: kafka
  bootstrap_servers: ${BOOTSTRAP}
  topic: ${TOPIC}
  group_id: ${GROUP}
  options: {session.timeout.ms: 2000, heartbeat.interval.ms: 500}   # Tansu's JoinGroup waits half of it
validators: [{type: json}]
sink: {type: postgres, dsn: "${DSN}", table: replayed}
rejects: {type: postgres, dsn: "${DSN}", table: kiosk_reject}
batch: {max_records: 3, max_wait: 0.2}
"""

#: The same pipeline with the cause "fixed": no validator refuses anything.
FIXED = PIPELINE.replace("validators: [{type: json}]", "validators: []")

TABLE = """
CREATE TABLE replayed (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    raw bytea NOT NULL, key bytea, "timestamp" timestamptz, topic text, "partition" int, "offset" bigint
)
"""


def test_hostile_bytes_come_back_from_the_rejects_table_exactly(tansu, topic_name, pg_dsn, tmp_path):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(TABLE)
    tansu.create_topic(topic_name)
    producer = ck.Producer({"bootstrap.servers": tansu.bootstrap, "message.max.bytes": 4 << 20})
    stamps = [1_700_000_000_000 + 1000 * i for i in range(len(HOSTILE))]
    for (value, key), stamp in zip(HOSTILE, stamps, strict=True):
        producer.produce(topic_name, value=value, key=key, timestamp=stamp)
    assert producer.flush(30) == 0
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    (tmp_path / "fixed.yaml").write_text(FIXED)
    env = environment(pg_dsn, tansu.bootstrap, topic_name)

    run = Run(["run", str(tmp_path / "pipeline.yaml"), "--json", "--limit", str(len(HOSTILE))], env)
    out, _ = run.communicate(timeout=120)
    assert run.returncode == 0, run.err()[-3000:]
    assert json.loads(out)["rejected"] == len(HOSTILE)
    assert rows(pg_dsn, "SELECT count(*) FROM replayed") == [(0,)]

    replay = Run(["replay", str(tmp_path / "fixed.yaml"), "--json"], env)
    out, _ = replay.communicate(timeout=120)
    assert replay.returncode == 0, replay.err()[-3000:]
    report = json.loads(out)
    assert (report["chosen"], report["accepted"], report["written"]) == (len(HOSTILE),) * 3
    assert report["delivery"].startswith("exactly-once")

    got = rows(pg_dsn, 'SELECT raw, key, "timestamp", topic, "partition", "offset" FROM replayed ORDER BY "offset"')
    want = [
        (value, key or None, datetime.fromtimestamp(stamp / 1000, UTC), topic_name, 0, offset)
        for offset, ((value, key), stamp) in enumerate(zip(HOSTILE, stamps, strict=True))
    ]
    assert [(bytes(r[0]), bytes(r[1]) if r[1] is not None else None, *r[2:]) for r in got] == want
    assert rows(pg_dsn, "SELECT count(*) FROM kiosk_reject") == [(0,)]
