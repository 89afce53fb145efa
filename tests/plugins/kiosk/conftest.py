"""Fixtures of the kiosk tests: the real exhibition files, a validator with an injected clock, and the catalogue
on a real S3 API (moto's server, started once per session)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lmnh_pipes import Record
from lmnh_pipes_kiosk import KioskValidator

EXHIBITIONS = Path(__file__).resolve().parents[3] / "examples" / "lmnh" / "exhibitions"
#: A "now" after every timestamp the tests use, unless a test says otherwise.
LATER = datetime(2030, 1, 1, tzinfo=UTC)


def fixed(now: datetime) -> Callable[[], datetime]:
    """A clock that always says ``now``."""
    return lambda: now


def message(at: str, site: str = "3", val: int = 2, type_: int | None = None) -> bytes:
    """A message spelled as the kiosks do (json.dumps defaults)."""
    text = f'{{"at": "{at}", "site": "{site}", "val": {val}'
    return (text + ("}" if type_ is None else f', "type": {type_}}}')).encode()


def rule_of(record: Record) -> str:
    """The rule that rejected ``record``, or "" when it was accepted."""
    return record.reject.rule if record.reject is not None else ""


@pytest.fixture
def catalogue() -> str:
    return str(EXHIBITIONS)


@pytest.fixture
def kiosk(catalogue: str) -> KioskValidator:
    validator = KioskValidator(catalogue=catalogue, clock=fixed(LATER))
    validator.open()
    return validator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 API on a free local port (moto's threaded server)."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_catalogue(moto_endpoint: str) -> str:
    """``s3://museum/exhibitions/`` holding the six exhibition files beside unrelated files."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="eu-west-2",
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):  # another fixture of this process made it
        client.create_bucket(Bucket="museum", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    for path in sorted(EXHIBITIONS.glob("lmnh_exhibition_*.json")):
        client.put_object(Bucket="museum", Key=f"exhibitions/{path.name}", Body=path.read_bytes())
    client.put_object(Bucket="museum", Key="exhibitions/README.md", Body=b"# not an exhibition\n")
    client.put_object(Bucket="museum", Key="exhibitions/lmnh_hist_data_0.csv", Body=b"at,site,val,type\n")
    client.put_object(Bucket="museum", Key="exhibitions-old/lmnh_exhibition_gone.json", Body=b"{}")
    return "s3://museum/exhibitions/"


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> str:
    """Point boto3 (and so smart-open) at the moto server, for this test only."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    return moto_endpoint
