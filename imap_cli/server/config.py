"""One frozen configuration of `imap serve`, built once (from the CLI's flags or start_server's
arguments) and read by every part of the server."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imap_cli.core.schema import MAX_RESPONSE_BYTES

if TYPE_CHECKING:
    import ssl

MAX_PUT = 5 * 1024**3  # S3's limit for one PUT

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Middleware = Callable[[WSGIApp], WSGIApp]


@dataclass(frozen=True)
class ServerConfig:
    """How one server runs.

    - root: a folder laid out like the SDC (imap/<inst>/<level>/<YYYY>/<MM>/<file>, ...).
    - host/port: where the API listens (port 0: a free port).
    - api_key / access_token: once either is set, /api-key/... needs `x-api-key: <api_key>`
      (else 403; always 403 without an api_key), /authorized/... needs `Authorization: Bearer
      <access_token>` (else 401; always 401 without a token), and uploads, reprocess and
      release are routed only under those prefixes. Both None: everything is open. An empty
      credential is refused (ConfigProblem).
    - allow_anonymous_writes: without it, a server with no credential listens only on a
      loopback address (anyone who can reach an open server may upload).
    - public_url / public_objects_url: the base URLs that signed URLs point to (e.g. the
      name a team uses behind TLS); default the listening address. The request's Host
      header is never used.
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
    - header_timeout: seconds a client has to send a request's line and headers, in all.
    - min_body_rate: bytes per second an upload body must average (after socket_timeout
      seconds of grace); a slower one is dropped with S3's RequestTimeout.
    - max_connections / max_connections_per_client: connections served at once, in all and
      from one address; more wait in the listen queue (total) or are refused (per client).
    - max_upload_size: bytes one PUT may carry (S3's 5 GiB by default).
    - min_free_space: bytes an upload must leave free on the archive's disk (0: no check).
    - ssl_context: a server-side SSLContext: both the API and the object host speak https
      (for TLS tests and trials with a private CA); None: plain http.
    - max_response_bytes: API answers larger than this are the gateway's 500, as the SDC's
      (6,291,556 bytes, a Lambda's limit); 0: no limit.
    - poda_credentials: "user:password" that the PODA routes (server/poda.py) demand as
      HTTP Basic auth; None: they are open.
    - pagination: `/query` takes `offset`/`limit` (the newer SDC revision); False: they are
      unknown parameters (400), as on most deployments.
    - job_delay: seconds each stage of an emulated reprocess job lasts (queued, then in
      progress, then done: the file re-made); 0: done at the next look. job_polls > 0: a
      stage lasts that many /processing-jobs answers instead (tests). job_failures: fnmatch
      patterns of file names whose jobs fail (their files are not re-made). See
      server/emulation.py.
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
    allow_anonymous_writes: bool = False
    public_url: str | None = None
    public_objects_url: str | None = None
    header_timeout: float = 30.0
    min_body_rate: int = 1024
    max_connections: int = 256
    max_connections_per_client: int = 32
    max_upload_size: int = MAX_PUT
    min_free_space: int = 0
    job_delay: float = 2.0
    job_polls: int = 0
    job_failures: tuple[str, ...] = ()
    poda_credentials: str | None = None

    def __post_init__(self) -> None:
        for name in ("api_key", "access_token"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise ConfigProblem(name, "is empty")
        if self.anonymous and not self.allow_anonymous_writes and not is_loopback(self.host):
            raise ConfigProblem("host", "is not a loopback address, and there is no credential")
        for name in ("public_url", "public_objects_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("http://", "https://")):
                raise ConfigProblem(name, "is not an http:// or https:// URL")

    @property
    def anonymous(self) -> bool:
        """No credential: anyone who can reach the server may upload."""
        return self.api_key is None and self.access_token is None

    @property
    def url_host(self) -> str:
        """The host as a URL names it: wildcards become loopback, IPv6 gets brackets."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"[{host}]" if ":" in host else host

    def url(self, port: int) -> str:
        """The base URL of a server of this configuration listening on `port`."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.url_host}:{port}"


class ConfigProblem(ValueError):
    """A configuration that must not run; `field` names the ServerConfig field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
