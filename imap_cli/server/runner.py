"""start_server(): the API and object host on threaded werkzeug servers, in daemon threads."""

from __future__ import annotations

import collections
import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer

from imap_cli.server.api import ApiApp
from imap_cli.server.catalogue import Catalogue
from imap_cli.server.config import ServerConfig, WSGIApp
from imap_cli.server.guard import GuardedServer, Limits, handler_class
from imap_cli.server.objects import ObjectApp
from imap_cli.server.signing import BUCKET, LOGGED_CHARS, Signer, cut, masked_query

# What a RequestRecord keeps of a request, so that no client can make the record large: the
# headers tests look at (credentials that reach the object host, ranges, lengths), each cut.
RECORDED_HEADERS = frozenset(
    {
        "accept", "accept-encoding", "authorization", "connection", "content-length",
        "content-md5", "content-type", "host", "if-match", "if-modified-since",
        "if-none-match", "if-range", "if-unmodified-since", "range", "transfer-encoding",
        "user-agent", "x-api-key",
    }
)  # fmt: skip
RECORDED_CHARS = 256  # of each header value
RECORDED_TARGET_CHARS = 2048  # of a path, of a query string
MAX_RECORDS = 10_000
MAX_RECORD_BYTES = 8 * 1024 * 1024  # all records together, roughly


@dataclass
class RequestRecord:
    """One request as the server saw it (for tests): which origin, what, which headers (only
    RECORDED_HEADERS, each cut to RECORDED_CHARS; path and query cut too)."""

    origin: str  # "api" or "objects"
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    status: int | None = None
    sent: int = 0

    def weight(self) -> int:
        """Roughly the bytes this record holds."""
        return 200 + len(self.path) + len(self.query) + sum(map(len, self.headers.values()))


class RequestLog(collections.deque):
    """The records of the latest requests, newest last: at most MAX_RECORDS of them and about
    MAX_RECORD_BYTES in all (the oldest go first)."""

    def __init__(self, max_records: int = MAX_RECORDS, max_bytes: int = MAX_RECORD_BYTES) -> None:
        super().__init__()
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.bytes = 0
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:  # type: ignore[override]
        with self._lock:
            super().append(record)
            self.bytes += record.weight()
            while self and (len(self) > self.max_records or self.bytes > self.max_bytes):
                self.bytes -= self.popleft().weight()


@dataclass
class RunningServer:
    """A running `imap serve`. Use as a context manager, or call stop()."""

    url: str  # API base, e.g. http://127.0.0.1:PORT
    objects_url: str  # object host base (== url when objects share the API origin)
    root: Path
    catalogue: Catalogue
    config: ServerConfig
    requests: RequestLog = field(repr=False)  # RequestRecord, newest last (bounded)
    operations: Any = field(default=None, repr=False)  # server.operations.Operations: queued
    # reprocess requests (.reprocess_requests), for tests
    _servers: list[BaseWSGIServer] = field(repr=False, default_factory=list)
    _threads: list[threading.Thread] = field(repr=False, default_factory=list)

    @property
    def port(self) -> int:
        """The API port."""
        return self._servers[0].port

    @property
    def api_key(self) -> str | None:
        """The key /api-key/... routes require (None: open)."""
        return self.config.api_key

    @property
    def access_token(self) -> str | None:
        """The bearer token /authorized/... routes accept."""
        return self.config.access_token

    def rescan(self) -> None:
        """Re-index changed folders now (files dropped in by hand appear)."""
        self.catalogue.refresh(force=True)

    def stop(self) -> None:
        """Stop accepting requests, close the sockets and wait for the serving threads."""
        # Shut the servers down together: each shutdown waits up to one poll interval.
        stoppers = [threading.Thread(target=server.shutdown) for server in self._servers]
        for stopper in stoppers:
            stopper.start()
        for server in self._servers:
            _poke(server)
        for stopper in stoppers:
            stopper.join()
        for server in self._servers:
            server.server_close()
            server.wait_idle(2.0)
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _poke(server: BaseWSGIServer) -> None:
    """Wake a server's select() so that a pending shutdown is seen at once."""
    try:
        address = server.socket.getsockname()
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(address[0], address[0])
        with socket.create_connection((host, address[1]), timeout=1):
            pass
    except OSError:
        pass  # it will notice within one poll interval


class LoggedApp:
    """WSGI wrapper: one log line per request, and a RequestRecord for tests."""

    def __init__(
        self,
        origin: str,
        app: WSGIApp,
        log: Callable[[str], None] | None,
        records: RequestLog,
    ) -> None:
        self.origin = origin
        self.app = app
        self.log = log
        self.records = records

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        began = time.perf_counter()
        headers = {}
        for name, value in environ.items():
            if name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                header = name.removeprefix("HTTP_").replace("_", "-").lower()
                if header in RECORDED_HEADERS and value:
                    headers[header] = cut(value, RECORDED_CHARS)
        record = RequestRecord(
            origin=self.origin,
            method=environ.get("REQUEST_METHOD", "")[:16],
            path=cut(environ.get("PATH_INFO", ""), RECORDED_TARGET_CHARS),
            query=cut(environ.get("QUERY_STRING", ""), RECORDED_TARGET_CHARS),
            headers=headers,
        )
        self.records.append(record)

        def recording_start_response(status: str, headers: list, exc_info: Any = None):
            record.status = int(status.split(None, 1)[0])
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording_start_response)
        try:
            for chunk in body:
                record.sent += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            self._write(record, began)

    def _write(self, record: RequestRecord, began: float) -> None:
        if self.log is None:
            return
        elapsed = (time.perf_counter() - began) * 1000
        target = cut(record.path, LOGGED_CHARS)
        if record.query:
            # Object URLs carry signatures: never logged. Key-like API parameters are masked.
            target += "?..." if self.origin == "objects" else f"?{masked_query(record.query)}"
        # A path can carry %0A and friends: escape them so one request stays one line.
        target = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in target)
        now = dt.datetime.now().strftime("%H:%M:%S")
        self.log(
            f"[{now}] {self.origin} {record.method} {target} {record.status or '-'} "
            f"{record.sent}B {elapsed:.1f}ms"
        )


class SameOrigin:
    """Routes /<bucket>/... to the object app, everything else to the API app."""

    def __init__(self, api: WSGIApp, objects: WSGIApp) -> None:
        self.api = api
        self.objects = objects

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        if environ.get("PATH_INFO", "").startswith(f"/{BUCKET}/"):
            return self.objects(environ, start_response)
        return self.api(environ, start_response)


def log_writer(stream: IO[str] | None) -> Callable[[str], None] | None:
    if stream is None:
        return None
    lock = threading.Lock()

    def write(line: str) -> None:
        with lock:
            try:
                stream.write(line + "\n")
                stream.flush()
            except (OSError, ValueError):  # a closed stream must not kill a request
                pass

    return write


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket; raises OSError (werkzeug would print and sys.exit instead)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name != "nt":  # on Windows SO_REUSEADDR would let two servers share a port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _make_server(
    config: ServerConfig, listener: socket.socket, app: WSGIApp, handler: type
) -> BaseWSGIServer:
    """A guarded threaded server on an already listening socket (werkzeug dups the fd)."""
    return GuardedServer(
        config.host,
        listener.fileno(),
        app,
        handler,
        _limits(config),
        config.ssl_context,
        port=listener.getsockname()[1],
    )


def _limits(config: ServerConfig) -> Limits:
    return Limits(
        socket_timeout=config.socket_timeout,
        header_timeout=config.header_timeout,
        min_body_rate=config.min_body_rate,
        max_connections=config.max_connections,
        max_connections_per_client=config.max_connections_per_client,
    )


def public_bases(config: ServerConfig, api_port: int, objects_port: int | None) -> tuple[str, str]:
    """The API's and the object host's base URLs as signed URLs name them: the configured
    public URLs, else the listening address (never a request's Host header)."""
    api = (config.public_url or config.url(api_port)).rstrip("/")
    if config.public_objects_url:
        return api, config.public_objects_url.rstrip("/")
    if objects_port is None:
        return api, api
    if config.public_url:  # the same host, on the object port
        parts = urlsplit(api)
        host = parts.hostname or config.url_host
        host = f"[{host}]" if ":" in host else host
        return api, f"{parts.scheme}://{host}:{objects_port}"
    return api, config.url(objects_port)


def _servers(
    config: ServerConfig,
    catalogue: Catalogue,
    api_listener: socket.socket,
    objects_listener: socket.socket | None,
    write: Callable[[str], None] | None,
) -> tuple[list[BaseWSGIServer], RequestLog, Any]:
    """The API server (first), the object server (if on its own port), and the request log."""
    handler = handler_class(write or (lambda _line: None), _limits(config))
    records = RequestLog()
    objects_port = objects_listener.getsockname()[1] if objects_listener is not None else None
    _api_base, objects_base = public_bases(config, api_listener.getsockname()[1], objects_port)
    front, logged_objects, api = logged_apps(
        config, catalogue, Signer(), objects_base, write, records
    )
    if objects_listener is None:
        front = SameOrigin(front, logged_objects)
    servers = [_make_server(config, api_listener, front, handler)]
    if objects_listener is not None:
        servers.append(_make_server(config, objects_listener, logged_objects, handler))
    return servers, records, api.operations


def logged_apps(
    config: ServerConfig,
    catalogue: Catalogue,
    signer: Signer,
    objects_base: str,
    write: Callable[[str], None] | None,
    records: RequestLog,
) -> tuple[WSGIApp, WSGIApp, ApiApp]:
    """The API's and the object host's WSGI apps, each in its configured middleware and
    logged; and the ApiApp itself."""
    object_app: WSGIApp = ObjectApp(catalogue, signer, config)
    if config.objects_middleware is not None:
        object_app = config.objects_middleware(object_app)
    api = ApiApp(config, catalogue, signer, objects_base=objects_base, log=write)
    from imap_cli.server.poda import with_poda

    api_app: WSGIApp = with_poda(api, config.root, config.poda_credentials)
    if config.api_middleware is not None:
        api_app = config.api_middleware(api_app)
    logged = LoggedApp("api", api_app, write, records)
    return logged, LoggedApp("objects", object_app, write, records), api


def _serve_in_threads(servers: list[BaseWSGIServer]) -> list[threading.Thread]:
    threads = []
    for server in servers:
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.5},
            daemon=True,
            name=f"imap-serve-{server.port}",
        )
        thread.start()
        threads.append(thread)
    return threads


def open_catalogue(config: ServerConfig, write: Callable[[str], None] | None) -> Catalogue:
    """The kept catalogue of `config.root`, brought up to date (only what changed since the
    last run is re-indexed)."""
    catalogue = Catalogue(
        Path(config.root),
        rescan_interval=config.rescan_interval,
        log=write,
        # Temporary files of uploads cut short by a crash or a kill; a live upload writes
        # at least once per socket_timeout, so its file is never this old.
        stale_parts_after=2 * config.socket_timeout,
    )
    catalogue.update()
    return catalogue


def start(
    config: ServerConfig, *, log: IO[str] | None = None, catalogue: Catalogue | None = None
) -> RunningServer:
    """Bring the catalogue of `config.root` up to date and serve it as an SDC look-alike;
    returns once both ports accept requests.

    - log: a text stream for the access log and misfit report (None: silent).
    - catalogue: an already-built Catalogue to serve instead of the root's kept one.

    Servers are threaded werkzeug servers in daemon threads; an OSError (e.g. the port is in
    use) propagates from here.
    """
    write = log_writer(log)
    # Bind first: a port in use fails fast, before a long scan.
    listeners: list[socket.socket] = []
    try:
        api_listener = _listen(config.host, config.port)
        listeners.append(api_listener)
        objects_listener = None
        if config.objects_port is not None:
            objects_listener = _listen(config.host, config.objects_port)
            listeners.append(objects_listener)
        if catalogue is None:
            catalogue = open_catalogue(config, write)
        servers, records, operations = _servers(
            config, catalogue, api_listener, objects_listener, write
        )
    finally:
        for listener in listeners:  # werkzeug holds duplicates of these descriptors
            listener.close()
    threads = _serve_in_threads(servers)
    urls = [config.url(server.port) for server in servers]
    # url, objects_url (the API's when objects share its origin), root, catalogue, config,
    # requests, operations, _servers, _threads
    return RunningServer(urls[0], urls[-1], catalogue.root, catalogue, config, records,
                         operations, servers, threads)  # fmt: skip


def start_server(
    root: Path | str,
    *,
    log: IO[str] | None = None,
    catalogue: Catalogue | None = None,
    **options: Any,
) -> RunningServer:
    """`start(ServerConfig(root, **options), log=log, catalogue=catalogue)`: serve `root`;
    the options are ServerConfig's fields."""
    return start(ServerConfig(Path(root), **options), log=log, catalogue=catalogue)
