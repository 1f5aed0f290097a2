"""The SDC API look-alike: routes, auth prefixes, status codes and bodies as the real SDC.

Routes: _ROUTES below, each also under /api-key/... and /authorized/... where the SDC has it;
anything else is the gateway's 404 {"message": "Not Found"}.

Like the SDC's Lambdas, an answer larger than `max_response_bytes` (6,291,556; 0: no limit)
is the gateway's 500 {"message": "Internal Server Error"}; `/query` takes `offset`/`limit`
(the newer SDC revision) unless `pagination` is off.

Auth, like the gateway in front of the SDC:
- no api_key and no access_token: every prefix is open (like the dev SDC);
- once either is set, each prefix needs its own kind: /api-key/... needs `x-api-key: <key>`,
  else 403 {"message": "Forbidden"} (always, when only a token is set); /authorized/... needs
  `Authorization: Bearer <access_token>`, else 401 {"message": "Unauthorized"} (always, when
  only an api_key is set);
- with a credential set, upload is routed only under the prefixes (production routes it only
  under /api-key): a public /upload is 404 {"message": "Not Found"};
- public /query and /download see released files only: files found on disk count as
  released; science and quicklook uploads made while a credential is required start
  unreleased (public download: 403 "The file <key> is not a part of a public release yet.").
"""

from __future__ import annotations

import hmac
import html
import json
import posixpath
import time
import traceback
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, Map, Rule

from imap_cli.server import queries
from imap_cli.server.answer import HTML, INTERNAL_ERROR, JSON, Answer, ApiError, json_answer
from imap_cli.server.catalogue import Catalogue
from imap_cli.server.config import ServerConfig
from imap_cli.server.signing import Signer, masked_query

StartResponse = Callable[..., Any]

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
NOT_RELEASED = "The file {} is not a part of a public release yet."
PREFIXES = ("api-key", "authorized")


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


class _Rest(BaseConverter):
    """A {proxy+} tail: anything, empty, slashes and line breaks included (the handler judges)."""

    regex = r"[\s\S]*"
    part_isolating = False


# (endpoint, path, methods, the {proxy+} forms: "no", "also" or "only", prefixes, defaults)
_ROUTES: tuple[tuple[str, str, tuple[str, ...], str, tuple[str, ...], dict[str, str]], ...] = (
    ("query", "/query", ("GET",), "also", ("", *PREFIXES), {}),
    ("download", "/download", ("GET", "HEAD"), "also", ("", *PREFIXES), {}),
    ("upload", "/upload", ("GET",), "also", ("", *PREFIXES), {}),
    ("processing_logs", "/processing-logs", ("GET",), "only", ("", *PREFIXES), {}),
    ("spice_query", "/spice-query", ("GET",), "no", ("", *PREFIXES), {}),
    ("table", "/spin-table", ("GET",), "no", ("", *PREFIXES), {"table": "spin"}),
    ("table", "/repoint-table", ("GET",), "no", ("", *PREFIXES), {"table": "repoint"}),
    # the catalogue keeps the small-forces table under its old name
    ("table", "/small-forces-table", ("GET",), "no", ("", *PREFIXES), {"table": "thruster"}),
    ("table", "/thruster-table", ("GET",), "no", ("", *PREFIXES), {"table": "thruster"}),
    ("reprocess", "/reprocess", ("POST",), "no", PREFIXES, {}),  # no public route
    ("release", "/release", ("GET",), "no", ("api-key",), {}),
    ("processing_jobs", "/processing-jobs", ("GET",), "no", ("", *PREFIXES), {}),
    ("metakernel", "/metakernel", ("GET",), "no", ("", *PREFIXES), {}),
)


def route_map() -> Map:
    """The SDC's routes, each under every prefix that has it."""
    rules = []
    for endpoint, path, methods, proxy, prefixes, defaults in _ROUTES:
        for prefix in prefixes:
            base = f"/{prefix}{path}" if prefix else path
            tail = base + "/<rest:rest>"
            for form in {"no": [base], "also": [base, tail], "only": [tail]}[proxy]:
                rule_defaults = {"prefix": prefix, **defaults}
                rules.append(Rule(form, endpoint=endpoint, methods=methods, defaults=rule_defaults))
    # No redirects (no rule ends in a slash): the gateway answers a path as it is, or 404.
    return Map(rules, converters={"rest": _Rest}, merge_slashes=False, redirect_defaults=False)


class ApiApp:
    """WSGI app of the SDC API."""

    def __init__(
        self,
        config: ServerConfig,
        catalogue: Catalogue,
        signer: Signer,
        *,
        objects_base: str,
        log: Callable[[str], None] | None = None,
    ) -> None:
        from imap_cli.server.operations import Operations

        self.config = config
        self.catalogue = catalogue
        self.signer = signer
        # Where signed URLs point: the configured public URL or the listening address,
        # never the request's Host header (a client must not choose where others are sent).
        self.objects_base = objects_base
        self._log = log or (lambda _line: None)
        from imap_cli.server.emulation import JobEmulator

        emulator = JobEmulator(
            catalogue,
            delay=config.job_delay,
            polls=config.job_polls,
            failures=config.job_failures,
        )
        self.operations = Operations(catalogue, emulator=emulator)
        self.routes = route_map()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            answer = self._dispatch(environ)
        except ApiError as error:
            answer = error.answer
        except Exception:  # a bug here is the gateway's 500, and a traceback on the log
            self._log("internal error:\n" + traceback.format_exc().rstrip())
            answer = Answer(500, INTERNAL_ERROR)
        return self._send(environ, start_response, answer)

    def _send(
        self, environ: dict[str, Any], start_response: StartResponse, answer: Answer
    ) -> list[bytes]:
        data = answer.body.encode()
        code, content_type, extra = answer.status, answer.content_type, answer.headers
        if 0 < self.config.max_response_bytes < len(data):
            # A Lambda cannot return more; API Gateway (HTTP API) answers this instead.
            code, data, content_type, extra = 500, INTERNAL_ERROR.encode(), JSON, ()
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("X-Content-Type-Options", "nosniff"),  # a browser must not read JSON as HTML
            *extra,
        ]
        start_response(f"{code} {HTTPStatus(code).phrase}", headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [data]

    def _dispatch(self, environ: dict[str, Any]) -> Answer:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        endpoint, args = self._match(path, method)
        prefix = args.pop("prefix")
        self._authorize(environ, prefix, endpoint)
        if self.config.latency:
            time.sleep(self.config.latency)
        handler = getattr(self, f"_{endpoint}")
        return handler(environ, prefix, **args)

    def _match(self, path: str, method: str) -> tuple[str, dict[str, Any]]:
        """The endpoint and its arguments; the gateway's 404 for anything else."""
        not_found = ApiError.message(404, "Not Found")
        if path.startswith("//"):  # werkzeug would read it as "/": the gateway does not
            raise not_found
        try:
            endpoint, args = self.routes.bind("imap-serve").match(path, method)
        except HTTPException:  # no such route, or not with this method (no 405 either)
            raise not_found from None
        if method == "HEAD" and endpoint != "download":  # werkzeug adds HEAD to every GET
            raise not_found
        return endpoint, args

    def _authorize(self, environ: dict[str, Any], prefix: str, endpoint: str) -> None:
        config = self.config
        if config.api_key is None and config.access_token is None:
            return
        if prefix == "api-key":
            given = environ.get("HTTP_X_API_KEY", "")
            if config.api_key is not None and _same(given, config.api_key):
                return
            raise ApiError.message(403, "Forbidden")
        if prefix == "authorized":
            given = environ.get("HTTP_AUTHORIZATION", "")
            if config.access_token is not None and _same(given, f"Bearer {config.access_token}"):
                return
            raise ApiError.message(401, "Unauthorized")
        if endpoint == "upload":
            raise ApiError.message(404, "Not Found")

    def _query(self, environ: dict[str, Any], prefix: str, rest: str | None = None) -> Answer:
        self.catalogue.refresh()
        self.operations.tick()  # emulated reprocess jobs re-make files as time passes
        return queries.query(
            self.catalogue,
            query_params(environ),
            public=not prefix,
            pagination=self.config.pagination,
        )

    def _spice_query(self, environ: dict[str, Any], _prefix: str) -> Answer:
        self.catalogue.refresh()
        return queries.spice_query(self.catalogue, query_params(environ))

    def _table(self, environ: dict[str, Any], _prefix: str, table: str) -> Answer:
        self.catalogue.refresh()
        return queries.non_spice_query(self.catalogue, table, query_params(environ) or {})

    def _reprocess(self, environ: dict[str, Any], _prefix: str) -> Answer:
        params = query_params(environ)
        answer = self.operations.reprocess(params)
        self._log(f"reprocess queued: {masked_query(environ.get('QUERY_STRING', ''))}")
        return answer

    def _release(self, environ: dict[str, Any], _prefix: str) -> Answer:
        self.catalogue.refresh()
        return self.operations.release(query_params(environ))

    def _processing_jobs(self, environ: dict[str, Any], _prefix: str) -> Answer:
        return self.operations.jobs(query_params(environ))

    def _processing_logs(self, _environ: dict[str, Any], _prefix: str, rest: str) -> Answer:
        return self.operations.logs(rest)

    def _metakernel(self, environ: dict[str, Any], _prefix: str) -> Answer:
        self.catalogue.refresh()
        return self.operations.metakernel(query_params(environ))

    def _download(self, environ: dict[str, Any], prefix: str, rest: str | None = None) -> Answer:
        key = rest
        if not key:
            raise ApiError(Answer(400, DOWNLOAD_NO_PATH, HTML))
        self.catalogue.refresh()
        if self.catalogue.get(key) is None:  # an exact catalogue key, never a filesystem path
            raise ApiError(Answer(404, DOWNLOAD_NOT_FOUND, HTML))
        if not prefix and not self.catalogue.is_released(key):
            # The SDC answers text/html: a key is escaped, so no markup is reflected.
            raise ApiError(Answer(403, NOT_RELEASED.format(html.escape(key)), HTML))
        url = self.signer.sign(self.objects_base, "GET", key, self.config.url_expiry)
        body = json.dumps({"download_url": url})
        return Answer(302, body, HTML, (("Location", url),))

    def _upload(self, environ: dict[str, Any], _prefix: str, rest: str | None = None) -> Answer:
        if not rest:
            raise ApiError(json_answer(400, UPLOAD_NO_PATH))
        parsed = _parse_upload(posixpath.basename(rest))
        key = parsed.key
        self.catalogue.refresh()
        if (
            self.catalogue.get(key) is not None
            or self.catalogue.root.joinpath(*key.split("/")).exists()
        ):
            message = (
                f"The file '{key}' already exists. Rename it or remove the existing file "
                "before uploading again."
            )
            raise ApiError(json_answer(409, {"error": "FileAlreadyExists", "message": message}))
        if (self.config.api_key or self.config.access_token) and parsed.kind in (
            "science",
            "quicklook",
        ):
            # As on the SDC, new science rows start unreleased (only meaningful when the
            # public routes differ from the authenticated ones).
            self.catalogue.mark_unreleased(key)
        expiry = self.config.upload_expiry
        url = self.signer.sign(self.objects_base, "PUT", key, expiry)
        return json_answer(200, url)


def _parse_upload(filename: str) -> Any:
    """The IMAPName of an upload's file name; the SDC's 400 if it is not one."""
    from imap_cli.core.errors import IMAPError
    from imap_cli.core.naming import parse

    try:
        return parse(filename)
    except (IMAPError, ValueError):
        message = (
            f"error: {filename} does not match ancillary, science, cadence, or SPICE file "
            "naming convention."
        )
        raise ApiError(json_answer(400, message)) from None


def _same(given: str, expected: str) -> bool:
    """Compare a credential in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())
