"""LASP's PODA service (packets on demand): the APID table, the two request shapes, and a
client that sends the PODA credential (HTTP Basic) to PODA and nowhere else.

PODA is not the SDC: another origin, another credential. `PodaClient` has its own session, so
the SDC's API key or token can never ride along, and the Basic header goes only to the origin
of the configured PODA URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Callable
from typing import IO, Any
from urllib.parse import urlsplit

import requests

from imap_cli import __version__
from imap_cli.core.errors import (
    BadRequest,
    ConfigError,
    Failure,
    IntegrityError,
    NotFound,
    Refused,
    Unavailable,
    UnsafeRequest,
)
from imap_cli.core.http import (
    CONNECT_TIMEOUT,
    DIRECT,
    HOPELESS,
    TRANSIENT_ERRORS,
    connection_error,
    is_loopback,
    origin_of,
    server_message,
    tls_error,
)
from imap_cli.core.retry import RETRY_STATUSES, RetryPolicy, answered, retry_after
from imap_cli.core.settings import WEBPODA_URL as DEFAULT_URL  # noqa: F401 - one place

# SID1: flight telemetry after launch; SID2: flight, before launch; SID3: simulators.
DEFAULT_SID = "SID1"
SIDS = ("SID1", "SID2", "SID3")

# The APIDs that make each instrument's L0 file, in the order their packets are concatenated.
# From LASP's packet decommutation page for IMAP (the official client's table); a new packet
# can be fetched before a release with an explicit APID list (`apids=`).
APIDS: dict[str, tuple[int, ...]] = {
    "codice": (1136, 1152, 1153, *range(1155, 1163), *range(1168, 1175)),
    "glows": (1480, 1481),
    "hi": (740, 754, 769, 770, 772, 804, 818, 833, 834, 836),
    "hit": (1251, 1252, 1253),
    "idex": (1418, 1419, 1424),
    "lo": (673, 676, 677, 705, 706, 707, 708),
    "mag": (1052, 1068),
    "swapi": (1184, 1188),
    "swe": (1330, 1334, 1344),
    "ultra": (
        *range(865, 878),
        *range(880, 890),
        *range(896, 902),
        *range(929, 942),
        *range(944, 954),
        *range(960, 966),
    ),
    "spacecraft": (594,),
    "ialirt": (478,),
}
# Minutes of packets taken on each side of midnight, so that packet groups stay whole.
BUFFER_MINUTES = {"hit": 20, "mag": 30, "swapi": 1, "swe": 1, "codice": 7}
# Instruments whose L0 files cover a pointing (repoint table), not a day.
REPOINTING_INSTRUMENTS = frozenset({"glows", "hi", "lo", "ultra"})

WHAT = "PODA"
_WIRE_TIME = "%Y-%m-%dT%H:%M:%S.%f"
# The packet times of the ERT query, to the second (formatTime's Java pattern).
_TEXT_TIME = "%Y-%m-%dT%H:%M:%S"
TIME_PATTERN = "yyyy-MM-dd'T'HH:mm:ss"


def encode_token(user: str, password: str) -> str:
    """The Basic credential PODA takes: base64 of `user:password`."""
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _wire(text: str) -> str:
    # Only >, < and " are escaped; = ( ) ' : stay literal, as PODA's users send them.
    return text.replace(">", "%3E").replace("<", "%3C").replace('"', "%22")


def apid_url(base: str, sid: str, apid: int, ext: str) -> str:
    """`<base>/<SID>/apid_<N>.<ext>`."""
    return f"{base.rstrip('/')}/{sid}/apid_{apid}.{ext}"


def times_url(base: str, sid: str, apid: int, start: dt.datetime, end: dt.datetime) -> str:
    """The packet times (to the second) of the packets received in [start, end)."""
    query = (
        f"ert>={start.strftime(_WIRE_TIME)}&ert<{end.strftime(_WIRE_TIME)}"
        f'&project(time)&formatTime("{TIME_PATTERN}")'
    )
    return apid_url(base, sid, apid, "txt") + "?" + _wire(query)


def packets_url(base: str, sid: str, apid: int, start: dt.datetime, end: dt.datetime) -> str:
    """The raw packets whose packet time is in [start, end), back to back."""
    query = f"time>={start.strftime(_WIRE_TIME)}&time<{end.strftime(_WIRE_TIME)}&project(packet)"
    return apid_url(base, sid, apid, "bin") + "?" + _wire(query)


def parse_time(line: str) -> dt.datetime:
    """One line of the ERT answer: `2026-01-01T00:00:00`."""
    return dt.datetime.strptime(line.strip(), _TEXT_TIME)


class PacketCounter:
    """Counts whole CCSDS packets in a byte stream fed in arbitrary pieces."""

    def __init__(self) -> None:
        self.packets = 0
        self._skip = 0  # bytes left of the current packet's body
        self._head = b""  # a primary header cut between pieces

    def feed(self, data: bytes) -> None:
        """Count the packets that start in `data`."""
        view, at = memoryview(data), 0
        while at < len(view):
            if self._skip:
                step = min(self._skip, len(view) - at)
                self._skip -= step
                at += step
                continue
            need = 6 - len(self._head)
            self._head += bytes(view[at : at + need])
            at += min(need, len(view) - at)
            if len(self._head) == 6:
                # data length field: bytes after the primary header, minus one
                self._skip = int.from_bytes(self._head[4:6], "big") + 1
                self._head = b""
                self.packets += 1


class PodaClient:
    """Requests to PODA with the Basic credential, a timeout and the one retry policy."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 60.0,
        retries: int = 5,
        jobs: int = 8,
        ca_bundle: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = (CONNECT_TIMEOUT, timeout)
        self.retry = RetryPolicy(retries, sleep=sleep)
        self.origin = origin_of(self.url)
        self.verify: str | bool = ca_bundle or True
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=2, pool_maxsize=max(10, jobs * 2), max_retries=0
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = f"imap-sdc-cli/{__version__}"
        self.session.headers["Accept-Encoding"] = "identity"
        self.session.trust_env = False  # no ~/.netrc credentials; proxies are passed per call
        self._proxies = requests.utils.get_environ_proxies(self.url)

    def close(self) -> None:
        """Close the connection pool."""
        self.session.close()

    def __enter__(self) -> PodaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers(self, url: str) -> dict[str, str]:
        if not self.token:
            raise ConfigError(
                "no PODA credentials: PODA needs a user name and password",
                "Run `imap webpoda login`, or set IMAP_WEBPODA_TOKEN to the base64 of "
                "user:password.",
            )
        scheme, host, _ = origin_of(url)
        if origin_of(url) != self.origin:
            raise UnsafeRequest(f"refusing to send the PODA credentials to {scheme}://{host}")
        if scheme != "https" and not is_loopback(host):
            raise UnsafeRequest(
                f"refusing to send the PODA credentials over plain http to {host}",
                "Use an https:// webpoda-url; plain http is only allowed to this machine.",
            )
        return {"Authorization": f"Basic {self.token}"}

    def get(self, url: str, what: str = WHAT) -> requests.Response:
        """GET a PODA URL (streamed), retried on dropped connections and 408/429/5xx."""
        headers = self._headers(url)
        proxies = DIRECT if is_loopback(urlsplit(url).hostname or "") else self._proxies
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.retries
            try:
                response = self.session.get(
                    url,
                    headers=headers,
                    timeout=self.timeout,
                    stream=True,
                    allow_redirects=False,
                    verify=self.verify,
                    proxies=proxies,
                )
            except requests.exceptions.SSLError as exc:
                raise tls_error(exc, url, what) from exc
            except TRANSIENT_ERRORS as exc:
                error = connection_error(exc, url, what)
                error.hint = "Check the webpoda-url setting and your network connection."
                if last or error.kind in HOPELESS:
                    raise error from exc
                self.retry.again(error.message, attempt)
                continue
            if response.status_code in RETRY_STATUSES and not last:
                delay = retry_after(response)
                if not self.retry.too_late(delay):
                    response.close()
                    self.retry.again(answered(what, response), attempt, delay)
                    continue
            if response.status_code != 200:
                raise poda_error(response, what)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def read_whole(self, url: str, read: Callable[[requests.Response], Any]) -> Any:
        """`read(response)` of a complete answer. A body cut short (the connection dropped
        mid-way: PODA streams without a length, so a cut shows only as a broken chunked body)
        is asked for again from its start (PODA has no ranges), within the retry budget."""
        for attempt in range(self.retry.attempts):
            response = self.get(url)
            try:
                return read(response)
            except TRANSIENT_ERRORS as exc:
                reason = type(exc).__name__
                if attempt == self.retry.retries:
                    raise IntegrityError(
                        f"{WHAT}: the answer was cut short {self.retry.attempts} times ({reason})",
                        "PODA keeps dropping the connection; retry later.",
                    ) from None
                self.retry.again(f"{WHAT}: answer cut short ({reason})", attempt)
            finally:
                response.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def fetch_to(
        self, url: str, handle: IO[bytes], on_bytes: Callable[[int], None] | None = None
    ) -> tuple[int, int]:
        """Stream `url`'s packets into `handle` from its current position: (bytes, packets).

        After a cut, the handle is rewound and the count starts again, so only a whole
        answer is ever kept. `on_bytes(n)` hears of each piece as it arrives; a cut answer's
        bytes are taken back (a negative n) before it is asked for again, and when it fails."""
        start = handle.tell()
        told = 0  # bytes of the current attempt that on_bytes has heard of

        def take_back() -> None:
            nonlocal told
            if on_bytes is not None and told:
                on_bytes(-told)
            told = 0

        def read(response: requests.Response) -> tuple[int, int]:
            nonlocal told
            take_back()
            handle.seek(start)
            handle.truncate()
            counter = PacketCounter()
            size = 0
            for chunk in response.iter_content(1 << 20):
                handle.write(chunk)
                counter.feed(chunk)
                size += len(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
                    told += len(chunk)
            return size, counter.packets

        try:
            return self.read_whole(url, read)
        except BaseException:
            take_back()
            raise

    def lines(self, url: str) -> list[str]:
        """The non-empty lines of a text answer (CRLF or LF)."""

        def read(response: requests.Response) -> list[str]:
            body = b"".join(response.iter_content(1 << 20))
            return [x for x in body.decode("utf-8", "replace").splitlines() if x.strip()]

        return self.read_whole(url, read)


def poda_error(response: requests.Response, what: str) -> Exception:
    """PODA's refusal or failure as an IMAPError: its plain-text message kept."""
    status = response.status_code
    text = server_message(response)
    message = f"{what}: {status} {response.reason or ''}".rstrip() + (f": {text}" if text else "")
    if status in (401, 403):
        return Refused(
            message,
            "Check the PODA user and password: `imap webpoda login` stores them, or set "
            "IMAP_WEBPODA_TOKEN.",
            status=status,
        )
    if status == 404:
        return NotFound(
            message,
            "Check the webpoda-url setting (the .../dap2/apids base) and the SID.",
            status=status,
            kind=Failure.NOT_FOUND,
        )
    if status == 400:
        return BadRequest(message, status=status)
    kind = Failure.RATE_LIMITED if status == 429 else Failure.OUTAGE
    return Unavailable(
        message, "PODA is failing or unavailable; retry later.", status=status, kind=kind
    )
