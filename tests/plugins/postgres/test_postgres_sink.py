"""The postgres sink against a real server: COPY, routing, look-ups, conflicts, positions, outages."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import attrs
import psycopg
import pytest

from lmnh_pipes import BatchOptions, ConfigError, Meta, Pipeline, Record, RecordRejectedError, TransientError
from lmnh_pipes.testing import ListSink, ListSource
from lmnh_pipes_postgres import PostgresSink, is_transient
from lmnh_pipes_postgres.positions import PositionsTable
from tests.fixtures.postgres import execute
from tests.plugins.postgres.kiosk_db import TABLES, create_schema, rows

SUMMER = timezone(timedelta(hours=1))


def kiosk(at: datetime, site: str, val: int, type_: int | None = None, offset: int = 0, partition: int = 0) -> Record:
    value = {
        "at": at,
        "site": site,
        "val": val,
        "type": type_,
        "kind": "request" if val == -1 else "rating",
        "exhibition": f"EXH_{int(site):02d}",
    }
    return Record(value=value, raw=b"{}", meta=Meta(source="kafka", topic="lmnh", partition=partition, offset=offset))


@pytest.fixture
def db(pg_dsn):
    create_schema(pg_dsn)
    return pg_dsn


def sink(dsn: str, **kw) -> PostgresSink:
    s = PostgresSink(dsn=dsn, route="kind", tables=TABLES, **kw)
    s.open()
    return s


def test_routes_rows_resolves_lookups_and_keeps_instants(db):
    s = sink(db)
    summer = datetime(2024, 7, 1, 9, 30, 0, 123456, tzinfo=SUMMER)
    winter = datetime(2025, 1, 10, 17, 0, tzinfo=UTC)
    s.write([kiosk(summer, "3", 4), kiosk(winter, "0", 0), kiosk(summer, "5", -1, 1)])
    s.close()
    ratings = rows(
        db,
        "SELECT e.exhibition_public_id, r.rating_id, r.event_at FROM rating_interaction r "
        "JOIN exhibition e USING (exhibition_id) ORDER BY r.event_at",
    )
    assert ratings == [("EXH_03", 4, summer), ("EXH_00", 0, winter)]
    assert ratings[0][2].astimezone(UTC) == datetime(2024, 7, 1, 8, 30, 0, 123456, tzinfo=UTC)
    assert rows(db, "SELECT request_id FROM request_interaction") == [(1,)]


def test_text_copy_format_gives_the_same_rows(db):
    s = sink(db, copy_format="text")
    at = datetime(2024, 7, 1, 9, 30, tzinfo=SUMMER)
    s.write([kiosk(at, "1", 2)])
    s.close()
    assert rows(db, "SELECT rating_id, event_at FROM rating_interaction") == [(2, at)]


def test_write_batch_skips_what_was_written_before_and_stores_positions(db):
    s = sink(db)
    at = datetime(2024, 7, 1, 9, 30, tzinfo=SUMMER)
    batch = [kiosk(at, "1", 2, offset=o) for o in range(10)]
    assert s.write_batch("p", batch[:6], [], None) == 6
    # a replay overlapping the first batch: only offsets 6.. are new
    assert s.write_batch("p", batch[3:], [], None) == 4
    assert rows(db, "SELECT count(*) FROM rating_interaction") == [(10,)]
    assert s.stored_positions("p", [("lmnh", 0), ("lmnh", 1)]) == {("lmnh", 0): 10}
    assert s.stored_positions("other", [("lmnh", 0)]) == {}
    s.close()


def test_rejects_join_the_transaction_and_move_the_position(db):
    s = sink(db)
    rejects = PostgresSink(dsn=db, table="kiosk_reject")
    rejects.open()
    assert s.joins(rejects)
    assert not s.joins(ListSink())
    bad = Record(raw=b'{"val": 9}', meta=Meta(topic="lmnh", partition=2, offset=7)).rejected_by(
        "kiosk", "val 9 is not in -1..4", "values"
    )
    s.write_batch("p", [], [bad], rejects)
    s.write_batch("p", [], [bad], rejects)  # replayed: not written twice
    assert rows(db, 'SELECT topic, "partition", "offset", validator, rule, reason, raw FROM kiosk_reject') == [
        ("lmnh", 2, 7, "kiosk", "values", "val 9 is not in -1..4", b'{"val": 9}')
    ]
    assert s.stored_positions("p", [("lmnh", 2)]) == {("lmnh", 2): 8}


def test_conflict_key_makes_loads_idempotent(db):
    s = PostgresSink(
        dsn=db,
        table="exhibition_file",
        conflict_key=["exhibition_public_id"],
        on_conflict="update",
        columns={
            "exhibition_public_id": "EXHIBITION_ID",
            "exhibition_name": "EXHIBITION_NAME",
            "floor_name": "FLOOR",
            "department_name": "DEPARTMENT",
            "start_date": "START_DATE",
            "description": "DESCRIPTION",
        },
    )
    s.open()
    record = Record.of(
        {
            "EXHIBITION_ID": "EXH_09",
            "EXHIBITION_NAME": "New",
            "FLOOR": "2",
            "DEPARTMENT": "Zoology",
            "START_DATE": "01/02/25",
            "DESCRIPTION": "d",
        }
    )
    s.write([record])
    s.write([record])
    s.close()
    assert rows(
        db, "SELECT exhibition_name, exhibition_start_date::text FROM exhibition WHERE exhibition_public_id = 'EXH_09'"
    ) == [("New", "2025-02-01")]


def test_missing_table_and_column_are_config_errors(db):
    with pytest.raises(ConfigError, match="table nowhere does not exist"):
        PostgresSink(dsn=db, table="nowhere").open()
    with pytest.raises(ConfigError, match="table rating_interaction has no column stars"):
        PostgresSink(dsn=db, table="rating_interaction", columns={"stars": "val"}).check_online()


def test_unknown_lookup_value_refuses_that_record_and_writes_nothing(db):
    s = sink(db)
    at = datetime(2024, 7, 1, 9, 30, tzinfo=SUMMER)
    bad = kiosk(at, "42", 2)
    with pytest.raises(RecordRejectedError) as exc:
        s.write([kiosk(at, "1", 2), bad])
    assert exc.value.records == [
        (bad, "column exhibition_id: no row in exhibition with exhibition_public_id = 'EXH_42'")
    ]
    assert rows(db, "SELECT count(*) FROM rating_interaction") == [(0,)]


def test_a_list_where_a_lookup_key_is_expected_refuses_that_record(db):
    s = sink(db)
    at = datetime(2024, 7, 1, 9, 30, tzinfo=SUMMER)
    bad = attrs.evolve(kiosk(at, "1", 2, offset=1), value={**kiosk(at, "1", 2).value, "exhibition": ["EXH_01"]})
    with pytest.raises(RecordRejectedError) as exc:
        s.write([kiosk(at, "1", 2), bad])
    assert exc.value.records == [(bad, 'column exhibition_id: cannot look up ["EXH_01"] (an array) in exhibition')]
    s.write([kiosk(at, "1", 2)])
    s.close()
    assert rows(db, "SELECT count(*) FROM rating_interaction") == [(1,)]


def test_constraint_violations_are_isolated_and_the_rest_lands_once(db):
    """Through the runner, exactly-once: refused rows go to the rejects table with the database's message."""
    execute(db, "ALTER TABLE rating_interaction ADD CONSTRAINT not_at_noon CHECK (extract(hour FROM event_at) <> 12)")
    base = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    records = [kiosk(base + timedelta(minutes=37 * i), str(i % 6), i % 5, offset=i) for i in range(40)]
    noon = [r for r in records if r.value["at"].hour == 12]
    assert 0 < len(noon) < 10

    class Replayable(ListSource):
        def use_position_store(self, store, pipeline):
            self.store = store

    rejects = PostgresSink(dsn=db, table="kiosk_reject")
    report = Pipeline(
        source=Replayable(records),
        sink=PostgresSink(dsn=db, route="kind", tables=TABLES),
        rejects=rejects,
        batch=BatchOptions(max_records=16),
    ).run()
    assert (report.written, report.rejected) == (40 - len(noon), len(noon))
    refused = rows(db, 'SELECT "offset", validator, rule, reason FROM kiosk_reject ORDER BY 1')
    assert [r[0] for r in refused] == [r.meta.offset for r in noon]
    assert all(r[1:3] == ("postgres", "write") for r in refused)
    assert all('violates check constraint "not_at_noon"' in r[3] for r in refused)
    assert rows(db, "SELECT count(*) FROM rating_interaction") == [(40 - len(noon),)]
    assert rows(db, "SELECT next_offset FROM lmnh_pipes_offsets") == [(40,)]


def test_killed_connection_is_an_outage_and_the_retry_writes_once(db):
    s = sink(db)
    at = datetime(2024, 7, 1, 9, 30, tzinfo=SUMMER)
    s.write([kiosk(at, "1", 2, offset=0)])
    rows(
        db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    with pytest.raises(TransientError):
        s.write_batch("p", [kiosk(at, "1", 3, offset=1)], [], None)
    assert s.write_batch("p", [kiosk(at, "1", 3, offset=1)], [], None) == 1
    assert rows(db, "SELECT rating_id FROM rating_interaction ORDER BY 1") == [(2,), (3,)]


def test_pipeline_through_runner_uses_plain_writes_for_a_file_like_source(db):
    at = datetime(2024, 7, 1, 9, 30, tzinfo=SUMMER)
    records = [kiosk(at, "2", v) for v in (0, 1, 2)]
    report = Pipeline(source=ListSource(records), sink=PostgresSink(dsn=db, route="kind", tables=TABLES)).run()
    assert report.written == 3
    assert rows(db, "SELECT count(*) FROM rating_interaction") == [(3,)]


def test_sqlstate_classes():
    assert is_transient(psycopg.errors.SerializationFailure())
    assert is_transient(psycopg.errors.DeadlockDetected())
    assert is_transient(psycopg.errors.AdminShutdown())
    assert is_transient(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert not is_transient(psycopg.errors.UniqueViolation())
    assert not is_transient(psycopg.errors.CheckViolation())
    assert not is_transient(ValueError())


def test_password_is_not_in_repr(pg_dsn):
    s = PostgresSink(host="db.example.com", dbname="museum", user="u", password="hunter2", table="t")
    assert "hunter2" not in repr(s)
    assert "hunter2" in s.conninfo


def test_wrong_password_message_names_no_password(pg_server):
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(pg_server)
    s = PostgresSink(
        host="127.0.0.1", port=1, dbname="x", user="u", password="Sup3r-s3cret", table="t", connect_timeout=2
    )
    with pytest.raises(TransientError) as exc:
        s.open()
    assert "Sup3r-s3cret" not in str(exc.value)
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/x" in str(exc.value)
    assert info  # the server fixture is up; the sink was pointed at a closed port on purpose
    scrubbed = PostgresSink(dsn="postgresql://u:Sup3r-s3cret@db/x", table="t")._scrub("a Sup3r-s3cret b")
    assert scrubbed == "a *** b"


def test_upsert_survives_a_reconnect_and_a_key_twice_in_one_batch(db):
    s = PostgresSink(
        dsn=db,
        table="exhibition_file",
        conflict_key=["exhibition_public_id"],
        on_conflict="update",
        columns={
            "exhibition_public_id": "id",
            "exhibition_name": "name",
            "floor_name": "floor",
            "department_name": "dept",
            "start_date": "start",
            "description": "d",
        },
    )
    s.open()

    def row(name: str) -> Record:
        return Record.of({"id": "EXH_08", "name": name, "floor": "1", "dept": "Zoology", "start": "01/02/25", "d": "x"})

    s.write([row("first"), row("second")])
    rows(
        db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    with pytest.raises(TransientError):
        s.write([row("third")])
    s.write([row("third")])
    s.close()
    assert rows(db, "SELECT exhibition_name FROM exhibition WHERE exhibition_public_id = 'EXH_08'") == [("third",)]


def test_nul_bytes_go_into_text_columns_escaped(db):
    execute(db, "CREATE TABLE t (note text, raw text)")
    s = PostgresSink(dsn=db, table="t")
    s.open()
    s.write([Record(value={"note": "a\x00b"}, raw=b"x\x00y\xff")])
    s.close()
    assert rows(db, "SELECT note, raw FROM t") == [("a\\x00b", "x\\x00y\\xff")]


def test_a_sink_that_stores_no_positions_needs_no_offsets_table(db):
    s = PostgresSink(dsn=db, table="kiosk_reject")
    s.open()
    s.close()
    assert rows(db, "SELECT to_regclass('lmnh_pipes_offsets') IS NULL") == [(True,)]


def create_together(dsn: str, table: PositionsTable, creators: int) -> list[BaseException]:
    """What ``creators`` connections raise when they create ``table`` at the same moment."""
    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(creators)]
    barrier = threading.Barrier(creators)
    failures: list[BaseException] = []

    def create(conn: psycopg.Connection) -> None:
        barrier.wait()
        try:
            table.create(conn)
        except psycopg.Error as exc:
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in conns:
        c.close()
    return failures


def test_members_that_start_together_create_the_offsets_table_once(db):
    # CREATE TABLE IF NOT EXISTS is not safe against a concurrent one: without a lock, some of these creators fail
    # on pg_type's unique index (seen in CI, with two group members starting together).
    for attempt in range(8):
        table = PositionsTable(f"offsets_race_{attempt}")
        assert create_together(db, table, creators=6) == []
        assert rows(db, f"SELECT to_regclass('{table.name}') IS NOT NULL") == [(True,)]


def test_positions_read_while_the_writer_thread_writes(db):
    # Under a cooperative assignor, new partitions are assigned (and their positions read, on the consumer's
    # thread) while the writer thread may be inside a batch's transaction on the same sink.
    s = sink(db)
    at = datetime(2024, 7, 1, 9, 30, tzinfo=SUMMER)
    batches = [[kiosk(at, "1", 2, offset=b * 2000 + o) for o in range(2000)] for b in range(10)]
    stop = threading.Event()
    reads: list[object] = []

    def read() -> None:
        while not stop.is_set():
            try:
                reads.append(s.stored_positions("p", [("lmnh", 0), ("lmnh", 7)]))
            except Exception as exc:
                reads.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for batch in batches:
            assert s.write_batch("p", batch, [], None) == len(batch)
    finally:
        stop.set()
        reader.join()
        s.close()
    failures = [r for r in reads if isinstance(r, Exception)]
    assert failures == []
    assert len(reads) > 10
    assert rows(db, "SELECT count(*) FROM rating_interaction") == [(20_000,)]


def test_a_backwards_replay_is_idempotent_with_the_coordinates_as_conflict_key(db):
    # Moving a stored position back re-reads what was written; with the record's coordinates under the unique key
    # that schema.sql gives the museum's tables, and on_conflict: nothing, the rows are not written twice.
    coordinates = {"kafka_topic": "meta.topic", "kafka_partition": "meta.partition", "kafka_offset": "meta.offset"}
    table = {
        **TABLES["rating"],
        "columns": {**TABLES["rating"]["columns"], **coordinates},
        "conflict_key": list(coordinates),
        "on_conflict": "nothing",
    }
    s = PostgresSink(dsn=db, route="kind", tables={"rating": table, "request": TABLES["request"]})
    s.open()
    at = datetime(2024, 7, 1, 9, 30, tzinfo=SUMMER)
    batch = [kiosk(at, "1", 2, offset=o) for o in range(10)]
    # A row the table refuses (no rating 7) is isolated here too, though the table's constraints are checked
    # only when the staged rows are inserted.
    with pytest.raises(RecordRejectedError) as refused:
        s.write([*batch[:3], kiosk(at, "1", 7, offset=99)])
    assert [(r.meta.offset, "rating_id" in reason) for r, reason in refused.value.records] == [(99, True)]
    assert s.write_batch("p", batch, [], None) == 10
    execute(db, "UPDATE lmnh_pipes_offsets SET next_offset = 4 WHERE pipeline = 'p'")  # an operator's replay
    s.write_batch("p", batch[4:], [], None)
    s.close()
    assert rows(db, "SELECT count(*), count(DISTINCT kafka_offset) FROM rating_interaction") == [(10, 10)]
    assert rows(db, "SELECT next_offset FROM lmnh_pipes_offsets WHERE pipeline = 'p'") == [(10,)]


def coordinates_sink(dsn: str, *, direct: bool) -> PostgresSink:
    """The museum's tables with coordinates under a unique key and on_conflict: nothing (as pipeline.yaml has
    them); ``direct`` False takes the staging path for every batch, as before the shortcut."""
    coordinates = {"kafka_topic": "meta.topic", "kafka_partition": "meta.partition", "kafka_offset": "meta.offset"}
    tables = {
        kind: {
            **spec,
            "columns": {**spec["columns"], **coordinates},
            "conflict_key": list(coordinates),
            "on_conflict": "nothing",
        }
        for kind, spec in TABLES.items()
    }
    s = PostgresSink(dsn=dsn, route="kind", tables=tables)
    s.open()
    if not direct:
        s._targets = {k: attrs.evolve(t, direct=None) for k, t in s._targets.items()}
    return s


def test_the_direct_copy_decides_as_the_staging_path(db):
    """copies_directly's shortcut (COPY straight into the table when nothing conflicts) against the staging
    path, batch by batch: the same rows land, the same records are refused, with the same reasons."""
    at = datetime(2024, 7, 1, 9, 30, tzinfo=SUMMER)
    batches = [
        [kiosk(at, "1", 2, offset=o) for o in range(5)],  # nothing there yet
        [kiosk(at, "1", 3, offset=o) for o in range(3, 8)],  # 3 and 4 are there: skipped
        [kiosk(at, "2", 1, offset=9), kiosk(at, "2", 4, offset=9)],  # one key twice in the batch: the last wins
        [kiosk(at, "1", 7, offset=20), kiosk(at, "1", 1, offset=21)],  # a rating the table refuses (no rating 7)
        [kiosk(at, "1", 7, offset=2), kiosk(at, "3", -1, 1, offset=22)],  # refused, but its key is there: skipped
        [kiosk(at, "3", -1, 0, offset=o, partition=1) for o in range(3)],  # requests
    ]
    outcomes = []
    for direct in (True, False):
        execute(db, "TRUNCATE rating_interaction, request_interaction")
        s = coordinates_sink(db, direct=direct)
        assert all((t.direct is not None) is direct for t in s._targets.values())
        refused = []
        for batch in batches:
            try:
                s.write(batch)
                refused.append([])
            except RecordRejectedError as exc:
                refused.append([(r.meta.offset, reason) for r, reason in exc.records])
        s.close()
        tables = [
            rows(
                db,
                f"SELECT exhibition_id, {kind}_id, kafka_partition, kafka_offset FROM {kind}_interaction ORDER BY 3, 4",
            )
            for kind in ("rating", "request")
        ]
        outcomes.append((refused, tables))
    assert outcomes[0] == outcomes[1]
    refused, (ratings, requests) = outcomes[0]
    assert [len(r) for r in refused] == [0, 0, 0, 1, 0, 0]
    assert [o for _, _, _, o in ratings] == [0, 1, 2, 3, 4, 5, 6, 7, 9]
    assert [v for _, v, _, o in ratings if o == 9] == [4]
    # The batch with a refused record is rolled back whole (the runner writes it again without that record).
    assert [(p, o) for _, _, p, o in requests] == [(0, 22), (1, 0), (1, 1), (1, 2)]


def test_the_direct_copy_needs_a_unique_index_on_the_conflict_key(db):
    """Without one, ON CONFLICT fails, and so does every batch: the shortcut is not offered to hide it."""
    s = coordinates_sink(db, direct=True)
    assert all(t.direct is not None for t in s._targets.values())
    s.close()
    execute(db, "DROP INDEX rating_interaction_kafka_key")
    s = coordinates_sink(db, direct=True)
    assert s._targets["rating"].direct is None
    assert s._targets["request"].direct is not None
    with pytest.raises(Exception, match="no unique or exclusion constraint"):
        s.write([kiosk(datetime(2024, 7, 1, 9, 30, tzinfo=SUMMER), "1", 2)])
    s.close()
