"""The museum's PostgreSQL examples against a real server: the catalogue load and `check --online`."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import conninfo_to_dict

from lmnh_pipes.cli import main
from tests.plugins.postgres.kiosk_db import SCHEMA, rows

ROOT = Path(__file__).resolve().parents[3]


def museum_env(monkeypatch: pytest.MonkeyPatch, dsn: str) -> None:
    """Name the test database in the museum's .env names, which catalogue.yaml reads."""
    params = conninfo_to_dict(dsn)
    monkeypatch.setenv("DB_HOST", str(params.get("host", "localhost")))
    monkeypatch.setenv("DB_PORT", str(params.get("port", 5432)))
    monkeypatch.setenv("DB_NAME", str(params["dbname"]))
    monkeypatch.setenv("DB_USERNAME", str(params.get("user", "postgres")))
    monkeypatch.setenv("DB_PASSWORD", str(params.get("password", "")))


def test_catalogue_loads_idempotently(pg_dsn, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    museum_env(monkeypatch, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
    for _ in range(2):
        result = CliRunner().invoke(main, ["run", "examples/lmnh/catalogue.yaml", "--json"])
        assert result.exit_code == 0, result.output
        assert '"written": 6' in result.output
    exhibitions = rows(
        pg_dsn,
        "SELECT e.exhibition_public_id, f.floor_name, d.department_name, "
        "e.exhibition_start_date::text FROM exhibition e JOIN floor f USING (floor_id) "
        "JOIN department d USING (department_id) ORDER BY 1",
    )
    assert [e[0] for e in exhibitions] == [f"EXH_0{i}" for i in range(6)]
    assert ("EXH_01", "Vault", "Entomology", "2019-07-01") in exhibitions
    assert rows(pg_dsn, "SELECT count(*) FROM floor") == [(len({e[1] for e in exhibitions}),)]


def test_check_online_finds_missing_tables(pg_dsn, monkeypatch):
    monkeypatch.chdir(ROOT)
    museum_env(monkeypatch, pg_dsn)
    result = CliRunner().invoke(main, ["check", "examples/lmnh/catalogue.yaml", "--online"])
    assert result.exit_code == 2
    assert "sink: table exhibition_file does not exist" in result.output
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
    result = CliRunner().invoke(main, ["check", "examples/lmnh/catalogue.yaml", "--online"])
    assert result.exit_code == 0, result.output
