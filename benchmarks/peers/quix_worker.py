"""The Quix Streams peer: the benchmark's job as a Quix Streams 3.28 application, in the peers' environment.

    python -m benchmarks.peers.quix_worker --bootstrap HOST:PORT --dsn DSN --topic T --group G --messages N \\
        --sink pg|copy --catalogue DIR --state-dir DIR

One ``apply`` per message: msgspec decodes the raw bytes, the same :class:`KioskValidator` as the hand-tuned loop
checks them, and the exhibition's key is looked up (:func:`benchmarks.kiosk_rows.converter`). Then one sink:

- ``pg``: Quix's own ``PostgreSQLSink`` (psycopg2, ``execute_values``), ``table_name`` routing each row by its
  columns to ``rating_interaction``, ``request_interaction`` or ``kiosk_reject``;
- ``copy``: :class:`CopySink`, a ``BatchingSink`` of our own: binary COPY into the three tables, one transaction
  per batch (Quix hands a batching sink one batch per partition at each checkpoint).

``app.run(count=N, collect=False)`` stops once N messages went through the sink, and the stop flushes the last
checkpoint. Prints one line of JSON on stdout: ``processed``, ``first_message_at`` (time.time() when the first
message was processed), ``import_s``, ``run_s``, and ``cpu_s`` (its own CPU, all threads, up to then).

Run by :mod:`benchmarks.peer_runs`; only the standard library is imported before :func:`main`, so that the argument
parsing can be tested without Quix.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence
from typing import Any, Final

__all__ = ["COMMIT_EVERY", "COMMIT_INTERVAL", "CONSUMER_CONFIG", "SINKS", "main", "parse_args", "postgres_params"]

SINKS: Final = ("pg", "copy")
#: Quix's default; the docs' sink performance notes bound a checkpoint's batch with ``commit_every`` instead.
COMMIT_INTERVAL: Final = 5.0
#: Messages per checkpoint: split over 3 partitions, about 5,000 rows a sink batch, like lmnh_pipes' max_records.
COMMIT_EVERY: Final = 15_000
#: The librdkafka settings every consumer of the harness uses (benchmarks/context.py's GROUP_SETTINGS, and the
#: fetch back-off of the hand-tuned loop and of lmnh-pipes' kafka source).
CONSUMER_CONFIG: Final = {"fetch.queue.backoff.ms": 10, "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="quix_worker", description="the Quix Streams peer of the benchmark")
    parser.add_argument("--bootstrap", required=True, help="the broker, HOST:PORT")
    parser.add_argument("--dsn", required=True, help="the PostgreSQL database, a libpq connection string")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True, help="a consumer group not used before")
    parser.add_argument("--messages", type=int, required=True, help="stop after this many messages")
    parser.add_argument("--sink", choices=SINKS, required=True, help="pg: Quix's PostgreSQLSink; copy: binary COPY")
    parser.add_argument("--catalogue", required=True, help="the kiosk validator's exhibitions folder")
    parser.add_argument("--state-dir", required=True, help="Quix's state folder (unused: the app keeps no state)")
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    return args


def postgres_params(dsn: str) -> dict[str, Any]:
    """The keyword arguments of Quix's ``PostgreSQLSink`` for ``dsn``: host, port, dbname, user and password, and
    whatever else the string holds (passed on to ``psycopg2.connect``)."""
    from psycopg.conninfo import conninfo_to_dict

    params: dict[str, Any] = dict(conninfo_to_dict(dsn))
    return {
        "host": params.pop("host", "localhost"),
        "port": int(params.pop("port", 5432)),
        "dbname": params.pop("dbname"),
        "user": params.pop("user", ""),
        "password": params.pop("password", ""),
        **params,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    import msgspec
    from quixstreams import Application, message_context

    from benchmarks.kiosk_rows import as_mapping, converter, exhibition_ids, table_of
    from lmnh_pipes import interpreter_tuned
    from lmnh_pipes_kiosk import KioskValidator

    imported = time.perf_counter()
    validator = KioskValidator(catalogue=args.catalogue)
    validator.open()
    exhibitions = exhibition_ids(args.dsn)
    convert = converter(validator, msgspec.json.Decoder().decode, exhibitions)
    first: list[float] = []

    def on_processed(_topic: str, _partition: int, _offset: int) -> None:
        if not first:
            first.append(time.time())

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        commit_interval=COMMIT_INTERVAL,
        commit_every=COMMIT_EVERY,
        consumer_extra_config=dict(CONSUMER_CONFIG),
        state_dir=args.state_dir,
        use_changelog_topics=False,
        auto_create_topics=False,
        on_message_processed=on_processed,
        loglevel="WARNING",  # the PostgreSQLSink logs every batch at INFO
    )
    sdf = app.dataframe(app.topic(args.topic, value_deserializer="bytes"))
    if args.sink == "pg":
        from quixstreams.sinks.community.postgresql import PostgreSQLSink

        def to_mapping(raw: bytes) -> dict[str, Any]:
            ctx = message_context()
            return as_mapping(convert(raw, ctx.topic, ctx.partition, ctx.offset))

        sdf = sdf.apply(to_mapping)
        sdf.sink(
            PostgreSQLSink(
                **postgres_params(args.dsn),
                table_name=lambda item: table_of(item.value),
                schema_auto_update=False,
                include_metadata=False,
            )
        )
    else:

        def to_row(raw: bytes) -> Any:
            ctx = message_context()
            return convert(raw, ctx.topic, ctx.partition, ctx.offset)

        sdf = sdf.apply(to_row)
        sdf.sink(_copy_sink(args.dsn))
    with interpreter_tuned():
        app.run(count=args.messages, collect=False)
    done = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "processed": args.messages,
                "first_message_at": first[0] if first else None,
                "import_s": imported - started,
                "run_s": done - imported,
                "cpu_s": usage.ru_utime + usage.ru_stime,
            }
        ),
        flush=True,
    )
    return 0


def _copy_sink(dsn: str) -> Any:
    """A Quix ``BatchingSink`` that writes each batch with binary COPY, in one transaction."""
    import psycopg
    from quixstreams.sinks import BatchingSink, SinkBatch

    from benchmarks.kiosk_rows import write_copy

    class CopySink(BatchingSink):  # type: ignore[misc]  # quixstreams is not installed where mypy runs
        def __init__(self) -> None:
            super().__init__()
            self._db: psycopg.Connection[Any] | None = None

        def setup(self) -> None:
            self._db = psycopg.connect(dsn)

        def write(self, batch: SinkBatch) -> None:
            assert self._db is not None, "Quix calls setup() before the first write"
            write_copy(self._db, (item.value for item in batch))

    return CopySink()


if __name__ == "__main__":
    sys.exit(main())
