"""The offsets table: the next offset of each pipeline's partitions, written in the same transaction as its rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import psycopg
from psycopg import sql

from lmnh_pipes.delivery import Positions

__all__ = ["PositionsTable"]


@attrs.frozen
class PositionsTable:
    """``(pipeline, topic, partition) -> next_offset`` in the table ``name``; -1 before anything was written."""

    name: str

    @property
    def identifier(self) -> sql.Composable:
        return sql.SQL(".").join(sql.Identifier(p) for p in self.name.split("."))

    def create(self, conn: psycopg.Connection[Any]) -> None:
        """Create the table if it does not exist.

        Group members that start together would race: ``CREATE TABLE IF NOT EXISTS`` is not safe against a
        concurrent one, and the loser fails on ``pg_type``'s unique index. A transaction-scoped advisory lock on the
        table's name makes them take turns, and the second one finds the table."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"lmnh_pipes:{self.name}",))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (pipeline text NOT NULL, topic text NOT NULL,"
                    " partition integer NOT NULL, next_offset bigint NOT NULL,"
                    " updated_at timestamptz NOT NULL DEFAULT now(),"
                    " PRIMARY KEY (pipeline, topic, partition))"
                ).format(self.identifier)
            )

    def add_rows(self, cur: psycopg.Cursor[Any], pipeline: str, partitions: Sequence[tuple[str, int]]) -> None:
        """Give each partition a row (at -1) if it has none."""
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (pipeline, topic, partition, next_offset) "
                "SELECT %s, t, p, -1 FROM unnest(%s::text[], %s::int[]) AS u(t, p) ORDER BY t, p "
                "ON CONFLICT DO NOTHING"
            ).format(self.identifier),
            (pipeline, [t for t, _ in partitions], [p for _, p in partitions]),
        )

    def read(self, cur: psycopg.Cursor[Any], pipeline: str, partitions: Sequence[tuple[str, int]]) -> Positions:
        """The stored positions of those of ``partitions`` that have one."""
        cur.execute(
            sql.SQL(
                "SELECT topic, partition, next_offset FROM {} WHERE pipeline = %s AND next_offset >= 0 "
                "AND (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[]))"
            ).format(self.identifier),
            (pipeline, [t for t, _ in partitions], [p for _, p in partitions]),
        )
        return {(t, p): o for t, p, o in cur.fetchall()}

    def lock(self, cur: psycopg.Cursor[Any], pipeline: str, partitions: Sequence[tuple[str, int]]) -> Positions:
        """Lock the rows of ``partitions`` until the transaction ends, giving a row to any that has none, and return
        their positions (-1 for nothing written yet).

        The row locks serialise group members that briefly share a partition during a rebalance: the one that
        commits second sees the first one's position, and skips what the first one wrote. The rows are locked in
        one order (topic, partition), so members never wait for each other in a cycle, as long as the rows exist
        beforehand (:meth:`add_rows` in a transaction of its own); here, only a row deleted meanwhile is added."""
        select = sql.SQL(
            "SELECT topic, partition, next_offset FROM {} WHERE pipeline = %s "
            "AND (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[])) "
            "ORDER BY topic, partition FOR UPDATE"
        ).format(self.identifier)
        args = (pipeline, [t for t, _ in partitions], [p for _, p in partitions])
        cur.execute(select, args)
        rows = cur.fetchall()
        if len(rows) < len(partitions):
            self.add_rows(cur, pipeline, partitions)
            cur.execute(select, args)
            rows = cur.fetchall()
        return {(t, p): o for t, p, o in rows}

    def store(self, cur: psycopg.Cursor[Any], pipeline: str, positions: Positions) -> None:
        """Set the positions (of rows locked by :meth:`lock`)."""
        if not positions:
            return
        cur.execute(
            sql.SQL(
                "UPDATE {} AS o SET next_offset = u.n, updated_at = now() "
                "FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS u(t, p, n) "
                "WHERE o.pipeline = %s AND o.topic = u.t AND o.partition = u.p"
            ).format(self.identifier),
            ([t for t, _ in positions], [p for _, p in positions], list(positions.values()), pipeline),
        )

    def move(self, cur: psycopg.Cursor[Any], pipeline: str, positions: Positions) -> Positions:
        """Set ``positions`` (in the caller's transaction) and return those stored before (none: absent)."""
        before = self.lock(cur, pipeline, sorted(positions))
        self.store(cur, pipeline, positions)
        return {tp: o for tp, o in before.items() if o >= 0}
