"""The tests' fake servers (tests/quiet_http.py): a client hanging up mid-answer prints nothing
into captured output; any other error in a handler is still printed."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from quiet_http import QuietHTTPServer


class Watched(QuietHTTPServer):
    """Sets `handled` once handle_error has run (a test waits on it, never sleeps)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.handled = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        try:
            super().handle_error(request, client_address)
        finally:
            self.handled.set()


class Endless(BaseHTTPRequestHandler):
    """An answer longer than any client reads: writes until the client is gone."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 40))
        self.end_headers()
        for _ in range(1 << 20):  # bounded all the same: 64 GiB
            self.wfile.write(bytes(65536))

    def log_message(self, *args: object) -> None:
        pass


class Buggy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        raise ValueError("a bug in the fake")

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[Watched]:
    server = Watched(handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def ask(server: Watched, *, hang_up: bool) -> None:
    with socket.create_connection(server.server_address[:2], timeout=30) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        client.recv(4096)  # the answer has begun (or the connection was closed)
        if hang_up:  # a reset, not a polite close: the server's next write fails at once
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_client_hanging_up_mid_answer_prints_nothing(capsys: pytest.CaptureFixture) -> None:
    with serving(Endless) as server:
        ask(server, hang_up=True)
        assert server.handled.wait(30)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_any_other_error_in_a_handler_is_still_printed(capsys: pytest.CaptureFixture) -> None:
    with serving(Buggy) as server:
        ask(server, hang_up=False)
        assert server.handled.wait(30)
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: a bug in the fake" in err
