"""A rejects table read back and settled, for ``lmnh-pipes replay``: one job, on the caller's connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import psycopg
from psycopg import sql

from lmnh_pipes import ConfigError, Record, RunError
from lmnh_pipes.records import Rejection, compile_path, make_meta, make_record
from lmnh_pipes.replaying import Settlement, StoredReject

from .rows import converter
from .tables import TableSpec, known_path

__all__ = ["RejectsTable"]

#: The record paths a rejects table can give back, and what a row of it then holds.
_READABLE = frozenset(
    {
        "raw",
        "meta.source",
        "meta.topic",
        "meta.partition",
        "meta.offset",
        "meta.key",
        "meta.timestamp",
        "reject.validator",
        "reject.rule",
        "reject.reason",
        "reject.replays",
    }
)


@attrs.frozen
class RejectsTable:
    """The rejects table of ``spec``: its primary ``key`` column, and each (column, record path) it keeps."""

    spec: TableSpec
    key: str
    key_type: str
    columns: tuple[tuple[str, str, str], ...]  # (name, path, type name)

    @classmethod
    def describe(cls, conn: psycopg.Connection[Any], spec: TableSpec) -> RejectsTable:
        """The table as it is in the database; ConfigError when it cannot be replayed from."""
        rows = conn.execute(
            "SELECT a.attname, t.typname, a.attnum = ANY(i.indkey) AND i.indisprimary "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (spec.table,),
        ).fetchall()
        if not rows:
            raise ConfigError(f"table {spec.table} does not exist")
        types = {name: type_name for name, type_name, _ in rows}
        keys = [name for name, _, primary in rows if primary]
        if len(keys) != 1:
            raise ConfigError(
                f"table {spec.table} needs a one-column primary key for replay "
                "(such as: id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)"
            )
        mapped: list[tuple[str, str | None]] = (
            [(c.name, c.path) for c in spec.columns if c.lookup is None]
            if spec.columns is not None
            else [(name, known_path(name)) for name in types]
        )
        columns = tuple(
            (name, path, types[name]) for name, path in mapped if path in _READABLE and path and name in types
        )
        if not any(path == "raw" for _, path, _ in columns):
            raise ConfigError(f"table {spec.table} keeps no raw column: replay needs each reject's raw bytes")
        return cls(spec=spec, key=keys[0], key_type=types[keys[0]], columns=columns)

    def page(self, conn: psycopg.Connection[Any], after: Any, limit: int) -> list[StoredReject]:
        """Up to ``limit`` rejects after the one whose key is ``after`` (None: from the first), in key order."""
        names = sql.SQL(", ").join(sql.Identifier(n) for n, _, _ in self.columns)
        key = sql.Identifier(self.key)
        where = sql.SQL("") if after is None else sql.SQL("WHERE {} > %s ").format(key)
        query = sql.SQL("SELECT {}, {} FROM {} {}ORDER BY {} LIMIT %s").format(
            key, names, self.spec.identifier, where, key
        )
        args = (limit,) if after is None else (after, limit)
        return [self._stored(row) for row in conn.execute(query, args).fetchall()]

    def _stored(self, row: Sequence[Any]) -> StoredReject:
        got = {path: value for (_, path, _), value in zip(self.columns, row[1:], strict=True)}
        key = got.get("meta.key")
        if isinstance(key, bytes | memoryview):
            key = _text_or_bytes(bytes(key))
        meta = make_meta(
            str(got.get("meta.source") or ""),
            str(got.get("meta.topic") or ""),
            int(got.get("meta.partition") or 0),
            int(got.get("meta.offset") or 0),
            key,
            got.get("meta.timestamp"),
        )
        raw = got.get("raw")
        raw = bytes(raw) if isinstance(raw, bytes | memoryview) else str(raw or "").encode("utf-8")
        record = attrs.evolve(
            make_record(None, raw, meta),
            reject=Rejection(
                validator=str(got.get("reject.validator") or ""),
                rule=str(got.get("reject.rule") or ""),
                reason=str(got.get("reject.reason") or ""),
                replays=int(got.get("reject.replays") or 0),
            ),
        )
        return StoredReject(record=record, handle=row[0])

    def settle(self, cur: psycopg.Cursor[Any], settlement: Settlement) -> None:
        """Delete the accepted and the dropped; rewrite the still-rejected's reasons and replay counts. RunError,
        with nothing changed by the caller's transaction, when any of them changed since it was read."""
        gone = [*settlement.accepted, *settlement.dropped]
        table = self.spec.identifier
        key = sql.Identifier(self.key)
        guard = self._guard()
        if gone:
            cur.execute(
                sql.SQL("DELETE FROM {} AS t USING unnest(%s::{}[], %s::int4[]) AS u(k, n) WHERE t.{} = u.k{}").format(
                    table, sql.SQL(self.key_type), key, guard
                ),
                ([s.handle for s in gone], [_replays(s.record) for s in gone]),
            )
            self._check(cur.rowcount, len(gone))
        if not settlement.rejected:
            return
        updated = [(n, p, t) for n, p, t in self.columns if p.startswith("reject.")]
        sets = sql.SQL(", ").join(
            sql.SQL("{} = u.{}").format(sql.Identifier(n), sql.Identifier(f"c{i}"))
            for i, (n, _, _) in enumerate(updated)
        )
        arrays = sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(t)) for _, _, t in updated)
        aliases = sql.SQL(", ").join(sql.Identifier(f"c{i}") for i in range(len(updated)))
        getters = [(compile_path(p), converter(t)) for _, p, t in updated]
        pairs = settlement.rejected
        cur.execute(
            sql.SQL(
                "UPDATE {} AS t SET {} FROM unnest(%s::{}[], %s::int4[], {}) AS u(k, n, {}) WHERE t.{} = u.k{}"
            ).format(table, sets, sql.SQL(self.key_type), arrays, aliases, key, guard),
            (
                [s.handle for s, _ in pairs],
                [_replays(s.record) for s, _ in pairs],
                *([convert(get(r)) for _, r in pairs] for get, convert in getters),
            ),
        )
        self._check(cur.rowcount, len(pairs))

    def _guard(self) -> sql.Composable:
        """The condition that a row still has the replay count it was read with (when the table counts them)."""
        counted = [n for n, p, _ in self.columns if p == "reject.replays"]
        if not counted:
            return sql.SQL("")
        return sql.SQL(" AND t.{} = u.n").format(sql.Identifier(counted[0]))

    def _check(self, changed: int, expected: int) -> None:
        if changed != expected:
            raise RunError(
                f"{expected - changed} of the rejects replayed changed in {self.spec.table} meanwhile "
                "(another replay?): nothing of this batch was written; replay again"
            )


def _replays(record: Record) -> int:
    return record.reject.replays if record.reject is not None else 0


def _text_or_bytes(data: bytes) -> str | bytes:
    """A key as a record's ``meta`` holds it: text when it is UTF-8, else the bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data
