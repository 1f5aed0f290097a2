"""An independent fake of the real IMAP SDC: an API Gateway origin and an S3 origin.

Written from the SDC's wire contract and the documented behaviour of AWS API Gateway and S3,
NOT from `imap serve` (imap_cli.server), so that a misunderstanding shared by `imap serve`
and `imap` shows up here. Two stdlib ThreadingHTTPServers on 127.0.0.1, on different ports:

* "api" (API Gateway + the SDC lambdas): `/query`, `/download/<key>` (302 to S3 with
  Content-Type text/html and body {"download_url": url}), `/upload/<name>` (200 with a JSON
  string URL signed for PUT, 409 for an existing key), under the public, `/api-key` and
  `/authorized` prefixes. Gateway errors are `{"message": "..."}` JSON (401/403/404/429/5xx).
* "s3" (presigned object URLs): `/<bucket>/<key>?X-Amz-Algorithm=...&X-Amz-Signature=<hex>`.
  The signature binds method, key, date, expiry and every other query parameter, so a HEAD or
  PUT on a GET URL, or an edited URL, is 403 SignatureDoesNotMatch (HEAD errors have no body,
  as on S3). Expired URLs are 403 AccessDenied "Request has expired". GET honours Range (one
  range; several ranges or a bad one give the whole object, as S3 does), If-Range (RFC 9110:
  a strong ETag or the exact Last-Modified date, else the whole object), If-Match and
  If-None-Match. ETags are S3's: the quoted MD5 for a single PUT, "<md5 of part md5s>-N" for a
  multipart upload. PUT needs Content-Length (411 otherwise), refuses chunked bodies (501), and
  a request carrying both a presigned query and an Authorization header is 400 InvalidArgument.

Every request is recorded (`fake.seen`) with its headers (and the body of a PUT) so tests can
assert what each origin received. Faults are queued with `fake.fault(...)`.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import hmac
import json
import math
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from quiet_http import QuietHTTPServer

BUCKET = "sds-data-123456789012"
REGION = "us-west-2"
ACCESS_KEY_ID = "ASIAFAKEFAKEFAKEFAKE"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjE+/fake//session+token==/AbC="
DOWNLOAD_EXPIRES = 86400  # URL_EXPIRE default of the download lambda
UPLOAD_EXPIRES = 3600
# What API Gateway answers when a Lambda's response is over its 6,291,556-byte limit.
GATEWAY_SIZE_ERRORS = {
    "http": (500, {"message": "Internal Server Error"}),  # HTTP API (v2), the SDC's
    "rest": (502, {"message": "Internal server error"}),  # REST API
}
XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'

SCIENCE_NAME = re.compile(
    r"imap_(?P<instrument>[^_]+)_(?P<data_level>[^_]+)_(?P<descriptor>[^_]+)_"
    r"(?P<start_date>\d{8})(?:-repoint(?P<repointing>\d{5})|-cr(?P<cr>\d{5}))?_"
    r"v(?P<major>\d{3})\.(?P<minor>\d{4})\.(?P<extension>[^.]+)"
)


# --- records and objects --------------------------------------------------------------------


@dataclass
class Seen:
    """One request as an origin received it."""

    server: str  # "api" or "s3"
    method: str
    path: str  # decoded path, no query
    raw_path: str  # the request target as sent
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    status: int = 0

    def header(self, name: str) -> str | None:
        """A header's value, by case-insensitive name."""
        return self.headers.get(name.lower())


@dataclass
class S3Object:
    """What S3 holds for one key."""

    data: bytes
    etag: str  # with its quotes, as S3 sends it
    last_modified: float = field(default_factory=lambda: time.time() - 3600)
    released: bool = True

    @property
    def http_date(self) -> str:
        """Last-Modified as S3 sends it (RFC 7231 IMF-fixdate)."""
        return formatdate(self.last_modified, usegmt=True)


def md5_etag(data: bytes) -> str:
    """The ETag S3 gives an object stored with one PUT: its quoted MD5."""
    return '"' + hashlib.md5(data).hexdigest() + '"'


def multipart_etag(data: bytes, parts: int) -> str:
    """The ETag S3 gives a multipart upload: MD5 of the parts' binary MD5s, then -N."""
    size = max(1, math.ceil(len(data) / parts))
    digests = b"".join(hashlib.md5(data[i * size : (i + 1) * size]).digest() for i in range(parts))
    return f'"{hashlib.md5(digests).hexdigest()}-{parts}"'


def science_row(key: str, *, released: bool, ingested: str = "20250105 12:00:00") -> dict:
    """The /query row the SDC returns for a science file ."""
    name = key.rsplit("/", 1)[-1]
    found = SCIENCE_NAME.fullmatch(name)
    if not found:
        raise ValueError(f"not a science name: {name}")
    major, minor = int(found["major"]), int(found["minor"])
    return {
        "file_path": key,
        "instrument": found["instrument"],
        "data_level": found["data_level"],
        "descriptor": found["descriptor"],
        "start_date": found["start_date"],
        "repointing": int(found["repointing"]) if found["repointing"] else None,
        "major_version": major,
        "minor_version": minor,
        "version": f"v{major:03d}.{minor:04d}",
        "extension": found["extension"],
        "ingestion_date": ingested,
        "cr": int(found["cr"]) if found["cr"] else None,
        "crid": None,
        "released": released,
    }


def sdc_key_for(name: str) -> str | None:
    """The key the upload lambda computes for a basename, or None if it is not an IMAP name.

    The real lambda uses imap_data_access.generate_imap_file_path(...).construct_path(); so do
    we when the official client is installed, with a science/ancillary fallback otherwise.
    """
    try:
        import imap_data_access
        from imap_data_access.file_validation import generate_imap_file_path
    except ImportError:
        found = SCIENCE_NAME.fullmatch(name)
        if found:
            day = found["start_date"]
            return f"imap/{found['instrument']}/{found['data_level']}/{day[:4]}/{day[4:6]}/{name}"
        return None
    try:
        path = generate_imap_file_path(name).construct_path()
    except Exception:
        return None
    root = os.path.abspath(imap_data_access.config["DATA_DIR"])
    return os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")


# --- faults ---------------------------------------------------------------------------------


@dataclass
class Fault:
    """One queued misbehaviour; applies to the first `times` requests it matches."""

    server: str
    kind: str
    times: int = 1
    method: str | None = None
    path_contains: str | None = None
    when: Callable[[Seen], bool] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    used: int = 0

    def matches(self, seen: Seen) -> bool:
        return (
            self.server == seen.server
            and self.used < self.times
            and (self.method is None or self.method == seen.method)
            and (self.path_contains is None or self.path_contains in seen.path)
            and (self.when is None or self.when(seen))
        )


# --- the servers ----------------------------------------------------------------------------


class _Server(QuietHTTPServer):
    allow_reuse_address = True

    def __init__(self, fake: RealisticSDC, name: str, handler: type) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.fake = fake
        self.name = name

    def unexpected(self, request: Any, client_address: Any) -> None:
        # Not a hang-up (those are quiet): a bug in the fake, kept for the tests to check
        # rather than printed (capsys would take a server's traceback for the client's).
        error = sys.exc_info()[1]
        self.fake.server_errors.append(f"{self.name}: {type(error).__name__}: {error}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection does not hold a thread for long
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    # --- request plumbing ---

    def _record(self, body: bytes = b"") -> Seen:
        parts = urlsplit(self.path)
        seen = Seen(
            server=self.server.name,
            method=self.command,
            path=unquote(parts.path),
            raw_path=self.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.server.fake._record(seen)
        return seen

    def _read_body(self) -> bytes | None:
        """The request body by Content-Length; None when chunked (S3 refuses those)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        return self.rfile.read(int(length))

    def _send(
        self,
        seen: Seen,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        length: int | None = None,
    ) -> None:
        seen.status = status
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _cut(
        self,
        seen: Seen,
        status: int,
        body: bytes,
        headers: dict[str, str],
        stall: threading.Event | None = None,
    ) -> None:
        """Announce the whole body, send half of it, (wait for `stall`,) drop the connection."""
        seen.status = status
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        reached = self.server.fake.stall_reached
        reached.set()
        if stall is not None:
            stall.wait(timeout=20)  # a stalled object host: the client must not need it to end
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def do_GET(self) -> None:
        self.handle_request()

    def do_HEAD(self) -> None:
        self.handle_request()

    def do_PUT(self) -> None:
        self.handle_request()

    def do_POST(self) -> None:
        self.handle_request()

    def do_DELETE(self) -> None:
        self.handle_request()

    def handle_request(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class _ApiHandler(_Handler):
    """API Gateway in front of the SDC lambdas."""

    def version_string(self) -> str:
        return ""  # API Gateway sends no Server header worth imitating

    def _json(self, seen: Seen, status: int, data: Any, extra: dict[str, str] | None = None):
        headers = {
            "Content-Type": "application/json",
            "apigw-requestid": uuid.uuid4().hex[:16],
            **(extra or {}),
        }
        self._send(seen, status, json.dumps(data).encode(), headers)

    def _text(self, seen: Seen, status: int, text: str) -> None:
        # The download lambda returns plain strings; API Gateway labels them text/html.
        self._send(seen, status, text.encode(), {"Content-Type": "text/html"})

    def handle_request(self) -> None:
        body = self._read_body() or b""
        seen = self._record(body)
        fake = self.server.fake
        fault = fake._take_fault(seen)
        if fault is not None:
            self._api_fault(seen, fault)
            return
        segments = seen.path.split("/")[1:]
        prefix = ""
        if segments and segments[0] in ("api-key", "authorized"):
            prefix = segments.pop(0)
        route = segments[0] if segments else ""
        rest = "/".join(segments[1:])
        routes = {"query": ("GET",), "download": ("GET", "HEAD"), "upload": ("GET",)}
        if route not in routes or self.command not in routes[route]:
            self._json(seen, 404, {"message": "Not Found"})
            return
        if route == "upload" and prefix != "api-key":
            # Production routes uploads only under /api-key.
            self._json(seen, 404, {"message": "Not Found"})
            return
        denial = self._authorize(seen, prefix)
        if denial is not None:
            self._json(seen, denial[0], {"message": denial[1]})
            return
        authenticated = prefix != ""
        if route == "query":
            self._query(seen, authenticated)
        elif route == "download":
            self._download(seen, rest, authenticated)
        else:
            self._upload(seen, rest)

    def _authorize(self, seen: Seen, prefix: str) -> tuple[int, str] | None:
        fake = self.server.fake
        if prefix == "api-key":
            key = seen.header("x-api-key")
            if key is None:
                return 401, "Unauthorized"
            if key not in fake.api_keys:
                return 403, "Forbidden"
        elif prefix == "authorized":
            value = seen.header("authorization") or ""
            if not value:
                return 401, "Unauthorized"
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or token not in fake.tokens:
                return 403, "Forbidden"
        return None

    def _api_fault(self, seen: Seen, fault: Fault) -> None:
        opts = fault.options
        if fault.kind == "status":
            status = opts["status"]
            data = opts.get("body", {"message": "Internal Server Error"})
            raw = data if isinstance(data, bytes) else json.dumps(data).encode()
            headers = {"Content-Type": opts.get("content_type", "application/json")}
            headers.update(opts.get("headers", {}))
            self._send(seen, status, raw, headers)
        elif fault.kind == "drop":
            seen.status = -1
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:  # pragma: no cover - a test typo
            raise ValueError(f"unknown api fault {fault.kind}")

    # --- the lambdas ---

    def _query(self, seen: Seen, authenticated: bool) -> None:
        fake = self.server.fake
        params = dict(seen.query)
        page: tuple[int, int | None] | None = None
        if fake.pagination:  # the newer revision pops these before anything else
            offset, limit = params.pop("offset", None), params.pop("limit", None)
            if offset is not None or limit is not None:
                try:
                    page = (int(offset or 0), None if limit is None else int(limit))
                except ValueError:
                    self._json(seen, 400, "'offset' and 'limit' must be integers.")
                    return
                if page[0] < 0:
                    self._json(seen, 400, "'offset' must be greater than or equal to 0.")
                    return
                if page[1] is not None and page[1] <= 0:
                    self._json(seen, 400, "'limit' must be greater than 0.")
                    return
        table = params.pop("table", "science")
        if table != "science":
            self._json(seen, 500, {"message": "Internal Server Error"})  # KeyError upstream
            return
        version = params.pop("version", None)
        latest = params.pop("latest", None) == "true"
        if version is not None:
            found = re.fullmatch(r"v(\d{3})\.(\d{4})|v(\d{3})", version)
            if not found:
                self._json(seen, 400, "Invalid 'version' value. Use format 'vMMM.mmmm' or 'vXXX'.")
                return
            if found.group(3):
                params["minor_version"] = str(int(found.group(3)))
            else:
                params["major_version"] = str(int(found.group(1)))
                params["minor_version"] = str(int(found.group(2)))
        valid = [
            "file_path", "instrument", "data_level", "descriptor", "start_date", "repointing",
            "major_version", "minor_version", "ingestion_date", "cr", "crid", "released",
            "extension", "end_date", "ingestion_start_date", "ingestion_end_date",
        ]  # fmt: skip
        for name in params:
            if name not in valid:
                self._json(
                    seen,
                    400,
                    f"{name} is not a valid query parameter for science table. "
                    f"Valid query parameters are: {valid}",
                )
                return
        rows = [r for r in self.server.fake.rows if authenticated or r["released"]]
        rows = [r for r in rows if _row_matches(r, params)]
        if "major_version" not in params:
            rows = _rank(rows, latest)
        rows.sort(key=lambda r: r["file_path"])
        if page is not None:
            rows = rows[page[0] :] if page[1] is None else rows[page[0] : page[0] + page[1]]
        body = json.dumps(rows).encode()
        if 0 < fake.max_response_bytes < len(body):
            # A Lambda cannot return more; the gateway answers its generic error instead.
            self._json(seen, *GATEWAY_SIZE_ERRORS[fake.gateway])
            return
        self._send(seen, 200, body, {"Content-Type": "application/json"})

    def _download(self, seen: Seen, key: str, authenticated: bool) -> None:
        fake = self.server.fake
        if not key:
            self._text(
                seen,
                400,
                "No file requested for download. Please provide a filename in the path. "
                "Eg. /download/path/to/file/filename.pkts",
            )
            return
        obj = fake.objects.get(key)
        if obj is None:  # head_object failed
            self._text(
                seen,
                404,
                "File not found, make sure you include the full path to the file in the "
                "request, e.g. /download/path/to/file/filename.pkts.",
            )
            return
        if not authenticated and not obj.released:
            self._text(seen, 403, f"The file {key} is not a part of a public release yet.")
            return
        url = fake.presign("GET", key, DOWNLOAD_EXPIRES)
        body = json.dumps({"download_url": url}).encode()
        self._send(seen, 302, body, {"Location": url, "Content-Type": "text/html"})

    def _upload(self, seen: Seen, rest: str) -> None:
        fake = self.server.fake
        name = rest.rsplit("/", 1)[-1]
        if not name:
            self._json(
                seen,
                400,
                "No filename given for the upload. Please provide a filename in the path. "
                "Eg. /upload/path/to/file/filename.pkts",
            )
            return
        if seen.header("x-api-key") in fake.read_only_keys:
            # The authorizer context says scope == "read".
            self._json(seen, 403, "Upload access denied. Your API key has read-only permissions.")
            return
        key = sdc_key_for(name)
        if key is None:
            self._json(
                seen,
                400,
                f"error: {name} does not match ancillary, science, cadence, or SPICE file "
                "naming convention.",
            )
            return
        if key in fake.objects:
            if fake.conflict_style == "2024":
                self._json(seen, 409, f"{key} already exists.")
            else:
                self._json(
                    seen,
                    409,
                    {
                        "error": "FileAlreadyExists",
                        "message": f"The file '{key}' already exists. Rename it or remove the "
                        "existing file before uploading again.",
                    },
                )
            return
        self._json(seen, 200, fake.presign("PUT", key, UPLOAD_EXPIRES))


def _row_matches(row: dict, params: dict[str, str]) -> bool:
    for name, value in params.items():
        if name == "start_date":
            ok = row["start_date"] >= value
        elif name == "end_date":
            ok = row["start_date"] <= value  # the SDC compares the file's START date
        elif name == "ingestion_start_date":
            ok = row["ingestion_date"][:8] >= value
        elif name == "ingestion_end_date":
            ok = row["ingestion_date"][:8] <= value
        else:
            cell = row.get(name)
            ok = cell is not None and str(cell).lower() == value.lower()
        if not ok:
            return False
    return True


def _rank(rows: list[dict], latest: bool) -> list[dict]:
    """Default: every minor of each series' highest major; latest: the newest file only."""

    def series(r: dict) -> tuple:
        return r["instrument"], r["data_level"], r["descriptor"], r["start_date"], r["repointing"]

    best: dict[tuple, tuple[int, int]] = {}
    for r in rows:
        mine = (r["major_version"], r["minor_version"] if latest else 0)
        best[series(r)] = max(best.get(series(r), mine), mine)
    if latest:
        return [r for r in rows if (r["major_version"], r["minor_version"]) == best[series(r)]]
    return [r for r in rows if r["major_version"] == best[series(r)][0]]


class _S3Handler(_Handler):
    """S3 answering presigned URLs."""

    def version_string(self) -> str:
        return "AmazonS3"

    def _amz_headers(self) -> dict[str, str]:
        return {
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": uuid.uuid4().hex,
        }

    def _error(self, seen: Seen, status: int, code: str, message: str, **extra: str) -> None:
        request_id = uuid.uuid4().hex[:16].upper()
        fields = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
        xml = (
            f"{XML_HEADER}<Error><Code>{code}</Code><Message>{message}</Message>{fields}"
            f"<RequestId>{request_id}</RequestId><HostId>{uuid.uuid4().hex}</HostId></Error>"
        ).encode()
        headers = {**self._amz_headers(), "Content-Type": "application/xml"}
        if self.command == "HEAD":
            # S3 answers a failed HEAD with the status and no body.
            self._send(seen, status, b"", {**self._amz_headers()}, length=0)
        else:
            self._send(seen, status, xml, headers)

    def handle_request(self) -> None:
        fake = self.server.fake
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        body = b"" if chunked else (self._read_body() or b"")
        seen = self._record(body)
        if chunked:
            self._error(
                seen,
                501,
                "NotImplemented",
                "A header you provided implies functionality that is not implemented",
                Header="Transfer-Encoding",
            )
            self.close_connection = True  # the chunked body was not read
            return
        _, _, rest = seen.path.partition("/")
        bucket, _, key = rest.partition("/")
        problem = self._check_auth(seen, key)
        if problem is not None:
            self._error(seen, *problem[:3], **problem[3])
            return
        fault = fake._take_fault(seen)
        if fault is not None and self._s3_fault(seen, fault, bucket, key):
            return
        ignore_range = fault is not None and fault.kind == "ignore-range"
        cut = fault is not None and fault.kind in ("cut", "stall")
        stall = (
            fault.options.get("release", fake.stopping) if cut and fault.kind == "stall" else None
        )
        if self.command in ("GET", "HEAD"):
            self._get(seen, key, ignore_range=ignore_range, cut=cut, stall=stall)
        elif self.command == "PUT":
            self._put(seen, key)
        else:
            self._error(
                seen, 405, "MethodNotAllowed", "The specified method is not allowed against this "
                "resource.", Method=self.command, ResourceType="OBJECT",
            )  # fmt: skip
        if fault is not None and "then" in fault.options:
            fault.options["then"]()  # e.g. replace the object after the first answer

    def _check_auth(self, seen: Seen, key: str) -> tuple[int, str, str, dict] | None:
        fake = self.server.fake
        params = seen.query
        if "X-Amz-Signature" not in params:
            return 403, "AccessDenied", "Access Denied", {}
        if seen.header("authorization"):
            return (
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
                {"ArgumentName": "Authorization"},
            )
        expected = fake.signature(seen.method, key, params)
        if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
            return (
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
                {"AWSAccessKeyId": ACCESS_KEY_ID},
            )
        signed_at = calendar.timegm(time.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
        expires = signed_at + int(params["X-Amz-Expires"])
        if time.time() > expires:
            return (
                403,
                "AccessDenied",
                "Request has expired",
                {
                    "X-Amz-Expires": params["X-Amz-Expires"],
                    "Expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
                    "ServerTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
            )
        return None

    def _s3_fault(self, seen: Seen, fault: Fault, bucket: str, key: str) -> bool:
        """Apply a fault that replaces the answer; False for faults that shape a normal one."""
        if fault.kind == "slowdown":
            self._error(seen, 503, "SlowDown", "Please reduce your request rate.")
        elif fault.kind == "internal":
            self._error(seen, 500, "InternalError", "We encountered an internal error. "
                        "Please try again.")  # fmt: skip
        elif fault.kind == "nosuchkey":
            self._error(seen, 404, "NoSuchKey", "The specified key does not exist.", Key=key)
        elif fault.kind == "expired":
            self._error(seen, 403, "AccessDenied", "Request has expired")
        elif fault.kind == "redirect":
            # S3's 307 for a bucket not yet visible at this endpoint: same query, new place.
            target_bucket = fault.options.get("bucket", bucket + "-redirect")
            query = urlsplit(seen.raw_path).query
            location = f"{self.server.fake.s3_origin}/{target_bucket}/{quote(key)}?{query}"
            request_id = uuid.uuid4().hex[:16].upper()
            xml = (
                f"{XML_HEADER}<Error><Code>TemporaryRedirect</Code><Message>Please re-send this "
                "request to the specified temporary endpoint. Continue to use the original "
                f"request endpoint for future requests.</Message><Endpoint>127.0.0.1</Endpoint>"
                f"<Bucket>{bucket}</Bucket><RequestId>{request_id}</RequestId></Error>"
            ).encode()
            self._send(
                seen,
                307,
                xml,
                {**self._amz_headers(), "Location": location, "Content-Type": "application/xml"},
            )
        elif fault.kind in ("ignore-range", "cut", "stall"):
            return False
        else:  # pragma: no cover - a test typo
            raise ValueError(f"unknown s3 fault {fault.kind}")
        return True

    def _get(
        self,
        seen: Seen,
        key: str,
        *,
        ignore_range: bool,
        cut: bool,
        stall: threading.Event | None = None,
    ) -> None:
        obj = self.server.fake.objects.get(key)
        if obj is None:
            self._error(seen, 404, "NoSuchKey", "The specified key does not exist.", Key=key)
            return
        headers = {
            **self._amz_headers(),
            "Last-Modified": obj.http_date,
            "ETag": obj.etag,
            "Accept-Ranges": "bytes",
            "Content-Type": "binary/octet-stream",
        }
        if_match = seen.header("if-match")
        if if_match is not None and obj.etag not in _etags(if_match) and if_match != "*":
            self._error(seen, 412, "PreconditionFailed", "At least one of the pre-conditions "
                        "you specified did not hold", Condition="If-Match")  # fmt: skip
            return
        if_none = seen.header("if-none-match")
        if if_none is not None and (obj.etag in _etags(if_none) or if_none == "*"):
            self._send(seen, 304, b"", {k: headers[k] for k in ("ETag", "Last-Modified")})
            return
        size = len(obj.data)
        wanted = None if ignore_range else _one_range(seen.header("range"), size)
        if wanted is not None and not _if_range_holds(seen.header("if-range"), obj):
            wanted = None  # the validator changed: the whole object, 200
        if wanted == "unsatisfiable":
            self._error(
                seen,
                416,
                "InvalidRange",
                "The requested range is not satisfiable",
                RangeRequested=seen.header("range") or "",
                ActualObjectSize=str(size),
            )
            return
        status, data = 200, obj.data
        if isinstance(wanted, tuple):
            first, last = wanted
            status, data = 206, obj.data[first : last + 1]
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        if cut and self.command == "GET":
            self._cut(seen, status, data, headers, stall)
        else:
            self._send(seen, status, data, headers)

    def _put(self, seen: Seen, key: str) -> None:
        if seen.header("content-length") is None:
            self._error(seen, 411, "MissingContentLength",
                        "You must provide the Content-Length HTTP header.")  # fmt: skip
            return
        content_md5 = seen.header("content-md5")
        if content_md5 is not None:
            import base64

            if base64.b64encode(hashlib.md5(seen.body).digest()).decode() != content_md5:
                self._error(seen, 400, "BadDigest", "The Content-MD5 you specified did not "
                            "match what we received.")  # fmt: skip
                return
        fake = self.server.fake
        obj = S3Object(seen.body, md5_etag(seen.body), time.time(), released=False)
        with fake.lock:
            fake.objects[key] = obj
        self._send(seen, 200, b"", {**self._amz_headers(), "ETag": obj.etag})


def _etags(value: str) -> list[str]:
    return [v.strip() for v in value.split(",")]


def _one_range(value: str | None, size: int) -> tuple[int, int] | str | None:
    """S3's reading of a Range header: one byte range, or None (ignored) for anything else."""
    if not value:
        return None
    found = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
    if not found or (not found.group(1) and not found.group(2)):
        return None  # several ranges or bad syntax: S3 sends the whole object
    first_text, last_text = found.groups()
    if not first_text:  # suffix: the last N bytes
        count = int(last_text)
        if count == 0:
            return "unsatisfiable"
        return max(0, size - count), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size:
        return "unsatisfiable"
    if last < first:
        return None
    return first, min(last, size - 1)


def _if_range_holds(value: str | None, obj: S3Object) -> bool:
    """RFC 9110 §13.1.5: a strong ETag compared strongly, or exactly the Last-Modified date."""
    if value is None:
        return True
    value = value.strip()
    if value.startswith('"'):
        return value == obj.etag
    if value.startswith("W/"):
        return False
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return False
    return int(when) == int(obj.last_modified)


# --- the fake -------------------------------------------------------------------------------


class RealisticSDC:
    """The two origins, their state (objects, query rows, credentials), the log and faults.

    Use as a context manager; `api_url` is what IMAP_DATA_ACCESS_URL should be.
    """

    api_handler: type = _ApiHandler  # a subclass may add routes (see realistic_ops.py)

    def __init__(
        self,
        *,
        api_keys: tuple[str, ...] = (),
        tokens: tuple[str, ...] = (),
        read_only_keys: tuple[str, ...] = (),
    ) -> None:
        self.api_keys = set(api_keys) | set(read_only_keys)
        self.read_only_keys = set(read_only_keys)
        self.tokens = set(tokens)
        self.objects: dict[str, S3Object] = {}
        self.rows: list[dict] = []
        self.conflict_style = "json"  # or "2024": the JSON string "<key> already exists."
        # Lambda responses over this many bytes fail at the gateway (0: no limit), as
        # GATEWAY_SIZE_ERRORS[gateway]; pagination: /query takes offset/limit (newer revision).
        self.max_response_bytes = 0
        self.gateway = "http"
        self.pagination = False
        self.seen: list[Seen] = []
        self.server_errors: list[str] = []  # exceptions in handlers other than hang-ups
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self._secret = os.urandom(32)
        self._expired_urls: dict[str, int] = {}
        self.stopping = threading.Event()  # releases stalled answers when the fake stops
        self.stall_reached = threading.Event()  # a cut or stalled body has been half sent
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    # --- life ---

    def start(self) -> RealisticSDC:
        """Bind both servers on 127.0.0.1 (free ports) and serve in daemon threads."""
        self.api = _Server(self, "api", self.api_handler)
        self.s3 = _Server(self, "s3", _S3Handler)
        for server in (self.api, self.s3):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop both servers and close their sockets."""
        self.stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> RealisticSDC:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """The SDC API base URL (no prefix)."""
        return f"http://127.0.0.1:{self.api.server_address[1]}"

    @property
    def s3_origin(self) -> str:
        """scheme://host:port of the object store."""
        return f"http://127.0.0.1:{self.s3.server_address[1]}"

    # --- state ---

    def add_science(
        self,
        key: str,
        data: bytes,
        *,
        released: bool = True,
        etag: str | None = None,
        multipart: int = 0,
    ) -> S3Object:
        """Store a science object in S3 and index it for /query, as the SDC's indexer does."""
        if etag is None:
            etag = multipart_etag(data, multipart) if multipart else md5_etag(data)
        obj = S3Object(data, etag, released=released)
        with self.lock:
            self.objects[key] = obj
            self.rows.append(science_row(key, released=released))
        return obj

    def expire_next_urls(self, key: str, count: int = 1) -> None:
        """The next `count` download URLs for key are issued already expired (signed 2 days
        ago with the usual 86400 s expiry), as when a URL waits too long before use."""
        self._expired_urls[key] = count

    def fault(
        self,
        server: str,
        kind: str,
        *,
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        when: Callable[[Seen], bool] | None = None,
        **options: Any,
    ) -> Fault:
        """Queue a fault. api kinds: status (status=, body=, headers=, content_type=), drop.
        cut, stall and ignore-range may carry then= (a callable run after the answer).
        s3 kinds: cut, stall (half the body, then wait for the release= Event or the fake's
        stop), ignore-range, slowdown, internal, nosuchkey, expired, redirect."""
        fault = Fault(server, kind, times, method, path_contains, when, options)
        with self.lock:
            self.faults.append(fault)
        return fault

    # --- signing ---

    def presign(self, method: str, key: str, expires: int) -> str:
        """A SigV4-shaped presigned URL for key on the S3 origin."""
        signed_at = time.time()
        with self.lock:
            if method == "GET" and self._expired_urls.get(key):
                self._expired_urls[key] -= 1
                signed_at -= 2 * 86400
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(signed_at))
        params = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{ACCESS_KEY_ID}/{stamp[:8]}/{REGION}/s3/aws4_request",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": str(expires),
            # Lambdas sign with temporary credentials, so real URLs carry a session token
            # full of characters that must stay percent-encoded (+ / =).
            "X-Amz-Security-Token": SESSION_TOKEN,
            "X-Amz-SignedHeaders": "host",
        }
        params["X-Amz-Signature"] = self.signature(method, key, params)
        return f"{self.s3_origin}/{BUCKET}/{quote(key)}?{urlencode(params)}"

    def signature(self, method: str, key: str, params: dict[str, str]) -> str:
        """HMAC over method, key and every query parameter but the signature itself."""
        canonical = "\n".join(
            [method, key]
            + [f"{k}={v}" for k, v in sorted(params.items()) if k != "X-Amz-Signature"]
        )
        return hmac.new(self._secret, canonical.encode(), hashlib.sha256).hexdigest()

    # --- log ---

    def _record(self, seen: Seen) -> None:
        with self.lock:
            self.seen.append(seen)

    def _take_fault(self, seen: Seen) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(seen):
                    fault.used += 1
                    return fault
        return None

    def requests(
        self, server: str, method: str | None = None, path_contains: str | None = None
    ) -> list[Seen]:
        """The recorded requests to one origin, optionally by method and path."""
        with self.lock:
            return [
                s
                for s in self.seen
                if s.server == server
                and (method is None or s.method == method)
                and (path_contains is None or path_contains in s.path)
            ]

    def iter_headers(self, server: str) -> Iterator[dict[str, str]]:
        """Every header dict one origin received."""
        for seen in self.requests(server):
            yield seen.headers
