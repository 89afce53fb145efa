"""Hostile bytes through a real source-to-rejects path (a file of lines, and a Kafka topic): invalid UTF-8, values
up to 1 MB, deeply nested JSON, tombstones, near-misses of valid kiosk messages. The run never crashes; every input
ends accepted, or rejected with a reason, exactly once."""

from __future__ import annotations

import csv
import json
import random
import tempfile
import uuid
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import lmnh_pipes

from .helpers import CATALOGUE, produce, simulate

VALID = simulate(200, seed=23)[0]
#: Always tried: a megabyte of junk, JSON nested 100,000 deep, a near-miss, and a valid message.
EXTREMES = [
    random.Random(1).randbytes(1 << 20),
    b"[" * 100_000 + b"]" * 100_000,
    b'{"at":' * 100_000 + b"1" + b"}" * 100_000,
    VALID[0][:-1] + b"\xff}",
    VALID[0],
]

PIPELINE = """\
source: ${SOURCE}
validators:
  - {type: json}
  - type: kiosk
    catalogue: ${CATALOGUE}
sink:
  type: csv
  path: ${OUT}/accepted.csv
  columns: [meta.partition, meta.offset, kind]
rejects:
  type: csv
  path: ${OUT}/rejects.csv
  columns: [meta.partition, meta.offset, reject.validator, reject.rule, reject.reason]
batch: {max_records: 50, max_wait: 0.2}
"""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _splice(raw: bytes, at: int, cut: int, insert: bytes) -> bytes:
    at %= len(raw) + 1
    return raw[:at] + insert + raw[at + cut :]


def _nested(depth: int, opener: bytes, middle: bytes, closer: bytes) -> bytes:
    return opener * depth + middle + closer * depth


hostile = st.one_of(
    st.binary(max_size=200),  # junk, mostly invalid UTF-8
    st.text(max_size=50).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.sampled_from(VALID),  # some are accepted
    st.builds(_splice, st.sampled_from(VALID), st.integers(0, 100), st.integers(0, 3), st.binary(max_size=3)),
    st.fixed_dictionaries(
        {}, optional={"at": json_values, "site": json_values, "val": json_values, "type": json_values}
    ).map(lambda d: json.dumps(d).encode()),
    st.builds(_nested, st.integers(1, 100_000), st.just(b"["), st.just(b""), st.just(b"]")),
    st.builds(_nested, st.integers(1, 100_000), st.sampled_from([b'{"a":', b'{"at":']), st.just(b"1"), st.just(b"}")),
    # Up to 1 MB of random bytes, made from a seed (Hypothesis itself draws at most a few KB per example).
    st.builds(lambda seed, n: random.Random(seed).randbytes(n), st.integers(0, 2**32), st.integers(0, 1 << 20)),
    st.just(b""),
)


def run(source: dict[str, object], out: Path, **run_options: object) -> lmnh_pipes.RunReport:
    (out / "p.yaml").write_text(PIPELINE.replace("${SOURCE}", json.dumps(source)))  # JSON is YAML
    pipeline = lmnh_pipes.load(out / "p.yaml", environ={"OUT": str(out), "CATALOGUE": CATALOGUE})
    return pipeline.run(handle_signals=False, **run_options)


def outcomes(out: Path) -> dict[tuple[int, int], tuple[str, str, str]]:
    """(partition, offset) -> (where, rule, reason) for every row written; asserts no row was written twice."""
    seen: Counter[tuple[int, int]] = Counter()
    result: dict[tuple[int, int], tuple[str, str, str]] = {}
    for name in ("accepted", "rejects"):
        with (out / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                where = (int(row["meta.partition"]), int(row["meta.offset"]))
                seen[where] += 1
                result[where] = (name, row.get("reject.rule", ""), row.get("reject.reason", ""))
    assert not seen or max(seen.values()) == 1, "a record was written twice"
    return result


def check(report: lmnh_pipes.RunReport, out: Path, expected: set[tuple[int, int]]) -> None:
    got = outcomes(out)
    assert set(got) == expected, "records were lost"
    assert report.read == len(expected)
    assert report.accepted + report.rejected == len(expected)
    for where, (name, rule, reason) in got.items():
        if name == "rejects":
            assert reason.strip(), f"{where}: rejected without a reason"
            assert rule != "error", f"{where}: a validator raised: {reason}"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(values=st.lists(hostile, min_size=1, max_size=12))
@example(values=EXTREMES)
def test_hostile_lines_from_a_file_each_end_accepted_or_rejected_with_a_reason(values: list[bytes]):
    # A line cannot hold a newline; a final \r is part of the line ending.
    lines = [v.replace(b"\n", b"") for v in values]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        (out / "in.txt").write_bytes(b"".join(line + b"\n" for line in lines))
        report = run({"type": "file", "path": str(out / "in.txt"), "format": "lines"}, out)
        assert report.stopped_by == "end of input"
        check(report, out, {(0, i) for i in range(len(lines))})


@pytest.mark.slow
@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(values=st.lists(hostile | st.none(), min_size=1, max_size=20))
@example(values=[*EXTREMES, None])
def test_hostile_kafka_messages_and_tombstones_each_end_accepted_or_rejected_with_a_reason(tansu, values):
    topic = f"hostile-{uuid.uuid4()}"
    tansu.create_topic(topic, partitions=2)
    produce(tansu.bootstrap, topic, values, partitions=2)
    source = {
        "type": "kafka",
        "bootstrap_servers": tansu.bootstrap,
        "topic": topic,
        "group_id": f"g-{topic}",
        "options": {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        # Stop after every message produced has been read; the idle timeout only bounds a run that lost some.
        report = run(source, out, limit=len(values), idle_timeout=20)
        assert report.stopped_by == "limit"
        check(report, out, {(i % 2, i // 2) for i in range(len(values))})
