"""A small threaded TCP proxy for fault tests: 127.0.0.1:port -> 127.0.0.1:upstream.

``cut()`` drops every live connection and stops listening, so new connections are refused; ``restore()`` listens
again on the same port. The broker behind it keeps running and keeps its data: only the network is cut.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.fixtures.kafka import free_port

__all__ = ["Proxy"]

_BUFFER = 1 << 16


class Proxy:
    """Forward 127.0.0.1:``port`` to 127.0.0.1:``upstream``, one pair of pump threads per connection."""

    def __init__(self, upstream: int, port: int | None = None) -> None:
        self.upstream = upstream
        self.port = port or free_port()
        self.accepted = 0  # connections forwarded since the start, for tests that check clients came back
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._listening = threading.Event()

    def __enter__(self) -> Proxy:
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def is_cut(self) -> bool:
        return not self._listening.is_set()

    def restore(self) -> None:
        """Listen (again) on ``port`` and forward every new connection."""
        if self._listening.is_set():
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)  # so that the accept loop notices a cut promptly
        self._listener = listener
        self._listening.set()
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), name="proxy-accept", daemon=True)
        self._acceptor.start()

    def cut(self) -> None:
        """Stop listening (new connections are refused) and drop every live connection at once."""
        self._listening.clear()
        if self._acceptor is not None:
            self._acceptor.join(5)
            self._acceptor = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            live, self._live = self._live, set()
        for s in live:
            _drop(s)

    def _accept(self, listener: socket.socket) -> None:
        while self._listening.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                _drop(client)
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                if not self._listening.is_set():  # cut while this connection was being made
                    _drop(client)
                    _drop(server)
                    return
                self._live |= {client, server}
                self.accepted += 1
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), name="proxy-pump", daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            with contextlib.suppress(OSError):  # a cut, or either end closed: both are dropped below
                while data := src.recv(_BUFFER):
                    dst.sendall(data)
        finally:
            with self._lock:
                self._live.discard(src)
                self._live.discard(dst)
            _drop(src)
            _drop(dst)


def _drop(s: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other side
        s.shutdown(socket.SHUT_RDWR)
    s.close()
