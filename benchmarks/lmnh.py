"""lmnh-pipes itself, configured as a user would: a pipeline file, loaded in this process or run by the CLI.

``kafka`` -> ``json`` -> ``kiosk`` -> ``postgres`` (ratings and requests routed to their tables, rejects to
``kiosk_reject``), exactly once: the offsets are stored in the rows' transaction.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import psycopg

import lmnh_pipes

from .context import GROUP_SETTINGS, Context
from .data import CATALOGUE, count_rows, reset_tables
from .measure import Sample, peak_rss_mb, rss_mb

__all__ = ["run_in_process", "run_processes", "write_pipeline"]

_TEMPLATE: Final = """\
# Written by benchmarks/lmnh.py: the museum's pipeline (examples/lmnh/pipeline.yaml) against the benchmark servers.
name: {name}

x-database: &database
  dsn: {dsn}

x-exhibition: &exhibition
  path: exhibition
  lookup: {{table: exhibition, key: exhibition_public_id, value: exhibition_id}}

source:
  type: kafka
  bootstrap_servers: {bootstrap}
  topic: {topic}
  group_id: {group}
  auto_offset_reset: earliest
  options: {options}     # Tansu makes every JoinGroup wait session.timeout.ms / 2

validators:
{validators}

sink:
  type: postgres
  <<: *database
  route: kind
  tables:
    rating:
      table: rating_interaction
      columns: {{exhibition_id: *exhibition, rating_id: val, event_at: at{coordinates}}}{skip}
    request:
      table: request_interaction
      columns: {{exhibition_id: *exhibition, request_id: type, event_at: at{coordinates}}}{skip}

rejects:
  type: postgres
  <<: *database
  table: kiosk_reject{skip_rejects}

batch:
  max_records: 5000
  max_wait: 1.0
  overlap: {overlap}
"""


#: examples/lmnh/pipeline.yaml's coordinates: each row's (topic, partition, offset), and a row already there skipped.
_COORDINATES: Final = ", kafka_topic: meta.topic, kafka_partition: meta.partition, kafka_offset: meta.offset"
_SKIP: Final = "\n      conflict_key: [kafka_topic, kafka_partition, kafka_offset]\n      on_conflict: nothing"
_SKIP_REJECTS: Final = "\n  conflict_key: [topic, partition, offset]\n  on_conflict: nothing"


def write_pipeline(
    ctx: Context,
    *,
    name: str,
    group: str,
    json_validator: bool = True,
    coordinates: bool = False,
    overlap: bool = True,
) -> Path:
    """Write the pipeline file for one run; ``json_validator`` False gives the production file's chain (kiosk
    alone, on the raw bytes); ``coordinates`` writes each row's coordinates and skips those already written, as
    the production file does (the columns and unique keys are in every run's tables: schema.sql makes them);
    ``overlap`` False writes each batch on the reading thread (``batch.overlap``)."""
    validators = [f"  - {{type: kiosk, catalogue: {json.dumps(str(CATALOGUE))}}}"]
    if json_validator:
        validators.insert(0, "  - type: json")
    text = _TEMPLATE.format(
        name=name,
        dsn=json.dumps(ctx.servers.dsn),
        bootstrap=json.dumps(ctx.servers.bootstrap),
        topic=json.dumps(ctx.topic.name),
        group=json.dumps(group),
        options=json.dumps(GROUP_SETTINGS),
        validators="\n".join(validators),
        coordinates=_COORDINATES if coordinates else "",
        skip=_SKIP if coordinates else "",
        skip_rejects=_SKIP_REJECTS if coordinates else "",
        overlap=json.dumps(overlap),
    )
    path = ctx.workdir / f"{name}.yaml"
    path.write_text(text)
    return path


class _FirstAssignment(logging.Handler):
    """Notes when the kafka source logs its first assignment: the end of the consumer-group join."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.at: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.at is None and record.getMessage().startswith("assigned"):
            self.at = time.perf_counter()


def run_in_process(
    ctx: Context, *, json_validator: bool = True, coordinates: bool = False, overlap: bool = True
) -> Sample:
    """Load the pipeline file with :func:`lmnh_pipes.load` and run it with ``limit`` = every message: the time
    runs from loading until ``run`` returned, so the last batch is committed."""
    reset_tables(ctx.servers.dsn)
    n = ctx.topic.size
    path = write_pipeline(
        ctx,
        name=ctx.fresh("lmnh"),
        group=ctx.fresh("lmnh-group"),
        json_validator=json_validator,
        coordinates=coordinates,
        overlap=overlap,
    )
    logger = logging.getLogger("lmnh_pipes.kafka.source")
    joined = _FirstAssignment()
    level = logger.level
    logger.addHandler(joined)
    logger.setLevel(logging.INFO)
    rss_before = rss_mb()
    # Resident memory once half the messages are in, and after the last batch: with 2,000,000 messages, the growth
    # over the last million.
    halfway: list[float] = []
    last: list[float] = []

    def on_batch(report: lmnh_pipes.RunReport) -> None:
        if not halfway and report.read >= n // 2:
            halfway.append(rss_mb())
        last[:] = [rss_mb()]

    try:
        started = time.perf_counter()
        with ctx.measure() as timing:
            report = lmnh_pipes.load(path).run(limit=n, on_batch=on_batch)
    finally:
        logger.removeHandler(joined)
        logger.setLevel(level)
    if report.read != n:
        raise RuntimeError(f"lmnh_pipes read {report.read} of {n} messages")
    extra = {"rss_growth_mb": rss_mb() - rss_before, "harness_peak_rss_mb": peak_rss_mb()}
    if halfway and last:
        extra["rss_second_half_mb"] = last[0] - halfway[0]
    if joined.at is not None:
        extra["join_s"] = joined.at - started
    return Sample(count=n, timing=timing, got=count_rows(ctx.servers.dsn), want=ctx.topic.truth, extra=extra)


def run_processes(ctx: Context, processes: int, *, timeout: float | None = None) -> Sample:
    """Start ``processes`` ``lmnh-pipes run`` processes in one consumer group and time them from start until the
    offsets table (written in the rows' transactions) says every message is in the tables; then stop them with
    SIGTERM. The CPU includes their shutdown; ``first_row_s`` is the start-up and group join before any write."""
    reset_tables(ctx.servers.dsn)
    n = ctx.topic.size
    name = ctx.fresh("scale")
    path = write_pipeline(ctx, name=name, group=ctx.fresh("scale-group"))
    ends = {(ctx.topic.name, p): size for p, size in ctx.topic.partition_sizes().items() if size}
    deadline_s = timeout if timeout is not None else 120.0 + n / 2_000
    extra: dict[str, float] = {}
    logs = [ctx.workdir / f"{name}-{i}.log" for i in range(processes)]
    with psycopg.connect(ctx.servers.dsn, autocommit=True) as conn, ctx.measure() as timing:
        started = time.perf_counter()
        procs = []
        for log in logs:
            with log.open("wb") as stderr:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "lmnh_pipes", "run", str(path)], stdout=subprocess.DEVNULL, stderr=stderr
                    )
                )
        try:
            done_at = _wait_until_written(conn, name, ends, procs, logs, started + deadline_s, extra, started)
            extra["peak_rss_mb"] = max(peak_rss_mb(p.pid) for p in procs)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    timing.wall = done_at - started
    failed = [(i, p.returncode) for i, p in enumerate(procs) if p.returncode != 0]
    if failed:
        raise RuntimeError(f"lmnh-pipes exited with {failed}: {logs[failed[0][0]].read_text()[-2000:]}")
    return Sample(count=n, timing=timing, got=count_rows(ctx.servers.dsn), want=ctx.topic.truth, extra=extra)


def _wait_until_written(
    conn: psycopg.Connection[tuple[object, ...]],
    pipeline: str,
    ends: dict[tuple[str, int], int],
    procs: list[subprocess.Popen[bytes]],
    logs: list[Path],
    deadline: float,
    extra: dict[str, float],
    started: float,
) -> float:
    query = "SELECT topic, partition, next_offset FROM lmnh_pipes_offsets WHERE pipeline = %s"
    while True:
        stored = {(str(t), int(p)): int(o) for t, p, o in conn.execute(query, (pipeline,))}  # type: ignore[call-overload]
        now = time.perf_counter()
        if "first_row_s" not in extra and any(o > 0 for o in stored.values()):
            extra["first_row_s"] = now - started
        if all(stored.get(tp, -1) >= end for tp, end in ends.items()):
            return now
        for i, p in enumerate(procs):
            if p.poll() is not None:
                raise RuntimeError(f"lmnh-pipes exited early with {p.returncode}: {logs[i].read_text()[-2000:]}")
        if now > deadline:
            raise TimeoutError(f"not every message was written in time: offsets {stored}, want {ends}")
        time.sleep(0.05)
