"""Fault tests against real servers: a Tansu broker (behind a TCP proxy where the network is cut) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.kafka import Tansu, start_tansu, tansu, topic_name  # noqa: F401 -- fixtures used by the tests here
from tests.fixtures.postgres import pg_dsn, pg_server  # noqa: F401

from .proxy import Proxy


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Tansu, Proxy]]:
    """A broker of the test's own, behind a proxy: it advertises the proxy's address, so a client that also
    bootstraps from ``proxy.address`` reaches it only through the proxy. (``broker.bootstrap`` goes round it.)"""
    with Proxy(upstream=0) as proxy:
        broker = start_tansu(tmp_path, advertise=f"tcp://{proxy.address}")
        proxy.upstream = broker.port
        try:
            yield broker, proxy
        finally:
            broker.stop()
