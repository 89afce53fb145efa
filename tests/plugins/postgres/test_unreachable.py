"""A database that is not there when the run starts: retried for ``retry.startup_timeout`` (not the mid-run
``retry.max_elapsed``), then a one-line reason in which psycopg's lines stay apart."""

from __future__ import annotations

import time

import pytest

from lmnh_pipes import Pipeline, RetryPolicy, RunError, TransientError
from lmnh_pipes.testing import ListSource
from lmnh_pipes_postgres import PostgresSink
from tests.fixtures.kafka import free_port


def nowhere() -> PostgresSink:
    return PostgresSink(host="127.0.0.1", port=free_port(), dbname="museum", user="u", table="t", connect_timeout=2)


def test_a_refused_connection_is_an_outage_whose_reason_keeps_psycopgs_lines_apart():
    with pytest.raises(TransientError) as exc:
        nowhere().open()
    reason = str(exc.value)
    assert "\n" not in reason
    # psycopg's two lines, the refusal and its hint, were run together as "Connection refused Is the server running".
    assert "failed: Connection refused; Is the server running on that host and accepting TCP/IP connections?" in reason


def test_a_database_not_there_at_the_start_fails_the_run_after_startup_timeout():
    started = time.monotonic()
    with pytest.raises(RunError, match=r"opening PostgresSink still failing after \d s: cannot connect to PostgreSQL"):
        Pipeline(
            source=ListSource([b"{}"]),
            sink=nowhere(),
            retry=RetryPolicy(initial=0.05, max_backoff=0.5, max_elapsed=600, startup_timeout=1.5),
        ).run()
    assert 1.5 <= time.monotonic() - started < 6
