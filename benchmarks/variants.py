"""Every variant the harness measures, in the order it runs them: name -> unit, what it is, how to run it once.

The peers (``peer=True``: other libraries, run in their own environment) come last; ``--no-peers`` leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import attrs

from . import handtuned, lmnh, naive, peer_runs, pg_sink, stages
from .context import Context
from .measure import Sample

__all__ = ["VARIANTS", "Variant"]


@attrs.frozen
class Variant:
    """One thing measured: ``run(ctx)`` does one timed run and says what the tables must hold. A ``peer`` runs
    another library in the peers' environment (``ctx.peers_python``)."""

    unit: str
    note: str
    run: Callable[[Context], Sample]
    peer: bool = attrs.field(default=False, kw_only=True)


VARIANTS: Final[dict[str, Variant]] = {
    "lmnh_pipes": Variant(
        "msg/s",
        "kafka -> json -> kiosk -> postgres, exactly once; lmnh_pipes.load(yaml).run(limit=N) in this process",
        lambda ctx: lmnh.run_in_process(ctx, json_validator=True),
    ),
    "lmnh_pipes_coordinates": Variant(
        "msg/s",
        "as lmnh_pipes, each row with its (topic, partition, offset) under a unique key, on_conflict: nothing "
        "(examples/lmnh/pipeline.yaml)",
        lambda ctx: lmnh.run_in_process(ctx, json_validator=True, coordinates=True),
    ),
    "lmnh_pipes_one_thread": Variant(
        "msg/s",
        "as lmnh_pipes with batch.overlap: false: each batch written on the thread that reads and validates",
        lambda ctx: lmnh.run_in_process(ctx, json_validator=True, overlap=False),
    ),
    "lmnh_pipes_kiosk_only": Variant(
        "msg/s",
        "as lmnh_pipes without the json validator (the chain of examples/lmnh/pipeline.yaml)",
        lambda ctx: lmnh.run_in_process(ctx, json_validator=False),
    ),
    "naive": Variant(
        "msg/s",
        "poll(1.0) one message, json.loads, kiosk rules, INSERT + COMMIT per message, auto-commit (capped count)",
        naive.run_naive,
    ),
    "handtuned": Variant(
        "msg/s",
        f"consume(10000), {handtuned.decoder()[0]} decode, kiosk rules, binary COPY + offsets in one transaction",
        handtuned.run_handtuned,
    ),
    "handtuned_strict": Variant(
        "msg/s",
        "as handtuned, decoding with lmnh_pipes.decode_object: strict JSON (repeated keys refused), as the json "
        "validator decodes",
        lambda ctx: handtuned.run_handtuned(ctx, strict=True),
    ),
    "stage_consume": Variant(
        "msg/s", "Kafka -> discard: consume(10000), fetch.queue.backoff.ms=10, assigned partitions", stages.run_consume
    ),
    "stage_validate": Variant(
        "msg/s",
        "kiosk validator alone on raw bytes, in memory",
        lambda ctx: stages.run_validate(ctx, json_validator=False),
    ),
    "stage_json_kiosk": Variant(
        "msg/s",
        "json then kiosk validators (the benchmarked chain), in memory",
        lambda ctx: stages.run_validate(ctx, json_validator=True),
    ),
    "stage_copy": Variant(
        "msg/s",
        "PostgresSink.write_batch of validated records: routed binary COPY + rejects + offsets, 5,000 a batch",
        stages.run_copy,
    ),
    "scale_1": Variant(
        "msg/s",
        "1 `lmnh-pipes run` process; wall time from start until every row is in (group join included)",
        lambda ctx: lmnh.run_processes(ctx, 1),
    ),
    "scale_n": Variant(
        "msg/s",
        "--processes (default 2) `lmnh-pipes run` processes in one consumer group; as scale_1",
        lambda ctx: lmnh.run_processes(ctx, ctx.processes),
    ),
    "sink_copy": Variant(
        "rows/s", "PostgresSink.write (binary COPY, routed, look-up), 5,000 rows a transaction", pg_sink.run_sink_copy
    ),
    "sink_executemany": Variant(
        "rows/s",
        "cursor.executemany INSERT, a commit per 5,000 rows (capped: --executemany-cap)",
        pg_sink.run_sink_executemany,
    ),
    "sink_insert_per_row": Variant(
        "rows/s", "one INSERT + COMMIT per row (capped: --cap)", pg_sink.run_sink_insert_per_row
    ),
    "quix_pg_sink": Variant(
        "msg/s",
        "Quix Streams 3.28.1, at least once: one apply (msgspec, kiosk rules, look-up), its PostgreSQLSink routed "
        "by table_name; commit_every 15,000; a subprocess timed from its start (imports included) to its exit",
        lambda ctx: peer_runs.run_quix(ctx, "pg"),
        peer=True,
    ),
    "quix_copy_sink": Variant(
        "msg/s",
        "as quix_pg_sink with a BatchingSink of binary COPY into the three tables, one transaction per batch",
        lambda ctx: peer_runs.run_quix(ctx, "copy"),
        peer=True,
    ),
    "bytewax_copy_sink": Variant(
        "msg/s",
        "Bytewax 0.21.1, one worker, recovery on (at least once): KafkaSource(tail=False, batch_size=5,000), no "
        "consumer group; a map as quix's apply; a DynamicSink of binary COPY; a subprocess, timed as quix's",
        peer_runs.run_bytewax,
        peer=True,
    ),
}
