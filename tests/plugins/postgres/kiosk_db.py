"""The museum schema and sink settings, shared by the PostgreSQL tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = (ROOT / "examples" / "lmnh" / "schema.sql").read_text()
EXHIBITIONS = sorted((ROOT / "examples" / "lmnh" / "exhibitions").glob("lmnh_exhibition_*.json"))

LOOKUP = {"table": "exhibition", "key": "exhibition_public_id", "value": "exhibition_id"}
TABLES: dict[str, Any] = {
    "rating": {
        "table": "rating_interaction",
        "columns": {"exhibition_id": {"path": "exhibition", "lookup": LOOKUP}, "rating_id": "val", "event_at": "at"},
    },
    "request": {
        "table": "request_interaction",
        "columns": {"exhibition_id": {"path": "exhibition", "lookup": LOOKUP}, "request_id": "type", "event_at": "at"},
    },
}


def exhibition_rows() -> list[tuple[Any, ...]]:
    """The six exhibition files as rows of exhibition_file, whose INSERT fills the other museum tables."""
    rows = []
    for path in EXHIBITIONS:
        e = json.loads(path.read_text())
        rows.append(
            (e["EXHIBITION_ID"], e["EXHIBITION_NAME"], e["FLOOR"], e["DEPARTMENT"], e["START_DATE"], e["DESCRIPTION"])
        )
    return rows


def create_schema(dsn: str) -> None:
    """The seven tables, the rejects table, and the six exhibitions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        for row in exhibition_rows():
            conn.execute("INSERT INTO exhibition_file VALUES (%s, %s, %s, %s, %s, %s)", row)


def rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query).fetchall()
