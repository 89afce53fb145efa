"""Fixtures for the file components: the S3 server (from tests/fixtures/s3.py) and a local HTTP server."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.s3 import s3, s3_server  # noqa: F401 -- fixtures used by the tests here


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP by a real server in a thread: (the directory, its base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    """Write bytes (compressed by the suffix: .gz, .bz2, .xz) to a file under tmp_path; return its path."""

    def _write(name: str, data: bytes, root: Path = tmp_path) -> Path:
        import bz2
        import gzip
        import lzma

        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        compressors: dict[str, Callable[[bytes], bytes]] = {
            ".gz": gzip.compress,
            ".bz2": bz2.compress,
            ".xz": lzma.compress,
        }
        compress = compressors.get(path.suffix)
        path.write_bytes(compress(data) if compress else data)
        return path

    return _write
