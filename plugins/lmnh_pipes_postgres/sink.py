"""The ``postgres`` sink: COPY in batches, routed to tables, exactly-once with a replayable source."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, TypeVar

import attrs
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from lmnh_pipes import (
    ConfigError,
    Record,
    RecordRejectedError,
    RunError,
    Sink,
    TransientError,
    describe_value,
    option_doc,
)
from lmnh_pipes.auditing import Kept, Span
from lmnh_pipes.delivery import Positions
from lmnh_pipes.records import MISSING, compile_path, offsets_by_partition
from lmnh_pipes.replaying import RejectStore, Settlement, StoredReject

from . import accounting
from .errors import is_transient
from .positions import PositionsTable
from .rejects import RejectsTable
from .rows import BatchRows, LookUp, RowError, batch_rows, row_builder
from .tables import ON_CONFLICT, Column, Lookup, TableSpec, default_column, parse_tables

__all__ = ["COPY_FORMATS", "PostgresSink"]

log = logging.getLogger("lmnh_pipes.postgres")
T = TypeVar("T")

#: COPY's formats.
COPY_FORMATS = ("binary", "text")

# The password of a URI (scheme://user:PASSWORD@host) or of a key=value string (password=PASSWORD).
_DSN_PASSWORDS = re.compile(r"://[^:/@\s]*:([^@\s]+)@|\bpassword\s*=\s*('[^']*'|\S+)")
#: invalid_authorization_specification, invalid_password, invalid_catalog_name (no such database)
_LOGIN_REFUSED = frozenset({"28000", "28P01", "3D000"})
_LOGIN_REFUSED_TEXT = ("password authentication failed", "no password supplied", "does not exist")


def _hide(value: str | None) -> str:
    return "'***'" if value else repr(value)


class _Refused(Exception):  # noqa: N818 -- not an error: the signal to write the batch again with savepoints
    """The database refused a row of a COPY made without savepoints."""


#: What a COPY raises when the database (or a dumper) refuses a row's values, rather than failing.
_REFUSALS = (psycopg.DataError, psycopg.IntegrityError, TypeError, ValueError, OverflowError)


@attrs.frozen
class _Target:
    spec: TableSpec
    columns: tuple[Column, ...]
    types: tuple[str, ...]
    copy: sql.Composed
    stage: sql.Composed | None  # INSERT ... SELECT ... ON CONFLICT from the staging table, when configured
    stage_table: sql.Identifier | None
    stage_create: sql.Composed | None
    # COPY straight into the table, when the staging path's INSERT ... ON CONFLICT may be skipped (copies_directly)
    direct: sql.Composed | None
    rows: BatchRows  # the batch's rows, inline (batch_rows)
    lookups: tuple[Lookup, ...]  # the look-ups whose cached tables ``rows`` takes, in order


@attrs.define(kw_only=True)
class PostgresSink:
    """Load records into PostgreSQL with COPY, in batches, routed to tables by a field; exactly-once from Kafka.

    With a replayable source the next offsets are stored in ``offsets_table`` in the same transaction as the
    rows (and the rejects, when the rejects sink is a ``postgres`` sink on the same database), and a batch
    written before is skipped. Rows the database refuses become rejects. Options and column mappings:
    ``docs/sinks.md``.
    """

    dsn: str | None = attrs.field(
        default=None, repr=False, metadata=option_doc("a connection string (or give host, dbname, ...)")
    )
    host: str | None = attrs.field(default=None, metadata=option_doc("the server's host (without dsn)"))
    port: int | None = attrs.field(default=None, metadata=option_doc("the server's port (without dsn)"))
    dbname: str | None = attrs.field(default=None, metadata=option_doc("the database (without dsn)"))
    user: str | None = attrs.field(default=None, metadata=option_doc("the user name (without dsn)"))
    password: str | None = attrs.field(
        default=None, repr=_hide, metadata=option_doc("the password (without dsn); never shown")
    )
    table: str | None = attrs.field(default=None, metadata=option_doc("the one target table (or give route)"))
    columns: dict[str, Any] | list[str] | None = attrs.field(
        default=None, metadata=option_doc("where each column's value comes from (default: same-named value keys)")
    )
    route: str | None = attrs.field(default=None, metadata=option_doc("the field whose value picks a table of tables"))
    tables: dict[str, Any] | None = attrs.field(
        default=None, metadata=option_doc("route value -> {table, columns, conflict_key, on_conflict}")
    )
    conflict_key: list[str] | None = attrs.field(
        default=None, metadata=option_doc("the columns of a unique key, for on_conflict")
    )
    on_conflict: str = attrs.field(
        default="error",
        metadata=option_doc("what a row whose key exists does: fail, is skipped, or replaces it", choices=ON_CONFLICT),
    )
    offsets_table: str = attrs.field(
        default="lmnh_pipes_offsets", metadata=option_doc("where positions are stored (made on first use)")
    )
    copy_format: str = attrs.field(default="binary", metadata=option_doc("COPY's format", choices=COPY_FORMATS))
    connect_timeout: int = attrs.field(default=10, metadata=option_doc("seconds for each connection attempt"))
    _specs: dict[str, TableSpec] = attrs.field(init=False, repr=False)
    _route: Callable[[Record], Any] = attrs.field(init=False, repr=False)
    _targets: dict[str, _Target] = attrs.field(factory=dict, init=False, repr=False)
    _lookups: dict[tuple[str, str, str], dict[Any, Any]] = attrs.field(factory=dict, init=False, repr=False)
    _rejects_table: RejectsTable | None = attrs.field(default=None, init=False, repr=False)
    _conn: psycopg.Connection[Any] | None = attrs.field(default=None, init=False, repr=False)
    _offsets_ready: bool = attrs.field(default=False, init=False, repr=False)
    _positions: PositionsTable = attrs.field(init=False, repr=False)
    _position_rows: set[tuple[str, tuple[str, int]]] = attrs.field(factory=set, init=False, repr=False)
    # The runner's writer thread writes batches while the consumer's thread may read positions (a cooperative
    # assignor adds partitions without first draining the writer): one transaction at a time on the connection.
    _lock: threading.RLock = attrs.field(factory=threading.RLock, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._positions = PositionsTable(self.offsets_table)
        self._route = compile_path(self.route) if self.route is not None else lambda _: ""
        self._specs = parse_tables(
            self.table, self.columns, self.tables, self.route, self.conflict_key, self.on_conflict
        )
        if self.copy_format not in COPY_FORMATS:
            raise ValueError(f"copy_format must be binary or text, found {self.copy_format!r}")
        if self.dsn is not None:
            try:
                conninfo_to_dict(self.dsn)
            except psycopg.ProgrammingError as exc:
                raise ValueError(f"dsn is not a valid connection string: {self._scrub(str(exc))}") from None
        elif self.dbname is None and self.host is None:
            raise ValueError("give dsn, or host and dbname")

    @property
    def conninfo(self) -> str:
        """The connection string (with the password: never log it)."""
        params = {
            k: v
            for k, v in (
                ("host", self.host),
                ("port", self.port),
                ("dbname", self.dbname),
                ("user", self.user),
                ("password", self.password),
            )
            if v is not None
        }
        return make_conninfo(self.dsn or "", **params)

    def _scrub(self, text: str) -> str:
        """``text`` with every password of this sink's connection options replaced by ``***``."""
        secrets = {self.password or ""}
        if self.dsn:
            secrets.update(m.group(1) for m in _DSN_PASSWORDS.finditer(self.dsn))
        for secret in sorted(filter(None, secrets), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    @property
    def where(self) -> str:
        """The server and database, without credentials, for messages."""
        info = conninfo_to_dict(self.conninfo)
        return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"

    def __repr__(self) -> str:
        tables = ", ".join(s.table for s in self._specs.values())
        return f"PostgresSink(where={self.where!r}, tables=[{tables}])"

    # -- lifecycle --

    def open(self) -> None:
        try:
            conn = self._connection()
            problems = self._prepare(conn)
        except psycopg.Error as exc:
            self.close()
            raise self._classify(exc) from exc
        except BaseException:
            self.close()
            raise
        if problems:
            self.close()
            raise ConfigError(problems[0] if len(problems) == 1 else "; ".join(problems))

    def check_online(self) -> None:
        """Connect and check that every table and mapped column exists."""
        with self._connect() as conn:
            problems = self._prepare(conn)
        if problems:
            raise ConfigError("; ".join(problems))

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- writing --

    def write(self, records: Sequence[Record]) -> None:
        with self._lock:
            self._writing(lambda cur, isolate: self._copy_records(cur, records, isolate))

    def destination(self, record: Record) -> str:
        """The table ``record`` would be written to: its route's, or the one table. Connects nothing."""
        value = self._route(record)
        key = str(None if value is MISSING else value)
        spec = self._specs.get(key)
        if spec is None:
            raise ValueError(f"no table for {self.route} = {key!r} (routes: {', '.join(self._specs)})")
        return spec.table

    @property
    def transaction_name(self) -> str:
        """What writes a batch and its positions together, in the delivery plan."""
        return "PostgreSQL transaction"

    def joins(self, rejects: Sink) -> bool:
        return isinstance(rejects, PostgresSink) and rejects.conninfo == self.conninfo

    def write_batch(
        self, pipeline: str, accepted: Sequence[Record], rejected: Sequence[Record], rejects: Sink | None
    ) -> int:
        joined = rejects if isinstance(rejects, PostgresSink) else None

        # Each partition's first and next offsets in this batch. Not its first and last records': a record the
        # database refused joins the rejected after the validators' rejects, out of offset order.
        firsts: dict[tuple[str, int], int] = {}
        ends: dict[tuple[str, int], int] = {}
        for records in (accepted, rejected):
            for key, offsets in offsets_by_partition(records).items():
                low, high = min(offsets), max(offsets)
                if low < firsts.get(key, low + 1):
                    firsts[key] = low
                if high >= ends.get(key, 0):
                    ends[key] = high + 1

        def transaction(cur: psycopg.Cursor[Any], isolate: bool) -> int:
            stored = self._positions.lock(cur, pipeline, sorted(ends))
            replayed = any(stored.get(key, -1) > first for key, first in firsts.items())

            def fresh(records: Sequence[Record]) -> Sequence[Record]:
                if not replayed:  # the usual case: nothing of this batch was written before
                    return records
                return [r for r in records if r.meta.offset >= stored.get((r.meta.topic, r.meta.partition), -1)]

            keep = fresh(accepted)
            if len(keep) < len(accepted):
                log.info("skipped %d records written before (a replay)", len(accepted) - len(keep))
            written = self._copy_records(cur, keep, isolate)
            if joined is not None:
                joined._copy_records(cur, fresh(rejected), isolate)
            self._positions.store(cur, pipeline, {k: v for k, v in ends.items() if v > stored.get(k, -1)})
            return written

        with self._lock:
            self._ensure_offsets_table()
            self._ensure_position_rows(pipeline, sorted(ends))
            return self._writing(transaction)

    # -- replay: as the rejects sink, a store of rejects; as the sink, the transaction that settles them --

    def stored_rejects(self) -> Iterator[StoredReject]:
        """The rejects table's rows in primary-key order, read a page at a time on a connection of their own."""
        try:
            with self._connect() as conn:
                table = self._rejects(conn)
                after = None
                while page := table.page(conn, after, 1000):
                    yield from page
                    after = page[-1].handle
        except psycopg.Error as exc:
            raise self._classify(exc) from exc

    def settle(self, settlement: Settlement) -> None:
        with self._lock:
            self._in_transaction(lambda cur: self._rejects(cur.connection).settle(cur, settlement))

    def joins_replay(self, store: RejectStore) -> bool:
        return isinstance(store, PostgresSink) and store.conninfo == self.conninfo

    def write_replayed(
        self, pipeline: str, accepted: Sequence[Record], settlement: Settlement, store: RejectStore | None
    ) -> int:
        joined = store if isinstance(store, PostgresSink) else None
        positions = dict(settlement.positions)

        def transaction(cur: psycopg.Cursor[Any], isolate: bool) -> int:
            written = self._copy_records(cur, accepted, isolate)
            if joined is not None:
                joined._rejects(cur.connection).settle(cur, settlement)
            if positions:
                stored = self._positions.lock(cur, pipeline, sorted(positions))
                self._positions.store(cur, pipeline, {k: v for k, v in positions.items() if v > stored.get(k, -1)})
            return written

        with self._lock:
            if positions:
                self._ensure_offsets_table()
                self._ensure_position_rows(pipeline, sorted(positions))
            return self._writing(transaction)

    def _rejects(self, conn: psycopg.Connection[Any]) -> RejectsTable:
        if self._rejects_table is None:
            if len(self._specs) != 1:
                raise ConfigError("replay reads a rejects sink with one table, not a route to several")
            self._rejects_table = RejectsTable.describe(conn, next(iter(self._specs.values())))
        return self._rejects_table

    def stored_positions(self, pipeline: str, partitions: Sequence[tuple[str, int]]) -> Positions:
        if not partitions:
            return {}
        with self._lock:
            self._ensure_offsets_table()
            return self._in_transaction(lambda cur: self._positions.read(cur, pipeline, partitions))

    def move_positions(self, pipeline: str, positions: Positions) -> Positions:
        """Set the stored positions of ``pipeline`` in one transaction (``lmnh-pipes offsets --reset``)."""
        if not positions:
            return {}
        with self._lock:
            self._ensure_offsets_table()
            return self._in_transaction(lambda cur: self._positions.move(cur, pipeline, positions))

    # -- audit: what the tables keep of each partition's offsets --

    def accounting_gap(self) -> str | None:
        """Why these tables cannot account for offsets (one keeps no partition or offset column), or None."""
        found = self._coordinates()
        return found if isinstance(found, str) else None

    def lowest_kept(self, partitions: Sequence[tuple[str, int]]) -> Positions:
        return self._accounting(lambda conn, tables: accounting.lowest_kept(conn, tables, partitions))

    def kept(self, spans: Sequence[Span]) -> list[Kept]:
        return self._accounting(lambda conn, tables: accounting.kept(conn, tables, spans))

    def _coordinates(self) -> list[accounting.CoordinateColumns] | str:
        try:
            with self._connect() as conn:
                found = [accounting.coordinate_columns(s, list(_describe(conn, s.table))) for s in self._specs.values()]
        except psycopg.Error as exc:
            raise self._classify(exc) from exc
        gaps = [f for f in found if isinstance(f, str)]
        return "; ".join(gaps) if gaps else [f for f in found if not isinstance(f, str)]

    def _accounting(self, fn: Callable[[psycopg.Connection[Any], list[accounting.CoordinateColumns]], T]) -> T:
        tables = self._coordinates()
        if isinstance(tables, str):
            raise RunError(f"PostgreSQL at {self.where}: {tables}")
        try:
            with self._connect() as conn:
                return fn(conn, tables)
        except psycopg.Error as exc:
            raise self._classify(exc) from exc

    def copy_records(self, cur: psycopg.Cursor[Any], records: Sequence[Record]) -> int:
        """COPY ``records`` into their tables with ``cur`` (inside the caller's transaction); return the count.

        Records that cannot become rows (an unknown look-up key, a route with no table), and records the database
        refuses (a constraint, a value out of range), isolated by bisection inside savepoints, are reported
        together in a :class:`~lmnh_pipes.RecordRejectedError` with the reasons; the caller's transaction must then
        be rolled back, and the rest written again.
        """
        return self._copy_records(cur, records, True)

    def _copy_records(self, cur: psycopg.Cursor[Any], records: Sequence[Record], isolate: bool) -> int:
        """:meth:`copy_records`; without ``isolate`` (no savepoints: six round trips fewer a batch), a refusal by
        the database raises ``_Refused`` instead: roll back, and call again with ``isolate``."""
        if not records:
            return 0
        groups: dict[str, list[Record]] = {}
        if self.route is None:
            groups[""] = list(records)
        else:
            route = self._route
            for r in records:
                value = route(r)
                groups.setdefault(str(None if value is MISSING else value), []).append(r)
        refused: list[tuple[Record, str]] = []
        for value, group in groups.items():
            target = self._targets.get(value)
            if target is None:
                reason = f"no table for {self.route} = {value!r} (routes: {', '.join(self._targets)})"
                refused += [(r, reason) for r in group]
                continue
            kept, rows, bad = self._rows(cur, target, group)
            refused += bad
            if isolate:
                refused += self._copy_isolating(cur, target, list(zip(kept, rows, strict=True)))
            elif rows:
                try:
                    self._copy(cur, target, rows)
                except _REFUSALS as exc:
                    raise _Refused from exc
        if refused:
            raise RecordRejectedError("postgres", refused)
        return len(records)

    def _copy_isolating(
        self, cur: psycopg.Cursor[Any], target: _Target, rows: list[tuple[Record, Sequence[Any]]]
    ) -> list[tuple[Record, str]]:
        """COPY ``rows`` in a savepoint; if the database refuses it, bisect to find the rows it refuses."""
        if not rows:
            return []
        try:
            with cur.connection.transaction():
                self._copy(cur, target, [row for _, row in rows])
            return []
        except _REFUSALS as exc:
            if len(rows) == 1:
                return [(rows[0][0], f"{target.spec.table}: {_one_line(exc)}")]
        middle = len(rows) // 2
        return self._copy_isolating(cur, target, rows[:middle]) + self._copy_isolating(cur, target, rows[middle:])

    def _copy(self, cur: psycopg.Cursor[Any], target: _Target, rows: Sequence[Sequence[Any]]) -> None:
        if target.stage is None:
            self._copy_rows(cur, target.copy, target, rows)
            return
        if target.direct is not None and self._copied_directly(cur, target.direct, target, rows):
            return
        # Temporary tables live as long as their connection: create it in every transaction, as a reconnection
        # after an outage starts without it.
        assert target.stage_create is not None
        cur.execute(target.stage_create)
        self._copy_rows(cur, target.copy, target, rows)
        cur.execute(target.stage)
        cur.execute(sql.SQL("TRUNCATE {}").format(target.stage_table))

    def _copied_directly(
        self, cur: psycopg.Cursor[Any], direct: sql.Composed, target: _Target, rows: Sequence[Sequence[Any]]
    ) -> bool:
        """The shortcut for a table with ``on_conflict``: COPY the rows straight into the table, in a savepoint.
        True when the database took every one of them: then no row met an existing key or another row's key, so
        the staging path's ``INSERT ... ON CONFLICT`` would have inserted the same rows. On any refusal the
        savepoint is rolled back and False returned: the staging path then decides, as it always did.
        (``tests/plugins/postgres/test_postgres_sink.py`` compares the two paths.)"""
        try:
            with cur.connection.transaction():
                self._copy_rows(cur, direct, target, rows)
        except _REFUSALS:
            return False
        return True

    def _copy_rows(
        self, cur: psycopg.Cursor[Any], statement: sql.Composed, target: _Target, rows: Sequence[Sequence[Any]]
    ) -> None:
        with cur.copy(statement) as copy:
            if self.copy_format == "binary":
                copy.set_types(list(target.types))
            for row in rows:
                copy.write_row(row)

    def _rows(
        self, cur: psycopg.Cursor[Any], target: _Target, records: list[Record]
    ) -> tuple[list[Record], list[Sequence[Any]], list[tuple[Record, str]]]:
        """The records kept, their rows, and the records that cannot become rows, with the reason."""
        general = row_builder(target.columns, target.types, self._look_up(cur))
        tables = [self._lookups.get((lookup.table, lookup.key, lookup.value), {}) for lookup in target.lookups]
        return target.rows(records, general, tables)

    def _look_up(self, cur: psycopg.Cursor[Any]) -> LookUp:
        """A column's look-up, from a cache that is read again when a key is missing (a new exhibition)."""

        def look_up(column: Column, value: Any) -> Any:
            lookup = column.lookup
            assert lookup is not None
            if not isinstance(value, Hashable):  # a list or an object from JSON: never a key of the table
                raise RowError(f"column {column.name}: cannot look up {describe_value(value)} in {lookup.table}")
            key = (lookup.table, lookup.key, lookup.value)
            table = self._lookups.get(key)
            if table is None or value not in table:
                table = self._lookups[key] = self._load_lookup(cur, lookup.table, lookup.key, lookup.value)
            if value not in table:
                raise RowError(f"column {column.name}: no row in {lookup.table} with {lookup.key} = {value!r}")
            return table[value]

        return look_up

    # -- internals --

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.conninfo, autocommit=True, connect_timeout=self.connect_timeout)
        except psycopg.OperationalError as exc:
            reason = self._scrub(_one_line(exc))
            if exc.sqlstate in _LOGIN_REFUSED or any(text in reason for text in _LOGIN_REFUSED_TEXT):
                # A wrong password or a missing database does not heal by waiting.
                raise RunError(f"PostgreSQL at {self.where} refused the login: {reason}") from None
            raise TransientError(f"cannot connect to PostgreSQL at {self.where}: {reason}") from None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = self._connect()
        return self._conn

    def _writing(self, fn: Callable[[psycopg.Cursor[Any], bool], T]) -> T:
        """``fn(cur, isolate=False)`` in a transaction; if the database refused a row, roll back and run
        ``fn(cur, isolate=True)`` in a new one, whose savepoints find the refused rows."""
        try:
            return self._in_transaction(lambda cur: fn(cur, False))
        except _Refused:
            return self._in_transaction(lambda cur: fn(cur, True))

    def _in_transaction(self, fn: Callable[[psycopg.Cursor[Any]], T]) -> T:
        conn = self._connection()
        try:
            with conn.transaction(), conn.cursor() as cur:
                return fn(cur)
        except psycopg.Error as exc:
            raise self._classify(exc) from exc

    def _classify(self, exc: psycopg.Error) -> Exception:
        """An outage (retried, on a new connection), a privilege problem (configuration), or a failure."""
        message = f"PostgreSQL at {self.where}: {self._scrub(_one_line(exc))}"
        if is_transient(exc):
            self.close()
            return TransientError(message)
        if exc.sqlstate == "42501":
            return ConfigError(f"{message} (grant the privilege, or create the table beforehand)")
        return RunError(message)

    def _ensure_offsets_table(self) -> None:
        # Created on first use, not at open: a sink that never stores positions needs no CREATE privilege. Not
        # inside the batch's transaction either, which a refused record rolls back.
        if self._offsets_ready:
            return
        try:
            self._positions.create(self._connection())
        except psycopg.Error as exc:
            raise self._classify(exc) from exc
        self._offsets_ready = True

    def _ensure_position_rows(self, pipeline: str, partitions: Sequence[tuple[str, int]]) -> None:
        """Give new partitions their rows in the offsets table, in a transaction of their own (see
        :meth:`PositionsTable.lock`)."""
        new = [tp for tp in partitions if (pipeline, tp) not in self._position_rows]
        if not new:
            return
        self._in_transaction(lambda cur: self._positions.add_rows(cur, pipeline, new))
        self._position_rows.update((pipeline, tp) for tp in new)

    def _prepare(self, conn: psycopg.Connection[Any]) -> list[str]:
        problems: list[str] = []
        for value, spec in self._specs.items():
            table_columns = _describe(conn, spec.table)
            if not table_columns:
                problems.append(f"table {spec.table} does not exist in {self.where}")
                continue
            if spec.columns is None:
                columns = tuple(default_column(n) for n, (_, has_default) in table_columns.items() if not has_default)
            else:
                columns = spec.columns
            missing = [c.name for c in columns if c.name not in table_columns]
            if missing:
                problems.append(f"table {spec.table} has no column {', '.join(missing)}")
                continue
            for c in columns:
                if c.lookup is not None and not _describe(conn, c.lookup.table):
                    problems.append(f"column {c.name}: lookup table {c.lookup.table} does not exist")
            names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
            fmt = sql.SQL(" (FORMAT BINARY)" if self.copy_format == "binary" else "")
            stage = stage_table = stage_create = direct = None
            into: sql.Composable = spec.identifier
            if spec.on_conflict != "error":
                stage_table = sql.Identifier(f"_lmnh_stage_{len(self._targets)}_{spec.table.replace('.', '_')}")
                action: sql.Composable = sql.SQL("DO NOTHING")
                if spec.on_conflict == "update":
                    updates = [c.name for c in columns if c.name not in spec.conflict_key]
                    action = sql.SQL("DO UPDATE SET {}").format(
                        sql.SQL(", ").join(
                            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in updates
                        )
                    )
                key = sql.SQL(", ").join(sql.Identifier(k) for k in spec.conflict_key)
                # A key twice in one batch: the last row wins (ctid follows the order rows were copied in), as
                # one INSERT ... ON CONFLICT DO UPDATE cannot touch a row twice.
                stage = sql.SQL(
                    "INSERT INTO {} ({}) SELECT {} FROM "
                    "(SELECT DISTINCT ON ({}) * FROM {} ORDER BY {}, ctid DESC) AS s "
                    "ON CONFLICT ({}) {}"
                ).format(spec.identifier, names, names, key, stage_table, key, key, action)
                # The mapped columns' types only: the table's other columns (an identity key, say) and its
                # constraints stay with the table, and check the rows when they are inserted from here.
                stage_create = sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA"
                ).format(stage_table, names, spec.identifier)
                into = stage_table
                if copies_directly(conn, spec):
                    direct = sql.SQL("COPY {} ({}) FROM STDIN{}").format(spec.identifier, names, fmt)
            types = tuple(table_columns[c.name][0] for c in columns)
            rows, lookups = batch_rows(columns, types)
            self._targets[value] = _Target(
                spec=spec,
                columns=columns,
                types=types,
                copy=sql.SQL("COPY {} ({}) FROM STDIN{}").format(into, names, fmt),
                stage=stage,
                stage_table=stage_table,
                stage_create=stage_create,
                direct=direct,
                rows=rows,
                lookups=lookups,
            )
        return problems

    def _load_lookup(self, cur: psycopg.Cursor[Any], table: str, key: str, value: str) -> dict[Any, Any]:
        ident = sql.SQL(".").join(sql.Identifier(p) for p in table.split("."))
        cur.execute(sql.SQL("SELECT {}, {} FROM {}").format(sql.Identifier(key), sql.Identifier(value), ident))
        return dict(cur.fetchall())


def copies_directly(conn: psycopg.Connection[Any], spec: TableSpec) -> bool:
    """Whether a table with ``on_conflict`` may take a batch by plain COPY when none of its rows conflicts
    (:meth:`PostgresSink._copied_directly`): a unique index on exactly the conflict key arbitrates, as it does for
    ``ON CONFLICT`` (else that fails, and so must every batch), and no constraint is deferred to the commit, where
    a refusal would come after the choice was made."""
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = to_regclass(%s) AND i.indisunique "
        "AND i.indpred IS NULL AND i.indexprs IS NULL AND (SELECT array_agg(a.attname::text ORDER BY a.attname) "
        "FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)) = %s::text[]) "
        "AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conrelid = to_regclass(%s) AND c.condeferrable)",
        (spec.table, sorted(spec.conflict_key), spec.table),
    ).fetchone()
    return bool(row and row[0])


def _describe(conn: psycopg.Connection[Any], table: str) -> dict[str, tuple[str, bool]]:
    """column -> (type name, has a default or is generated), in table order; empty when there is no table."""
    rows = conn.execute(
        "SELECT a.attname, t.typname, (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (table,),
    ).fetchall()
    return {name: (type_name, has_default) for name, type_name, has_default in rows}


def _one_line(exc: BaseException) -> str:
    """The error's message on one line: its lines (psycopg's hint, a DETAIL) joined with ``; ``."""
    lines = (" ".join(line.split()) for line in str(exc).splitlines())
    return "; ".join(line for line in lines if line)
