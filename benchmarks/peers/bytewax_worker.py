"""The Bytewax peer: the benchmark's job as a Bytewax 0.21 dataflow, in the peers' environment.

    python -m benchmarks.peers.bytewax_worker --bootstrap HOST:PORT --dsn DSN --topic T --messages N \\
        --catalogue DIR --recovery-dir DIR

``KafkaSource`` (``tail=False``: the dataflow ends at the end of every partition) -> ``map``: msgspec decode, the
same :class:`KioskValidator`, the exhibition look-up (:func:`benchmarks.kiosk_rows.converter`) -> a ``DynamicSink``
whose ``write_batch`` does binary COPY into the three tables, one transaction per batch. One worker, recovery on
(SQLite in ``--recovery-dir``), so that a restart resumes from the last snapshot: at least once.

Bytewax joins no consumer group: it assigns the partitions itself and keeps their positions in its recovery
snapshots, not in Kafka. Prints one line of JSON on stdout: ``processed`` (rows written), ``writes``,
``first_message_at``, ``import_s``, ``run_s`` and ``cpu_s``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

__all__ = ["BATCH_SIZE", "EPOCH", "SOURCE_CONFIG", "main", "parse_args"]

#: Messages per poll of a partition (KafkaSource's default is 1,000): about lmnh_pipes' 5,000 rows a transaction.
BATCH_SIZE: Final = 5_000
#: Bytewax's default epoch, the interval of its recovery snapshots.
EPOCH: Final = timedelta(seconds=10)
#: The fetch back-off of every other consumer here (the hand-tuned loop, lmnh-pipes' kafka source, Quix).
SOURCE_CONFIG: Final = {"fetch.queue.backoff.ms": "10"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bytewax_worker", description="the Bytewax peer of the benchmark")
    parser.add_argument("--bootstrap", required=True, help="the broker, HOST:PORT")
    parser.add_argument("--dsn", required=True, help="the PostgreSQL database, a libpq connection string")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--messages", type=int, required=True, help="the messages the topic holds (a check)")
    parser.add_argument("--catalogue", required=True, help="the kiosk validator's exhibitions folder")
    parser.add_argument("--recovery-dir", required=True, help="an empty folder for Bytewax's recovery database")
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    import msgspec
    import psycopg
    from bytewax import operators as op
    from bytewax.connectors.kafka import KafkaSource
    from bytewax.dataflow import Dataflow
    from bytewax.outputs import DynamicSink, StatelessSinkPartition
    from bytewax.recovery import RecoveryConfig, init_db_dir
    from bytewax.run import cli_main

    from benchmarks.kiosk_rows import Row, converter, exhibition_ids, write_copy
    from lmnh_pipes import interpreter_tuned
    from lmnh_pipes_kiosk import KioskValidator

    imported = time.perf_counter()
    validator = KioskValidator(catalogue=args.catalogue)
    validator.open()
    exhibitions = exhibition_ids(args.dsn)
    convert = converter(validator, msgspec.json.Decoder().decode, exhibitions)
    first: list[float] = []
    written = [0, 0]  # rows, writes

    def to_row(message: Any) -> Row:
        if not first:
            first.append(time.time())
        return convert(message.value, message.topic, message.partition, message.offset)

    class CopyPartition(StatelessSinkPartition):  # type: ignore[misc]  # bytewax is not installed where mypy runs
        def __init__(self) -> None:
            self._db = psycopg.connect(args.dsn)

        def write_batch(self, items: list[Row]) -> None:
            written[0] += write_copy(self._db, items)
            written[1] += 1

        def close(self) -> None:
            self._db.close()

    class CopySink(DynamicSink):  # type: ignore[misc]  # as above
        def build(self, step_id: str, worker_index: int, worker_count: int) -> CopyPartition:
            return CopyPartition()

    flow = Dataflow("kiosk")
    source = KafkaSource([args.bootstrap], [args.topic], tail=False, add_config=SOURCE_CONFIG, batch_size=BATCH_SIZE)
    rows = op.map("rows", op.input("kafka", flow, source), to_row)
    op.output("postgres", rows, CopySink())
    recovery = Path(args.recovery_dir)
    recovery.mkdir(parents=True, exist_ok=True)
    init_db_dir(recovery, 1)
    with interpreter_tuned():
        cli_main(flow, workers_per_process=1, epoch_interval=EPOCH, recovery_config=RecoveryConfig(recovery))
    done = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "processed": written[0],
                "writes": written[1],
                "first_message_at": first[0] if first else None,
                "import_s": imported - started,
                "run_s": done - imported,
                "cpu_s": usage.ru_utime + usage.ru_stime,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
