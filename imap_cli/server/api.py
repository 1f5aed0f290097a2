"""The SDC API look-alike: routes, auth prefixes, status codes and bodies as the real SDC.

Routes (each also under /api-key/... and /authorized/...):
  GET /query, /query/{proxy+}          science, ancillary, quicklook tables (queries.query)
  GET /spice-query                     kernels; type=spin|repoint|thruster: their own tables
  GET /spin-table, /repoint-table, /small-forces-table (and its old name /thruster-table)
  GET|HEAD /download, /download/{key}  302 to a presigned object URL, body {"download_url": ...}
  GET /upload, /upload/{proxy+}        200 JSON string: a presigned PUT URL; 409 if it exists
  POST /reprocess (prefixes only)      200 {"message": "Reprocess job queued", "reprocess_id"}
  GET /release (/api-key only)         flags the latest version of each matching series
  GET /processing-jobs, /processing-logs/{stream}, /metakernel   (server.operations)
Anything else: the gateway's 404 {"message": "Not Found"}.

Like the SDC's Lambdas, an answer larger than `max_response_bytes` (6,291,556; 0: no limit)
is the gateway's 500 {"message": "Internal Server Error"}; `/query` takes `offset`/`limit`
(the newer SDC revision) unless `pagination` is off.

Auth, like the gateway in front of the SDC:
- no api_key and no access_token: every prefix is open (like the dev SDC);
- api_key set: /api-key/... needs `x-api-key: <key>`, else 403 {"message": "Forbidden"};
- /authorized/... needs `Authorization: Bearer <access_token>` when a token is set, and always
  answers 401 {"message": "Unauthorized"} when only an api_key is set;
- with a credential set, upload is routed only under the prefixes (production routes it only
  under /api-key): a public /upload is 404 {"message": "Not Found"};
- public /query and /download see released files only: files found on disk count as
  released; science and quicklook uploads made while a credential is required start
  unreleased (public download: 403 "The file <key> is not a part of a public release yet.").
"""

from __future__ import annotations

import hmac
import http
import json
import posixpath
import re
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from imap_cli.server import queries
from imap_cli.server.catalogue import Catalogue
from imap_cli.server.signing import Signer

StartResponse = Callable[..., Any]
JSON = "application/json"
HTML = "text/html"

DOWNLOAD_NO_PATH = (
    "No file requested for download. Please provide a filename in the path. "
    "Eg. /download/path/to/file/filename.pkts"
)
DOWNLOAD_NOT_FOUND = (
    "File not found, make sure you include the full path to the file in the request, "
    "e.g. /download/path/to/file/filename.pkts."
)
UPLOAD_NO_PATH = (
    "No filename given for the upload. Please provide a filename in the path. "
    "Eg. /upload/path/to/file/filename.pkts"
)
UPLOAD_EXPIRY = 3600
# The most a Lambda behind API Gateway can send; larger answers are the gateway's 500.
MAX_RESPONSE_BYTES = 6_291_556
INTERNAL_ERROR = json.dumps({"message": "Internal Server Error"})
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::(\d+))?\Z")
NOT_RELEASED = "The file {} is not a part of a public release yet."


def _status(code: int) -> str:
    return f"{code} {http.HTTPStatus(code).phrase}"


def query_params(environ: dict[str, Any]) -> dict[str, str] | None:
    """The query string as API Gateway hands it to a lambda: None when empty, repeated
    names joined with commas, in order of first appearance."""
    raw = environ.get("QUERY_STRING", "")
    if not raw:
        return None
    raw = raw.encode("latin-1", "replace").decode("utf-8", "replace")
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True, errors="replace"):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


class ApiApp:
    """WSGI app of the SDC API."""

    def __init__(
        self,
        catalogue: Catalogue,
        signer: Signer,
        *,
        objects_port: int | None,
        bound_host: str,
        api_key: str | None = None,
        access_token: str | None = None,
        latency: float = 0.0,
        url_expiry: int = 86400,
        upload_expiry: int = UPLOAD_EXPIRY,
        log: Callable[[str], None] | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        pagination: bool = True,
    ) -> None:
        self.catalogue = catalogue
        self.signer = signer
        self.objects_port = objects_port
        self.bound_host = bound_host
        self.api_key = api_key
        self.access_token = access_token
        self.latency = latency
        self.url_expiry = url_expiry
        self.upload_expiry = upload_expiry
        self._log = log or (lambda _line: None)
        self.max_response_bytes = max_response_bytes
        self.pagination = pagination
        from imap_cli.server.operations import Operations

        self.operations = Operations(catalogue)

    # --- plumbing -------------------------------------------------------------------------

    def _answer(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        code: int,
        body: str,
        content_type: str = JSON,
        extra: Iterable[tuple[str, str]] = (),
    ) -> list[bytes]:
        data = body.encode()
        if 0 < self.max_response_bytes < len(data):
            # A Lambda cannot return more; API Gateway (HTTP API) answers this instead.
            code, data, content_type, extra = 500, INTERNAL_ERROR.encode(), JSON, ()
        headers = [("Content-Type", content_type), ("Content-Length", str(len(data))), *extra]
        start_response(_status(code), headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [data]

    def _message(self, environ, start_response, code: int, message: str) -> list[bytes]:
        return self._answer(environ, start_response, code, json.dumps({"message": message}))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._route(environ, start_response)
        except Exception:  # a bug here is the gateway's 500, and a traceback on the log
            self._log("internal error:\n" + traceback.format_exc().rstrip())
            return self._message(environ, start_response, 500, "Internal Server Error")

    def objects_base(self, environ: dict[str, Any]) -> str:
        """Base URL of the object host, as seen by this client (its Host header)."""
        match = _HOST.match(environ.get("HTTP_HOST", ""))
        # Behind TLS the object host is TLS too (werkzeug says "https" for both servers).
        scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
        if self.objects_port is None:
            host = match.group(0) if match else self.bound_host
            return f"{scheme}://{host}"
        host = match.group(1) if match else self.bound_host
        return f"{scheme}://{host}:{self.objects_port}"

    # --- routing ------------------------------------------------------------------------

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        prefix = ""
        for candidate in ("/api-key", "/authorized"):
            if path == candidate or path.startswith(candidate + "/"):
                prefix, path = candidate[1:], path[len(candidate) :]
                break
        base, slash, rest = path[1:].partition("/")
        base = "/" + base
        environ["imap.prefix"] = prefix
        handler = self._handler(method, base, bool(slash), prefix)
        if handler is None:
            return self._message(environ, start_response, 404, "Not Found")
        denied = self._authorize(environ, prefix, base)
        if denied is not None:
            code, message = denied
            return self._message(environ, start_response, code, message)
        if self.latency:
            time.sleep(self.latency)
        return handler(environ, start_response, rest if slash else None)

    def _handler(
        self, method: str, base: str, has_proxy: bool, prefix: str = ""
    ) -> Callable[..., Any] | None:
        if base == "/query" and method == "GET":
            return self._query
        if base == "/download" and method in ("GET", "HEAD"):
            return self._download
        if base == "/upload" and method == "GET":
            return self._upload
        if base == "/processing-logs" and method == "GET" and has_proxy:
            return self._processing_logs
        if has_proxy:
            return None  # only /query, /download and /upload have {proxy+} routes
        if base == "/spice-query" and method == "GET":
            return self._spice_query
        tables = ("/spin-table", "/repoint-table", "/small-forces-table", "/thruster-table")
        if base in tables and method == "GET":
            return self._non_spice_table
        if base == "/reprocess" and method == "POST" and prefix:  # no public route
            return self._reprocess
        if base == "/release" and method == "GET" and prefix == "api-key":
            return self._release
        if base == "/processing-jobs" and method == "GET":
            return self._processing_jobs
        if base == "/metakernel" and method == "GET":
            return self._metakernel
        return None

    def _authorize(self, environ: dict[str, Any], prefix: str, base: str) -> tuple[int, str] | None:
        if self.api_key is None and self.access_token is None:
            return None
        if prefix == "api-key":
            if self.api_key is None:
                return None
            given = environ.get("HTTP_X_API_KEY", "")
            if hmac.compare_digest(given.encode(), self.api_key.encode()):
                return None
            return 403, "Forbidden"
        if prefix == "authorized":
            given = environ.get("HTTP_AUTHORIZATION", "")
            if self.access_token is not None and hmac.compare_digest(
                given.encode(), f"Bearer {self.access_token}".encode()
            ):
                return None
            return 401, "Unauthorized"
        if base == "/upload":
            return 404, "Not Found"
        return None

    # --- handlers -----------------------------------------------------------------------

    def _query(self, environ, start_response, _rest) -> list[bytes]:
        self.catalogue.refresh()
        public = not environ.get("imap.prefix")
        answer = queries.query(
            self.catalogue, query_params(environ), public=public, pagination=self.pagination
        )
        return self._answer(environ, start_response, answer.status, answer.body)

    def _spice_query(self, environ, start_response, _rest) -> list[bytes]:
        self.catalogue.refresh()
        answer = queries.spice_query(self.catalogue, query_params(environ))
        return self._answer(environ, start_response, answer.status, answer.body)

    def _non_spice_table(self, environ, start_response, _rest) -> list[bytes]:
        self.catalogue.refresh()
        table = environ["PATH_INFO"].rsplit("/", 1)[-1].removesuffix("-table")
        table = "thruster" if table == "small-forces" else table  # the catalogue's old name
        answer = queries.non_spice_query(self.catalogue, table, query_params(environ) or {})
        return self._answer(environ, start_response, answer.status, answer.body)

    def _operation(self, environ, start_response, answer: Any) -> list[bytes]:
        return self._answer(
            environ, start_response, answer.status, answer.body, answer.content_type
        )

    def _reprocess(self, environ, start_response, _rest) -> list[bytes]:
        params = query_params(environ)
        answer = self.operations.reprocess(params)
        self._log(f"reprocess queued: {params or {}}")
        return self._operation(environ, start_response, answer)

    def _release(self, environ, start_response, _rest) -> list[bytes]:
        self.catalogue.refresh()
        return self._operation(
            environ, start_response, self.operations.release(query_params(environ))
        )

    def _processing_jobs(self, environ, start_response, _rest) -> list[bytes]:
        answer = self.operations.jobs(query_params(environ))
        return self._operation(environ, start_response, answer)

    def _processing_logs(self, environ, start_response, stream: str | None) -> list[bytes]:
        answer = self.operations.logs(stream or "")
        return self._operation(environ, start_response, answer)

    def _metakernel(self, environ, start_response, _rest) -> list[bytes]:
        self.catalogue.refresh()
        answer = self.operations.metakernel(query_params(environ))
        return self._operation(environ, start_response, answer)

    def _download(self, environ, start_response, key: str | None) -> list[bytes]:
        if not key:
            return self._answer(environ, start_response, 400, DOWNLOAD_NO_PATH, HTML)
        self.catalogue.refresh()
        if self.catalogue.get(key) is None:  # an exact catalogue key, never a filesystem path
            return self._answer(environ, start_response, 404, DOWNLOAD_NOT_FOUND, HTML)
        if not environ.get("imap.prefix") and not self.catalogue.is_released(key):
            return self._answer(environ, start_response, 403, NOT_RELEASED.format(key), HTML)
        url = self.signer.sign(self.objects_base(environ), "GET", key, self.url_expiry)
        body = json.dumps({"download_url": url})
        return self._answer(environ, start_response, 302, body, HTML, [("Location", url)])

    def _upload(self, environ, start_response, rest: str | None) -> list[bytes]:
        from imap_cli.core.errors import IMAPError
        from imap_cli.core.naming import parse

        if not rest:
            return self._answer(environ, start_response, 400, json.dumps(UPLOAD_NO_PATH))
        filename = posixpath.basename(rest)
        try:
            key = parse(filename).key
        except (IMAPError, ValueError):
            message = (
                f"error: {filename} does not match ancillary, science, cadence, or SPICE file "
                "naming convention."
            )
            return self._answer(environ, start_response, 400, json.dumps(message))
        self.catalogue.refresh()
        if (
            self.catalogue.get(key) is not None
            or self.catalogue.root.joinpath(*key.split("/")).exists()
        ):
            body = {
                "error": "FileAlreadyExists",
                "message": (
                    f"The file '{key}' already exists. Rename it or remove the existing file "
                    "before uploading again."
                ),
            }
            return self._answer(environ, start_response, 409, json.dumps(body))
        if (self.api_key or self.access_token) and parse(filename).kind in (
            "science",
            "quicklook",
        ):
            # As on the SDC, new science rows start unreleased (only meaningful when the
            # public routes differ from the authenticated ones).
            self.catalogue.mark_unreleased(key)
        url = self.signer.sign(self.objects_base(environ), "PUT", key, self.upload_expiry)
        return self._answer(environ, start_response, 200, json.dumps(url))
