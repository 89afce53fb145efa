"""A wrong password, an unreachable broker and an unreachable database: exit 1 within the configured time, one
``error:`` line with the reason, and the password nowhere in the output (not with --traceback, not in DEBUG logs,
not from ``check --online``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import attrs
import pytest
from psycopg.conninfo import make_conninfo

from tests.fixtures.kafka import free_port, start_tansu

from .helpers import Run

PASSWORD = "Zq8-hunter2-Tr0ub4dor"  # distinctive: found only if leaked
MARGIN = 10.0  # seconds on top of the configured time: process start-up on a loaded machine

KAFKA_SASL = """\
source:
  type: kafka
  bootstrap_servers: ${BOOTSTRAP}
  topic: lmnh
  group_id: g
  security_protocol: SASL_PLAINTEXT
  sasl_mechanism: SCRAM-SHA-512
  username: museum
  password: ${PASSWORD}
  connect_timeout: 3
sink:
  type: postgres
  dsn: ${DSN}
  table: kiosk_reject
retry: {startup_timeout: 3}
"""

SIMULATOR_TO_POSTGRES = """\
source: {type: kiosk_simulator, count: 100}
sink:
  type: postgres
  dsn: postgresql://museum:${PASSWORD}@127.0.0.1:1/kiosk
  table: kiosk_reject
retry: {initial: 0.1, max_backoff: 0.5, startup_timeout: 3}
"""


@attrs.frozen
class Case:
    pipeline: str
    reason: str  # in the one error line
    seconds: float  # the configured time to give up
    waits: bool  # whether the run must wait the configured time before giving up


@attrs.frozen
class Outcome:
    code: int
    out: str
    err: str
    seconds: float


def run_all(commands: list[list[str]], env: dict[str, str], cwd: Path) -> list[Outcome]:
    """Run ``commands`` side by side (each alone would take the configured time)."""
    started = time.monotonic()
    procs = [Run(c, env, cwd) for c in commands]
    outcomes = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        outcomes.append(Outcome(p.returncode, out, p.err(), time.monotonic() - started))
    return outcomes


@pytest.fixture
def sasl_broker(tmp_path: Path):
    broker = start_tansu(tmp_path, "--authentication")
    yield broker.bootstrap
    broker.stop()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["wrong password", "unreachable broker", "unreachable database"])
def test_a_failure_to_connect_exits_1_in_time_with_one_line_and_no_password(
    case: str, request: pytest.FixtureRequest, pg_dsn: str, tmp_path: Path
):
    cases = {
        "wrong password": Case(KAFKA_SASL, "SASL authentication failed", 3, waits=False),
        "unreachable broker": Case(KAFKA_SASL, "cannot reach the Kafka broker", 3, waits=True),
        "unreachable database": Case(SIMULATOR_TO_POSTGRES, "127.0.0.1:1", 3, waits=True),
    }
    c = cases[case]
    bootstrap = request.getfixturevalue("sasl_broker") if case == "wrong password" else f"127.0.0.1:{free_port()}"
    (tmp_path / "p.yaml").write_text(c.pipeline)
    env = {
        **os.environ,
        "PASSWORD": PASSWORD,
        "BOOTSTRAP": bootstrap,
        # A database that is up (nothing gets that far), with the password in its DSN.
        "DSN": make_conninfo(pg_dsn, user="museum", password=PASSWORD),
    }
    plain, loud, check = run_all(
        [
            ["run", "p.yaml"],
            ["--log-level", "DEBUG", "run", "p.yaml", "--traceback", "--json"],
            ["check", "p.yaml", "--online"],
        ],
        env,
        tmp_path,
    )
    for outcome in (plain, loud, check):
        assert PASSWORD not in outcome.out + outcome.err, f"the password leaked:\n{outcome.out}\n{outcome.err}"
    assert plain.code == 1, plain.err
    assert loud.code == 1, loud.err
    assert plain.seconds < c.seconds + MARGIN
    if c.waits:
        assert plain.seconds >= c.seconds, "gave up before the configured time"
    errors = [line for line in plain.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, plain.err
    assert c.reason in errors[0]
    assert plain.err.strip().splitlines()[-1] == errors[0], "the error is not the last word"
    assert check.code == 2, check.err
    assert "error:" in check.err


@pytest.mark.parametrize("missing", ["role", "database"])
def test_a_database_that_refuses_the_login_is_not_retried_as_an_outage(missing: str, pg_server: str, tmp_path: Path):
    # The embedded server trusts every local login, so a wrong password cannot be tried; an unknown role fails the
    # same way (FATAL at login, SQLSTATE class 28), and a database that does not exist (3D000) likewise never heals.
    params = {"user": "no_such_role"} if missing == "role" else {"dbname": "no_such_database"}
    dsn = make_conninfo(pg_server, password=PASSWORD, **params)
    (tmp_path / "p.yaml").write_text(
        SIMULATOR_TO_POSTGRES.replace("postgresql://museum:${PASSWORD}@127.0.0.1:1/kiosk", "${DSN}")
    )
    (plain,) = run_all([["run", "p.yaml"]], {**os.environ, "DSN": dsn}, tmp_path)
    assert PASSWORD not in plain.out + plain.err
    assert plain.code == 1, plain.err
    errors = [line for line in plain.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, plain.err
    assert f"no_such_{missing}" in errors[0]
    assert "retry" not in plain.err, "a login that the database refused was retried as an outage"
