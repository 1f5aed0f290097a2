"""The HTTP layer: one session, timeouts, retries, and credentials kept to the SDC origin."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from imap_cli import __version__
from imap_cli.core.errors import (
    BadResponse,
    ConnectionFailed,
    Failure,
    SDCError,
    TLSError,
    Unavailable,
    UnsafeRequest,
    option,
    printable,
    status_error,
    terminal,
)
from imap_cli.core.retry import (
    RETRY_STATUSES,
    RetryPolicy,
    TransferCancelled,
    answered,
    current_cancel,
    retry_after,
)
from imap_cli.core.settings import Settings

# The library's logger: a request summary at INFO, each retry with its reason at WARNING
# (core.retry). A NullHandler: a library prints nothing unless the program asks for logging.
log = logging.getLogger("imap_cli")
log.addHandler(logging.NullHandler())

CONNECT_TIMEOUT = 10.0
_HTTPS_URL = "url='https://...'"
# Failures worth another attempt: the connection, not the request, went wrong.
TRANSIENT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
# Connection failures that another attempt cannot cure: fail at once, with the hint.
HOPELESS = frozenset({Failure.DNS, Failure.REFUSED, Failure.PROXY_REFUSED, Failure.PROXY_AUTH})
# Per-request proxies that cancel any from the environment (requests drops None entries).
DIRECT = {"http": None, "https": None, "all": None}
CREDENTIAL_HEADERS = ("x-api-key", "authorization")
MAX_REDIRECTS = 5
# File bodies (the upload PUT) are sent in blocks of this size. urllib3's default, 16 KiB, costs
# one Python round trip per block: on a fast link that halves the upload rate.
SEND_BLOCKSIZE = 1 << 20


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the default port filled in: what "same origin" compares."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses, where plain http cannot be sniffed."""
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Adapter(HTTPAdapter):
    """HTTPAdapter whose connections send file bodies in SEND_BLOCKSIZE blocks."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", SEND_BLOCKSIZE)
        super().init_poolmanager(*args, **kwargs)


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # Passing a callable auth stops requests from adding ~/.netrc credentials to object URLs.
    return request


def server_message(response: requests.Response, limit: int = 400) -> str:
    """The server's error text as one plain line: JSON strings, {"message"}, S3 XML, or text."""
    try:
        text = response.text
    except Exception:  # a broken body must not hide the status
        text = ""
    text = text.strip()
    message = text
    if text[:1] in ('"', "{", "["):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, str):
            message = data
        elif isinstance(data, dict):
            message = str(data.get("message") or data.get("error") or text)
    elif text.startswith("<"):
        found = re.search(r"<Message>(.*?)</Message>", text, re.S)
        code = re.search(r"<Code>(.*?)</Code>", text, re.S)
        if found or code:
            message = ": ".join(m.group(1).strip() for m in (code, found) if m)
        else:
            message = re.sub(r"<[^>]+>", " ", text)
    message = printable(" ".join(message.split()))
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return message


class SDCClient:
    """Talks to one SDC: API calls carry the credential, object-store calls never do."""

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.timeout = (CONNECT_TIMEOUT, settings.timeout)
        self.sleep = sleep
        # The one retry policy (core.retry), shared by everything that asks through this client.
        self.retry = RetryPolicy(settings.retries, sleep=sleep)
        self.session = session or self._new_session(settings)
        self.origin = origin_of(settings.url)
        self.base_url = self._base_url()

    @property
    def retries(self) -> int:
        """Retries after a failed attempt."""
        return self.retry.retries

    @property
    def on_retry(self) -> Callable[[str], None] | None:
        """Called with a message before each retry (the progress line's "retrying (n of 5)")."""
        return self.retry.on_retry

    @on_retry.setter
    def on_retry(self, hook: Callable[[str], None] | None) -> None:
        self.retry.on_retry = hook

    @staticmethod
    def _new_session(settings: Settings) -> requests.Session:
        session = requests.Session()
        pool = max(10, settings.jobs * 2)
        adapter = _Adapter(pool_connections=4, pool_maxsize=pool, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = (
            f"imap-sdc-cli/{__version__} {requests.utils.default_user_agent()}"
        )
        # Bytes on the wire must match Content-Length and the ETag's MD5.
        session.headers["Accept-Encoding"] = "identity"
        if settings.ca_bundle:
            session.verify = settings.ca_bundle
        return session

    def verify(self) -> str | bool:
        """What `verify=` each request gets: the ca-bundle setting when there is one.

        Passed per request because requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a
        session's `verify`, and imap's own setting must win over those.
        """
        return self.settings.ca_bundle or True

    def _base_url(self) -> str:
        url = self.settings.url.rstrip("/")
        if self.settings.api_key and not url.endswith("/api-key"):
            url += "/api-key"
        elif self.settings.access_token and not url.endswith(("/api-key", "/authorized")):
            url += "/authorized"
        return url

    def credential_headers(self) -> dict[str, str]:
        """The one header that authenticates us to the SDC (API key wins over token)."""
        if self.settings.api_key:
            return {"x-api-key": self.settings.api_key}
        if self.settings.access_token:
            return {"Authorization": f"Bearer {self.settings.access_token}"}
        return {}

    def api_url(self, route: str, *segments: str) -> str:
        """`{base}/{route}/{quoted segments}`; segments keep their `/` separators."""
        url = f"{self.base_url}/{route}"
        for seg in segments:
            url += "/" + quote(seg, safe="/")
        return url

    def close(self) -> None:
        """Close the connection pool."""
        self.session.close()

    def __enter__(self) -> SDCClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_credential_target(self, url: str) -> None:
        scheme, host, _ = origin_of(url)
        if origin_of(url) != self.origin:
            raise UnsafeRequest(
                f"refusing to send the SDC credential to {scheme}://{host}, which is not the SDC",
                "Credentials only go to the configured url; this is a bug if you see it.",
            )
        if scheme != "https" and not is_loopback(host):
            raise UnsafeRequest(
                f"refusing to send the API key or token over plain http to {host}",
                f"Use an https:// url ({terminal('config-set-url', _HTTPS_URL)}); plain http is "
                "only allowed to this machine (localhost).",
            )

    def api(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        stream: bool = False,
        what: str = "request",
        ok: Iterable[int] = (200,),
        retry_statuses: frozenset[int] = RETRY_STATUSES,
    ) -> requests.Response:
        """A request to the SDC API, with the credential; raises a mapped error unless ok.

        `retry_statuses`: the statuses worth another attempt for this request (a route whose 500
        is a final answer, like /processing-logs for an unknown stream, or a caller that can cure
        a status itself, e.g. a too-large answer by splitting, leaves it out).
        """
        headers = self.credential_headers()
        if headers:
            self._check_credential_target(url)
        response = self._send(
            method,
            url,
            what=what,
            params=params,
            headers=headers,
            stream=stream,
            retry_statuses=retry_statuses,
        )
        if response.status_code not in ok:
            raise self.http_error(response, what)
        return response

    def get_json(self, url: str, *, params: Any = None, what: str = "query") -> Any:
        """GET an SDC API URL and decode its JSON body."""
        response = self.api("GET", url, params=params, what=what)
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "unknown type")
            raise BadResponse(
                f"{what}: the SDC answered {response.status_code} with a body that is not JSON "
                f"({kind}, {len(response.content)} bytes)"
            ) from None

    def storage(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        stream: bool = True,
        what: str = "transfer",
        retry: bool = True,
    ) -> requests.Response:
        """A request to the object store (the presigned URL): never with a credential.

        Redirects (S3's 307 for a new bucket) are followed here, still without credentials.
        `data` may be a callable returning a fresh body, so a retried PUT re-opens the file.
        """
        clean = {k: v for k, v in (headers or {}).items() if k.lower() not in CREDENTIAL_HEADERS}
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(
                method,
                url,
                what=what,
                headers=clean,
                data=data,
                stream=stream,
                auth=_no_netrc,
                retry=retry,
            )
            if response.status_code in (301, 302, 303, 307, 308) and "Location" in response.headers:
                url = urljoin(url, response.headers["Location"])
                response.close()
                if response.status_code == 303:
                    method, data = "GET", None
                continue
            return response
        raise BadResponse(f"{what}: too many redirects from the storage host")

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        retry: bool = True,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
        **kwargs: Any,
    ) -> requests.Response:
        attempts = self.retry.attempts if retry else 1
        data = kwargs.pop("data", None)
        kwargs.setdefault("verify", self.verify())
        if is_loopback(urlsplit(url).hostname or ""):
            # Straight to this machine: an HTTP_PROXY would otherwise see a plain-http credential.
            kwargs.setdefault("proxies", DIRECT)
        cancel = current_cancel()
        for attempt in range(attempts):
            if cancel is not None and cancel.is_set():
                # The run this worker belongs to was cancelled (Ctrl-C, a signal): no new
                # request, even where an earlier check let the work start. The run's caller
                # may have returned already; a request sent now would land after it.
                raise TransferCancelled
            body = data() if callable(data) else data
            last = attempt == attempts - 1
            try:
                response = self.session.request(
                    method,
                    url,
                    data=body,
                    timeout=self.timeout,
                    allow_redirects=False,
                    **kwargs,
                )
            except requests.exceptions.SSLError as exc:
                # One cause line, not urllib3's chain of three exceptions: `cause` keeps it.
                raise with_cause(tls_error(exc, url, what), exc) from None
            except TRANSIENT_ERRORS as exc:
                error = connection_error(exc, url, what)
                if last or error.kind in HOPELESS:
                    raise with_cause(error, exc) from None
                self.retry.again(error.message, attempt)
                continue
            finally:
                close = getattr(body, "close", None)
                if callable(data) and close:
                    close()
            _log_response(method, url, response)
            if response.status_code in retry_statuses and not last:
                delay = retry_after(response)
                if self.retry.too_late(delay):
                    return response
                response.close()
                self.retry.again(answered(what, response), attempt, delay)
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def http_error(self, response: requests.Response, what: str) -> SDCError:
        """Turn an unexpected status into the matching IMAPError, with the server's text."""
        status = response.status_code
        text = server_message(response)
        reason = response.reason or ""
        if _says_only(text, reason) or (status == 404 and text.startswith("File not found")):
            # "403 Forbidden: Forbidden"; or the SDC's advice to "include the full path",
            # which we built ourselves: the status says it all.
            text = ""
        message = f"{what}: {status} {reason}".rstrip() + (f": {text}" if text else "")
        if status == 404 and urlsplit(response.url or "").path.endswith(API_ROUTES):
            # The SDC always has these routes: a 404 means the url is not the SDC API. Exit 3,
            # as for the other ways a url can be wrong (refused, DNS).
            message = f"{what}: {_host(response.url)} has no SDC API at this url (404)"
            return Unavailable(message, status=status, kind=Failure.BAD_URL)
        error = status_error(status, message)
        if status == 429:
            error.hint = (
                f"The SDC is rate-limiting requests; wait a minute, or lower {option('jobs')}."
            )
        return error


# Routes every SDC answers (an empty result is 200 []).
API_ROUTES = ("/query", "/spice-query")


def _says_only(text: str, reason: str) -> bool:
    """True when the server's text only repeats the status (`Forbidden`, `Not Found.`)."""
    words = text.strip().rstrip(".").lower()
    return not words or words == reason.lower()


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def tls_error(exc: Exception, url: str, what: str) -> TLSError:
    """A failed TLS handshake, saying what went wrong when OpenSSL says it plainly."""
    kind, detail = tls_failure(str(exc))
    if kind is Failure.PLAIN_HTTP:
        return TLSError(
            f"{what}: {_host(url)} answered in plain http, not https (TLS: {detail})",
            kind=kind,
        )
    detail = f" ({detail})" if detail else ""
    return TLSError(f"{what}: TLS certificate check failed for {_host(url)}{detail}", kind=kind)


def tls_failure(text: str) -> tuple[Failure, str]:
    """(kind, short reason) of a certificate failure, from OpenSSL's words."""
    lowered = text.lower()
    for marker, kind in (
        ("hostname mismatch", Failure.CERTIFICATE_NAME),
        ("ip address mismatch", Failure.CERTIFICATE_NAME),
        ("certificate has expired", Failure.CERTIFICATE_EXPIRED),
        ("self-signed certificate in certificate chain", Failure.CERTIFICATE),
        ("self-signed certificate", Failure.CERTIFICATE),
        ("unable to get local issuer certificate", Failure.CERTIFICATE),
        # OpenSSL read an http answer where a TLS record should be: the server speaks http
        ("wrong version number", Failure.PLAIN_HTTP),
        ("record layer failure", Failure.PLAIN_HTTP),
    ):
        if marker in lowered:
            return kind, marker.capitalize() if kind is Failure.CERTIFICATE_NAME else marker
    return Failure.CERTIFICATE, ""


def connection_error(exc: Exception, url: str, what: str) -> ConnectionFailed:
    """Name the failure a person can act on: proxy, DNS, refused, timeout, dropped."""
    host = _host(url)
    text = str(exc)
    if isinstance(exc, requests.exceptions.ProxyError):
        if " 407 " in text or "407 Proxy" in text:
            return ConnectionFailed(
                f"{what}: the proxy wants a user name and password (407) to reach {host}",
                kind=Failure.PROXY_AUTH,
            )
        return ConnectionFailed(
            f"{what}: cannot reach {host} through the proxy ({_proxy_reason(text)})",
            kind=Failure.PROXY_REFUSED,
        )
    if "\\x15\\x03" in text or "plain HTTP request was sent to HTTPS" in text:
        # a TLS alert record (0x15 0x03) where an http status line should be: https only
        return ConnectionFailed(
            f"{what}: {host} speaks https, not plain http", kind=Failure.HTTPS_ONLY
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ConnectionFailed(
            f"{what}: {host} did not accept a connection in time", kind=Failure.TIMEOUT
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return ConnectionFailed(f"{what}: {host} did not answer in time", kind=Failure.TIMEOUT)
    if "Temporary failure in name resolution" in text:
        # EAI_AGAIN: the resolver did not answer (busy cluster nodes, a VPN coming up); it may
        # well answer the next time, unlike a name that does not exist.
        return ConnectionFailed(
            f"{what}: the host name {urlsplit(url).hostname} could not be resolved just now",
            kind=Failure.DROPPED,
        )
    if (
        "Name or service not known" in text
        or "getaddrinfo" in text
        or "NameResolution" in text
        or "nodename nor servname" in text
    ):
        return ConnectionFailed(
            f"{what}: cannot resolve the host name {urlsplit(url).hostname}", kind=Failure.DNS
        )
    if "Connection refused" in text or "ConnectionRefused" in text:
        return ConnectionFailed(f"{what}: connection refused by {host}", kind=Failure.REFUSED)
    return ConnectionFailed(
        f"{what}: the connection to {host} failed ({type(exc).__name__})", kind=Failure.DROPPED
    )


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception behind `exc`: urllib3's `reason`, then causes and contexts."""
    seen = {id(exc)}
    while True:
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = exc.__cause__ or exc.__context__
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def with_cause(error: SDCError, exc: BaseException) -> SDCError:
    """`error` carrying `exc` as its cause, summarised in one note (raised `from None`)."""
    from imap_cli.core.errors import add_note

    error.cause = exc
    root = root_cause(exc)
    # urllib3 writes "<urllib3.connection.HTTPConnection object at 0x...>: Failed to ...".
    text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*", "", str(root)).strip()
    add_note(error, f"Cause: {type(root).__name__}: {printable(text)[:300]}")
    return error


def _log_response(method: str, url: str, response: requests.Response) -> None:
    # The path only: a presigned URL's query string is a credential.
    parts = urlsplit(url)
    elapsed = getattr(response, "elapsed", None)
    seconds = elapsed.total_seconds() if elapsed is not None else 0.0
    log.info(
        "%s %s://%s%s -> %s (%.2f s)",
        method,
        parts.scheme,
        parts.netloc,
        parts.path,
        response.status_code,
        seconds,
    )


def _proxy_reason(text: str) -> str:
    if "Connection refused" in text or "ConnectionRefused" in text:
        return "connection refused by the proxy"
    if "NameResolution" in text or "getaddrinfo" in text or "not known" in text:
        return "the proxy's host name does not resolve"
    found = re.search(r"Tunnel connection failed: (\d{3}[^'\")]*)", text)
    if found:
        return f"the proxy answered {found.group(1).strip()}"
    return "the proxy failed"


def ca_bundle_in_use(settings: Settings, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(path, origin) of the CA certificates requests will trust for the SDC.

    The ca-bundle setting wins; without it REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE (as requests
    reads them), then certifi's bundle.
    """
    env = os.environ if env is None else env
    if settings.ca_bundle:
        return settings.ca_bundle, f"ca-bundle setting, {settings.origins.get('ca-bundle', '')}"
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if env.get(name):
            return env[name], f"env:{name}"
    import certifi

    return certifi.where(), "certifi"
