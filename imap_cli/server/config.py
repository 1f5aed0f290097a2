"""One frozen configuration of `imap serve`, built once (from the CLI's flags or start_server's
arguments) and read by every part of the server."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imap_cli.core.schema import MAX_RESPONSE_BYTES

if TYPE_CHECKING:
    import ssl

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Middleware = Callable[[WSGIApp], WSGIApp]


@dataclass(frozen=True)
class ServerConfig:
    """How one server runs.

    - root: a folder laid out like the SDC (imap/<inst>/<level>/<YYYY>/<MM>/<file>, ...).
    - host/port: where the API listens (port 0: a free port).
    - api_key: when set, /api-key/... needs `x-api-key: <api_key>` (else 403), /authorized/...
      answers 401 unless `access_token` is set and sent as `Authorization: Bearer <token>`,
      and uploads are routed only under those prefixes. None: everything is open.
    - objects_port: 0 puts the object host (presigned URLs) on its own free port, a separate
      origin as S3 is; N uses port N; None serves objects on the API origin under /<bucket>/.
    - latency: seconds added to every API route call (not object transfers), for benchmarks.
    - api_middleware / objects_middleware: `f(wsgi_app) -> wsgi_app`, wrapped around the API
      app / object app for fault injection (drop connections, answer 503, truncate bodies...).
    - url_expiry / upload_expiry: lifetime in seconds of download URLs (86400) and upload
      URLs (3600), as the SDC's; a negative value gives URLs that have already expired.
    - rescan_interval: seconds between checks for files dropped in by hand (0: before every
      API request; None: only on `.rescan()`). Uploads are always indexed at once.
    - socket_timeout: seconds a connection may stall mid-request before it is dropped.
    - ssl_context: a server-side SSLContext: both the API and the object host speak https
      (for TLS tests and trials with a private CA); None: plain http.
    - max_response_bytes: API answers larger than this are the gateway's 500, as the SDC's
      (6,291,556 bytes, a Lambda's limit); 0: no limit.
    - pagination: `/query` takes `offset`/`limit` (the newer SDC revision); False: they are
      unknown parameters (400), as on most deployments.
    """

    root: Path
    host: str = "127.0.0.1"
    port: int = 0
    objects_port: int | None = 0
    api_key: str | None = None
    access_token: str | None = None
    latency: float = 0.0
    api_middleware: Middleware | None = None
    objects_middleware: Middleware | None = None
    url_expiry: int = 86400
    upload_expiry: int = 3600
    rescan_interval: float | None = 1.0
    socket_timeout: float = 60.0
    ssl_context: ssl.SSLContext | None = None
    max_response_bytes: int = MAX_RESPONSE_BYTES
    pagination: bool = True

    @property
    def url_host(self) -> str:
        """The host as a URL names it: wildcards become loopback, IPv6 gets brackets."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"[{host}]" if ":" in host else host

    def url(self, port: int) -> str:
        """The base URL of a server of this configuration listening on `port`."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.url_host}:{port}"
