"""`imap doctor`'s checks: config, data dir, the way to the SDC, credentials, proxies, versions.

Each check returns a Check (ok / warning / problem, one line of detail, the failure kind that
names the fix); nothing here prints. Checks that need the network run only when the ones they
depend on passed, so one broken link is reported once, where it breaks.
"""

from __future__ import annotations

import enum
import os
import shutil
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from imap_cli.core.errors import ConfigError, Failure, IMAPError
from imap_cli.core.settings import Settings, file_readable_by_others, mask, read_file, resolve

# Below this much free space in the data dir, a warning.
LOW_SPACE = 1 << 30
# The doctor's own network timeout: a diagnosis should not hang for the full read timeout.
PROBE_TIMEOUT = 10.0
# A filter that matches nothing on any SDC (before launch): the smallest real /query answer.
TINY_QUERY = {
    "table": "science",
    "instrument": "mag",
    "start_date": "20100101",
    "end_date": "20100101",
}
# A valid name that asks the upload route for a signed URL only; nothing is uploaded.
PROBE_UPLOAD = "imap_mag_l0_raw_20100101_v001.pkts"
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


class Status(str, enum.Enum):
    """How a check ended."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass
class Check:
    """One line of the report."""

    name: str
    status: Status
    detail: str
    kind: Failure | None = None  # names the fix (the cli's hint table)
    fix: str = ""  # a fix specific to this case, when the kind's general one does not fit
    error: IMAPError | None = None  # the failure, for a front end that words its own hint
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failed(cls, name: str, error: IMAPError) -> Check:
        """A problem found by an error: its message, kind and hint."""
        return cls(name, Status.PROBLEM, error.message, error.kind, fix=error.hint, error=error)


@dataclass
class Report:
    """Every check in order, plus what a bug report needs."""

    checks: list[Check]
    settings: list[dict[str, str]]
    versions: dict[str, str]

    @property
    def ok(self) -> bool:
        """True when no check found a problem (warnings are allowed)."""
        return all(c.status is not Status.PROBLEM for c in self.checks)


def diagnose(
    flags: Mapping[str, Any] | None = None,
    on_check: Callable[[Check], None] | None = None,
) -> Report:
    """Run every check in order; `on_check` sees each one as soon as it is done.

    `flags` are the command line's settings (as for settings.resolve); the environment is
    the process's, as requests reads proxies and CA bundles from it.
    """
    checks: list[Check] = []

    def add(check: Check) -> bool:
        checks.append(check)
        if on_check is not None:
            on_check(check)
        return check.status is not Status.PROBLEM

    config_ok = add(check_config_file())
    settings: Settings | None = None
    try:
        settings = resolve(flags=flags)
    except ConfigError as error:
        if config_ok:
            add(Check.failed("settings", error))
    rows: list[dict[str, str]] = []
    if settings is not None:
        rows = [{"key": k, "value": v, "origin": o} for k, v, o in settings.rows() if o]
        add(check_settings(settings))
        add(check_data_dir(settings))
        add(check_proxy(settings))
        _network_checks(settings, add)
    report = Report(checks=checks, settings=rows, versions=versions())
    add(check_versions(report.versions))
    return report


def _network_checks(settings: Settings, add: Callable[[Check], bool]) -> None:
    """DNS, connect, TLS, an answer, credentials: each only if the way so far works."""
    via_proxy = bool(_proxy_for(settings.url))
    # Through a proxy, the proxy resolves the SDC's name: the TLS check goes through its tunnel.
    if not via_proxy and not add(check_dns(settings)):
        return
    if not add(check_connect(settings)):
        return
    if urlsplit(settings.url).scheme == "https" and not add(check_tls(settings)):
        return
    if add(check_query(settings)):
        add(check_credentials(settings))


def check_config_file() -> Check:
    """The config file: absent is fine; it must be readable TOML, and private if it holds a key."""
    from imap_cli.core.settings import default_config_path

    path = default_config_path()
    if not path.exists():
        return Check("config file", Status.OK, f"{path} (none yet: defaults apply)")
    try:
        table = read_file(path)
    except ConfigError as error:
        return Check.failed("config file", error)
    if "api-key" in table and file_readable_by_others(path):
        return Check(
            "config file",
            Status.WARNING,
            f"{path} holds an API key and other users can read it",
            fix=f"Run: chmod 600 {path}",
        )
    count = f"{len(table)} setting" + ("" if len(table) == 1 else "s")
    return Check("config file", Status.OK, f"{path} (valid TOML, {count})")


def check_settings(settings: Settings) -> Check:
    """Where each setting that is not a default comes from (secrets masked)."""
    chosen = [
        f"{k}={v} ({o})" for k, v, o in settings.rows() if (o and o != "default") or k == "url"
    ]
    return Check("settings", Status.OK, "; ".join(chosen))


def check_data_dir(settings: Settings) -> Check:
    """The data dir exists or can be created, is a folder, takes a file, and has room."""
    from imap_cli.core.settings import relative_note

    path = Path(settings.data_dir)
    origin = settings.origins.get("data-dir", "default")
    relative = relative_note(settings)
    where = f"{path} (from {origin})"
    if relative:
        where = f"{path} (from {origin}: {settings.relative['data-dir']!r}, relative)"

    def problem(what: str) -> Check:
        return Check(
            "data dir", Status.PROBLEM, f"{where} {what}", Failure.DATA_DIR, data={"origin": origin}
        )

    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing != path:
        if not existing.is_dir():
            return problem(f"cannot be created: {existing} is a file")
        if not _can_write(existing):
            return problem(f"cannot be created: {existing} is not writable")
        return Check("data dir", Status.OK, f"{where}; will be created on first download")
    if not path.is_dir():
        return problem("is a file, not a folder")
    if not _can_write(path):
        return problem("is not writable")
    free = shutil.disk_usage(path).free
    if free < LOW_SPACE:
        return Check(
            "data dir",
            Status.WARNING,
            f"{where}: only {_size(free)} free",
            fix="Free some space, or point data-dir at a larger disk.",
            data={"free_bytes": free},
        )
    if relative:
        return Check(
            "data dir",
            Status.WARNING,
            relative,
            fix="Give the data dir as an absolute path, so every folder you run imap in uses it.",
            data={"free_bytes": free, "origin": origin},
        )
    return Check(
        "data dir",
        Status.OK,
        f"{where}; writable, {_size(free)} free",
        data={"free_bytes": free, "origin": origin},
    )


def _can_write(folder: Path) -> bool:
    # Try it: permission bits do not tell the truth for root, ACLs or read-only mounts.
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".imap-doctor-"):
            return True
    except OSError:
        return False


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def _proxy_for(url: str) -> str | None:
    """The proxy requests would use for `url` (None: a direct connection)."""
    from imap_cli.core.http import is_loopback

    if is_loopback(urlsplit(url).hostname or ""):  # the client always goes straight there
        return None
    import requests.utils

    proxies = requests.utils.get_environ_proxies(url)
    return proxies.get(urlsplit(url).scheme) or proxies.get("all") or None


def hide_password(url: str) -> str:
    """A proxy URL with its password masked: http://user:****@host:port."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:****@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_proxy(settings: Settings) -> Check:
    """Proxy variables in effect, and whether the SDC is reached through one."""
    found = {}
    for name in PROXY_VARIABLES:
        value = os.environ.get(name) or os.environ.get(name.lower())
        if value:
            found[name] = hide_password(value) if name != "NO_PROXY" else value
    proxy = _proxy_for(settings.url)
    shown = ", ".join(f"{k}={v}" for k, v in found.items()) or "no proxy variables"
    if proxy:
        return Check(
            "proxy",
            Status.OK,
            f"the SDC is reached through {hide_password(proxy)} ({shown})",
            data={"variables": found, "proxy": hide_password(proxy)},
        )
    return Check(
        "proxy", Status.OK, f"direct connection ({shown})", data={"variables": found, "proxy": None}
    )


def _target(settings: Settings) -> tuple[str, int, bool]:
    """(host, port, via proxy) of the first hop: the proxy when there is one, else the SDC."""
    proxy = _proxy_for(settings.url)
    if proxy:
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return parts.hostname or "", parts.port or 80, True
    parts = urlsplit(settings.url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), False


def check_dns(settings: Settings) -> Check:
    """The SDC's host name resolves."""
    host = urlsplit(settings.url).hostname or ""
    started = time.monotonic()
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return Check(
            "dns", Status.PROBLEM, f"cannot resolve {host} ({_os_reason(exc)})", Failure.DNS
        )
    addresses = sorted({info[4][0] for info in infos})
    took = (time.monotonic() - started) * 1000
    return Check(
        "dns", Status.OK, f"{host} -> {', '.join(addresses[:3])} ({took:.0f} ms)", data={"ms": took}
    )


def check_connect(settings: Settings) -> Check:
    """A TCP connection to the SDC (or to the proxy on the way)."""
    host, port, via_proxy = _target(settings)
    what = f"proxy {host}:{port}" if via_proxy else f"{host}:{port}"
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
            pass
    except TimeoutError:
        kind = Failure.PROXY_REFUSED if via_proxy else Failure.TIMEOUT
        return Check("connect", Status.PROBLEM, f"{what}: no answer in {PROBE_TIMEOUT:g} s", kind)
    except OSError as exc:
        if via_proxy:
            kind = Failure.PROXY_REFUSED
        elif isinstance(exc, ConnectionRefusedError):
            kind = Failure.REFUSED
        elif isinstance(exc, socket.gaierror):
            kind = Failure.DNS
        else:
            kind = Failure.DROPPED
        return Check("connect", Status.PROBLEM, f"{what}: {_os_reason(exc)}", kind)
    took = (time.monotonic() - started) * 1000
    return Check("connect", Status.OK, f"{what} ({took:.0f} ms)", data={"ms": took})


def check_tls(settings: Settings) -> Check:
    """The TLS handshake and certificate chain, against the CA bundle requests will use."""
    from imap_cli.core.http import ca_bundle_in_use

    parts = urlsplit(settings.url)
    host, port = parts.hostname or "", parts.port or 443
    bundle, origin = ca_bundle_in_use(settings)
    info = {"ca_bundle": bundle, "ca_bundle_origin": origin}

    def problem(text: str, kind: Failure = Failure.CERTIFICATE) -> Check:
        return Check("tls", Status.PROBLEM, text, kind, data=info)

    try:
        context = ssl.create_default_context(cafile=bundle)
    except (OSError, ssl.SSLError) as exc:
        return problem(f"the CA bundle {bundle} ({origin}) cannot be loaded: {_os_reason(exc)}")
    proxy = _proxy_for(settings.url)
    try:
        with (
            _open_tunnel(proxy, host, port) if proxy else _open(host, port) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            cert = tls.getpeercert() or {}
            version = tls.version() or "TLS"
    except _ProxyAnswer as answer:
        kind = Failure.PROXY_AUTH if answer.status == 407 else Failure.PROXY_REFUSED
        return Check(
            "tls", Status.PROBLEM, f"the proxy answered {answer} to CONNECT {host}:{port}", kind
        )
    except ssl.SSLCertVerificationError as exc:
        from imap_cli.core.http import tls_failure

        reason = exc.verify_message or exc.reason or "verification failed"
        kind, _ = tls_failure(reason)
        return problem(
            f"certificate of {host} rejected: {reason} (CA bundle: {bundle}, from {origin})", kind
        )
    except (OSError, ssl.SSLError) as exc:
        from imap_cli.core.http import tls_failure

        kind, _ = tls_failure(str(exc))  # plain http answering is not a certificate problem
        return problem(f"TLS handshake with {host} failed: {_os_reason(exc)}", kind)
    issuer = _name(cert.get("issuer", ()))
    expires = cert.get("notAfter", "?")
    return Check(
        "tls",
        Status.OK,
        f"{version}, certificate issued by {issuer}, valid until {expires}; "
        f"CA bundle {bundle} ({origin})",
        data={**info, "issuer": issuer, "expires": expires, "version": version},
    )


class _ProxyAnswer(Exception):
    """The proxy said no to CONNECT."""

    def __init__(self, status: int, line: str) -> None:
        super().__init__(line)
        self.status = status


def _open(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=PROBE_TIMEOUT)


def _open_tunnel(proxy: str, host: str, port: int) -> socket.socket:
    """A socket to host:port through an HTTP proxy's CONNECT (with its credentials, if any)."""
    import base64
    from urllib.parse import unquote

    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    sock = _open(parts.hostname or "", parts.port or 80)
    try:
        head = f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            head += f"Proxy-Authorization: Basic {base64.b64encode(pair.encode()).decode()}\r\n"
        sock.sendall((head + "\r\n").encode("latin-1"))
        answer = b""
        while b"\r\n\r\n" not in answer and len(answer) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        line = answer.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        fields = line.split(" ", 2)
        status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
        if status != 200:
            raise _ProxyAnswer(status, " ".join(fields[1:]) or "nothing")
    except BaseException:
        sock.close()
        raise
    return sock


def _name(rdns: Any) -> str:
    fields = {k: v for rdn in rdns for k, v in rdn}
    return fields.get("organizationName") or fields.get("commonName") or "?"


def _os_reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _probe_client(settings: Settings) -> Any:
    from dataclasses import replace

    from imap_cli.core.http import SDCClient

    # One attempt: the doctor reports what happens, it does not wait out an outage.
    return SDCClient(replace(settings, retries=0, timeout=min(settings.timeout, PROBE_TIMEOUT)))


def check_query(settings: Settings) -> Check:
    """An HTTP answer of /query with a filter that matches nothing, and its round-trip time."""
    started = time.monotonic()
    with _probe_client(settings) as client:
        url = client.api_url("query")
        try:
            answer = client.get_json(url, params=TINY_QUERY, what="query")
        except IMAPError as error:
            # 401/403 to the query: the way works, the key or token does not
            name = "credentials" if error.kind is Failure.CREDENTIALS else "sdc answer"
            return Check.failed(name, error)
    took = (time.monotonic() - started) * 1000
    if not isinstance(answer, list):
        return Check(
            "sdc answer",
            Status.PROBLEM,
            f"{url} answered JSON that is not a list of files",
            Failure.BAD_URL,
        )
    return Check(
        "sdc answer", Status.OK, f"{url} answered in {took:.0f} ms", data={"ms": took, "url": url}
    )


def check_credentials(settings: Settings) -> Check:
    """Present? Accepted (the query above went through their route)? May the key upload?"""
    if settings.api_key:
        which = f"API key {mask(settings.api_key)} ({settings.origins.get('api-key')})"
    elif settings.access_token:
        which = f"access token {mask(settings.access_token)} ({settings.origins['access-token']})"
    else:
        return Check(
            "credentials",
            Status.OK,
            "none: public, released files only (uploads need an API key)",
        )
    if not settings.api_key:
        return Check("credentials", Status.OK, f"{which} accepted by the SDC")
    with _probe_client(settings) as client:
        try:
            response = client.api(
                "GET",
                client.api_url("upload", PROBE_UPLOAD),
                what="upload check",
                ok=(200, 400, 403, 404, 409),
            )
        except IMAPError as error:
            return Check.failed("credentials", error)
        status = response.status_code
        from imap_cli.core.http import server_message

        text = server_message(response).lower()
        response.close()
    if status == 403 and "read" in text:
        return Check(
            "credentials",
            Status.OK,
            f"{which} accepted; read-only (downloads yes, uploads no)",
            data={"read_only": True},
        )
    if status == 403:
        return Check(
            "credentials",
            Status.PROBLEM,
            f"{which} accepted for queries but refused by the upload route (403)",
            Failure.CREDENTIALS,
        )
    if status in (200, 409):
        return Check(
            "credentials", Status.OK, f"{which} accepted; may upload", data={"read_only": False}
        )
    return Check("credentials", Status.OK, f"{which} accepted (upload permission unknown)")


def check_versions(found: Mapping[str, str]) -> Check:
    """One line with every version that matters to a bug report."""
    return Check("versions", Status.OK, ", ".join(f"{k} {v}" for k, v in found.items()))


def versions() -> dict[str, str]:
    """imap, Python, requests, urllib3, OpenSSL and certifi versions, for a bug report."""
    from importlib import metadata

    from imap_cli import __version__

    found = {"imap-sdc-cli": __version__, "python": sys.version.split()[0]}
    for name in ("requests", "urllib3", "certifi"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["openssl"] = ssl.OPENSSL_VERSION
    return found
