"""The optional HTTP endpoint: ``/metrics`` (Prometheus), ``/healthz`` (the process runs), ``/ready``."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from .metrics import Metrics
from .options import option_doc

__all__ = ["HttpOptions", "MetricsServer"]

log = logging.getLogger("lmnh_pipes.http")


def _address(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"address must be HOST:PORT, such as 127.0.0.1:9108, found {value!r}")


@attrs.frozen(kw_only=True)
class HttpOptions:
    """The ``http:`` mapping of a pipeline file: where to serve metrics and health."""

    address: str = attrs.field(
        default="127.0.0.1:9108",
        validator=_address,
        metadata=option_doc("HOST:PORT to serve on (port 0: any free one)"),
    )


@attrs.define
class MetricsServer:
    """Serves ``metrics`` in a daemon thread until ``close``."""

    options: HttpOptions
    metrics: Metrics
    _server: ThreadingHTTPServer | None = attrs.field(default=None, init=False)

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self._server is not None
        return int(self._server.server_address[1])

    def open(self) -> None:
        host, _, port = self.options.address.rpartition(":")
        metrics = self.metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
                elif self.path == "/healthz":
                    self._send(200, "ok\n", "text/plain")
                elif self.path == "/ready":
                    ready = metrics.ready
                    self._send(200 if ready else 503, "ready\n" if ready else "not ready\n", "text/plain")
                else:
                    self._send(404, "not found\n", "text/plain")

            def _send(self, code: int, body: str, content_type: str) -> None:
                data = body.encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http: " + format, *args)

        self._server = ThreadingHTTPServer((host, int(port)), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="lmnh-pipes-http", daemon=True).start()
        log.info("serving /metrics, /healthz and /ready on %s:%d", host, self.port)

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
