"""Connections held to account: a threaded werkzeug server with caps on connections (in all and
per client address), a deadline for a request's line and headers, a bound on their size, a
minimum body rate, and TLS handshakes done in the connection's own thread under a timeout.

Why not werkzeug's defaults: its socket timeout is per read, so a client trickling a byte every
few seconds holds a thread and a descriptor for as long as it likes; http.server keeps up to 100
header lines of 64 KiB each per request; and an SSL listening socket does the handshake inside
accept(), where one silent client stops the whole server.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

MAX_HEADER_BYTES = 64 * 1024  # a request line and its headers, in all


@dataclass(frozen=True)
class Limits:
    """What one connection may take (see ServerConfig for each)."""

    socket_timeout: float
    header_timeout: float
    min_body_rate: int
    max_connections: int
    max_connections_per_client: int
    max_header_bytes: int = MAX_HEADER_BYTES


class _DeadlineSocketIO(io.RawIOBase):
    """Reads from a socket under a deadline that covers a whole phase, not one read.

    Headers: all of them within `header_timeout`, at most `max_header_bytes`. Body: the bytes
    so far must have arrived at `min_body_rate` after a grace of `socket_timeout` seconds.
    Every read also waits at most `socket_timeout`. A missed deadline is a TimeoutError.
    """

    def __init__(self, sock: socket.socket, limits: Limits) -> None:
        super().__init__()
        self._sock = sock
        self._limits = limits
        self._deadline: Callable[[], float] = lambda: float("inf")
        self._header_bytes: int | None = None
        self.begin_headers()

    def begin_headers(self) -> None:
        """A new request: its line and headers are due within header_timeout."""
        due = time.monotonic() + self._limits.header_timeout
        self._deadline = lambda: due
        self._header_bytes = 0

    def begin_body(self) -> None:
        """The headers are in: from now on the body's average rate counts."""
        began = time.monotonic()
        self._header_bytes = None
        self._body_bytes = 0
        limits = self._limits

        def due() -> float:
            if limits.min_body_rate <= 0:
                return float("inf")
            return began + limits.socket_timeout + self._body_bytes / limits.min_body_rate

        self._deadline = due

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline() - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client was too slow")
        self._sock.settimeout(min(self._limits.socket_timeout, left))
        count = self._sock.recv_into(buffer)
        if self._header_bytes is not None:
            self._header_bytes += count
            if self._header_bytes > self._limits.max_header_bytes:
                raise http.client.LineTooLong("request headers")
        else:
            self._body_bytes += count
        return count


def handler_class(log: Callable[[str], None], limits: Limits) -> type[WSGIRequestHandler]:
    """werkzeug's request handler with our log and the deadlines of `limits`."""

    class Handler(WSGIRequestHandler):
        def setup(self) -> None:
            super().setup()
            self.rfile.close()  # its reference would keep the socket open after close()
            self._reader = _DeadlineSocketIO(self.connection, limits)
            self.rfile = io.BufferedReader(self._reader)

        def handle_one_request(self) -> None:
            self._reader.begin_headers()
            try:
                super().handle_one_request()
            except http.client.LineTooLong:  # the request line alone was too long
                self.close_connection = True
                self.send_error(431)

        def parse_request(self) -> bool:
            parsed = super().parse_request()
            self._reader.begin_body()
            return parsed

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # the access log is written by the runner's wrapper, without query secrets

        def log(self, type: str, message: str, *args: Any) -> None:
            if type == "error":
                text = message % args if args else message
                log(f"{self.address_string()} {text[:200]}")

    Handler.timeout = limits.socket_timeout
    return Handler


class GuardedServer(ThreadedWSGIServer):
    """A threaded werkzeug server that refuses a connection beyond its caps (closed at once,
    so a flood costs no descriptor or thread) and does the TLS handshake in the connection's
    thread, under the header deadline."""

    daemon_threads = True

    def __init__(
        self,
        host: str,
        listener_fd: int,
        app: Any,
        handler: type[WSGIRequestHandler],
        limits: Limits,
        tls: ssl.SSLContext | None,
        port: int,
    ) -> None:
        super().__init__(host, port, app, handler=handler, fd=listener_fd)
        self.limits = limits
        self.tls = tls
        self.ssl_context = tls  # werkzeug reads it for wsgi.url_scheme and SSL errors
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._per_client: dict[str, int] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        client = str(client_address[0]) if client_address else ""
        with self._lock:
            busy = self._active >= self.limits.max_connections
            crowded = self._per_client.get(client, 0) >= self.limits.max_connections_per_client
            if not (busy or crowded):
                self._active += 1
                self._per_client[client] = self._per_client.get(client, 0) + 1
        if busy or crowded:
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread: give the slot back
            self._release(client)
            self.shutdown_request(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        client = str(client_address[0]) if client_address else ""
        try:
            if self.tls is not None:
                request.settimeout(self.limits.header_timeout)
                request = self.tls.wrap_socket(request, server_side=True)
            self.finish_request(request, client_address)
        except (OSError, ssl.SSLError):
            pass  # a handshake that failed or stalled, a client gone: nothing to answer
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._release(client)

    def wait_idle(self, timeout: float) -> None:
        """Wait (at most `timeout` s) until no connection is being served: a stopped server
        has written the log line of every answer it gave."""
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout)

    def _release(self, client: str) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self._idle.notify_all()
            left = self._per_client.get(client, 1) - 1
            if left > 0:
                self._per_client[client] = left
            else:
                self._per_client.pop(client, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the WSGI apps log their own failures; a broken connection is not news
