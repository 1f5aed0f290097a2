"""Real network components for failure tests: a TLS `imap serve` with a throwaway CA, an HTTP
CONNECT proxy run as its own process, and `imap` run as a subprocess.

Run as a script, this module is the proxy:
    python netfaults.py proxy --log FILE [--mode open|auth|deny] [--map HOST=ADDR]
or `imap` with its retry waits counted (what `imap()` below runs):
    python netfaults.py imap WAITS_FILE ARGS...
It prints its port on the first line of stdout, then serves until killed. Every request it
receives is appended to the log file as `METHOD TARGET`.
- open: tunnels CONNECT host:port (and forwards plain-http absolute-form requests).
- auth: answers 407 unless `Proxy-Authorization: Basic base64(user:secret)` is sent.
- deny: answers 403 to every CONNECT.
--map sends a host name to another address (the client never resolves names it proxies).
"""

from __future__ import annotations

import argparse
import base64
import os
import select
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROXY_USER = "user"
PROXY_SECRET = "proxy-pass-4711"
# Names that never resolve (RFC 6761), so only the proxy's --map can reach them.
PROXIED_HOST = "imap-sdc.invalid"


# --- the TLS server ---------------------------------------------------------------------------


@dataclass
class TLS:
    """A throwaway CA, a server context with a certificate it issued, and the CA file."""

    ca_file: Path
    context: ssl.SSLContext


def make_tls(folder: Path) -> TLS:
    """A CA (written to folder/ca.pem) and a server certificate for loopback and PROXIED_HOST."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost", PROXIED_HOST)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return TLS(ca_file=ca_file, context=context)


# --- running imap -----------------------------------------------------------------------------


@dataclass
class Result:
    """What `imap` did: exit code, streams, and how many retry waits it asked for."""

    code: int
    out: str
    err: str
    waits: int


def imap(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
    """Run `python -m imap_cli ARGS` with `env` merged over os.environ (None values removed),
    counting the waits of its retry policy (what "fails fast" means: none)."""
    full = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    with tempfile.TemporaryDirectory() as folder:
        waits = Path(folder) / "waits"
        proc = subprocess.run(
            [sys.executable, __file__, "imap", str(waits), *args],
            capture_output=True,
            text=True,
            env=full,
            timeout=timeout,  # a deadlock guard
        )
        count = len(waits.read_text().splitlines()) if waits.exists() else 0
    return Result(proc.returncode, proc.stdout, proc.stderr, count)


def _run_imap(waits: str, argv: list[str]) -> None:
    """`python -m imap_cli ARGV`, adding a line to the file `waits` for each retry wait."""
    import runpy

    from imap_cli.core.retry import RetryPolicy

    wait = RetryPolicy.wait

    def counted(self: RetryPolicy, attempt: int, retry_after_s: float | None = None) -> None:
        with open(waits, "a") as log:
            log.write(f"attempt {attempt}, Retry-After {retry_after_s}\n")
        wait(self, attempt, retry_after_s)

    RetryPolicy.wait = counted  # type: ignore[method-assign]
    sys.argv = [sys.argv[0], *argv]
    runpy.run_module("imap_cli", run_name="__main__", alter_sys=True)


# --- the proxy --------------------------------------------------------------------------------


@dataclass
class Proxy:
    """A running proxy process."""

    url: str
    log: Path
    proc: subprocess.Popen

    def seen(self) -> list[str]:
        """Every `METHOD TARGET` the proxy received so far."""
        return self.log.read_text().splitlines() if self.log.exists() else []


@contextmanager
def run_proxy(
    folder: Path, mode: str = "open", maps: dict[str, str] | None = None
) -> Iterator[Proxy]:
    """Start the proxy process; stop it after the block."""
    log = folder / f"proxy-{mode}.log"
    args = [sys.executable, __file__, "proxy", "--log", str(log), "--mode", mode]
    for host, addr in (maps or {}).items():
        args += ["--map", f"{host}={addr}"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())  # the proxy prints its port once it listens
        yield Proxy(url=f"http://127.0.0.1:{port}", log=log, proc=proc)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


class _ProxyHandler(socketserver.StreamRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.connection.recv(65536)
            if not chunk:
                return
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        with open(self.server.log, "a") as log:
            log.write(f"{method} {target}\n")
        mode = self.server.mode
        if mode == "deny":
            self._answer(b"403 Forbidden")
            return
        if mode == "auth":
            wanted = base64.b64encode(f"{PROXY_USER}:{PROXY_SECRET}".encode()).decode()
            if headers.get("proxy-authorization") != f"Basic {wanted}":
                self._answer(
                    b"407 Proxy Authentication Required",
                    b'Proxy-Authenticate: Basic realm="test"\r\n',
                )
                return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = self._open(host, int(port))
            if upstream is None:
                return
            self.connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self._pump(upstream, rest)
        else:  # plain http, absolute form: pass the request on as it is
            from urllib.parse import urlsplit

            parts = urlsplit(target)
            upstream = self._open(parts.hostname or "", parts.port or 80)
            if upstream is None:
                return
            upstream.sendall(head + b"\r\n\r\n")
            self._pump(upstream, rest)

    def _open(self, host: str, port: int) -> socket.socket | None:
        host = self.server.maps.get(host, host)
        try:
            return socket.create_connection((host, port), timeout=10)
        except OSError:
            self._answer(b"502 Bad Gateway")
            return None

    def _answer(self, status: bytes, extra: bytes = b"") -> None:
        self.connection.sendall(
            b"HTTP/1.1 "
            + status
            + b"\r\n"
            + extra
            + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )

    def _pump(self, upstream: socket.socket, pending: bytes) -> None:
        client = self.connection
        if pending:
            upstream.sendall(pending)
        try:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 30)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, log: str, mode: str, maps: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.log, self.mode, self.maps = log, mode, maps


def _main() -> None:
    if sys.argv[1:2] == ["imap"]:
        _run_imap(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["proxy"])
    parser.add_argument("--log", required=True)
    parser.add_argument("--mode", default="open", choices=["open", "auth", "deny"])
    parser.add_argument("--map", action="append", default=[])
    args = parser.parse_args()
    maps = dict(item.split("=", 1) for item in args.map)
    server = _ProxyServer(args.log, args.mode, maps)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _main()
