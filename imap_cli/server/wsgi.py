"""`imap serve` as a WSGI application, for a team mirror under a production server (gunicorn).

    gunicorn --workers 4 --worker-class gthread --threads 8 --timeout 120 \\
        'imap_cli.server.wsgi:create_app()'

API and object routes share one origin: object URLs (presigned) are `<public URL>/sds-data-local/
<key>?X-Amz-...`, so one gunicorn process behind one address serves both. Every worker opens the
same catalogue file (server/store.py: WAL mode, one writer at a time across processes), so an
upload or a release made through one worker is seen by all. The URL signing secret is kept in the
catalogue, the same for every worker (a URL signed by one is accepted by another) and across
restarts.

Configuration (create_app reads the environment; make_app takes arguments):
- IMAP_SERVE_ROOT: the archive folder (required).
- IMAP_SERVE_PUBLIC_URL: the base URL clients reach the server at, which signed URLs point to
  (required: behind a proxy the listening address is not what clients see, and a request's Host
  header is never trusted).
- IMAP_SERVE_API_KEY or IMAP_SERVE_API_KEY_FILE, IMAP_SERVE_ACCESS_TOKEN or
  IMAP_SERVE_ACCESS_TOKEN_FILE: credentials, as `imap serve`'s. Without any, set
  IMAP_SERVE_ALLOW_ANONYMOUS_WRITES=1 to accept that anyone who reaches the server may upload.
- IMAP_SERVE_RESCAN_INTERVAL: seconds between checks for files dropped in by hand (default 1).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imap_cli.server.config import ConfigProblem, ServerConfig, WSGIApp


def make_app(
    root: Path | str,
    *,
    public_url: str,
    api_key: str | None = None,
    access_token: str | None = None,
    allow_anonymous_writes: bool = False,
    rescan_interval: float | None = 1.0,
    log: Any = None,
) -> WSGIApp:
    """The WSGI application serving `root`'s API and, under /sds-data-local/, its objects.

    Brings the kept catalogue up to date first (one worker indexes, the others wait and find
    it up to date), then, in the background, re-lists every folder once (files rewritten in
    place). Raises ConfigProblem for a configuration that must not run.
    """
    from imap_cli.server.runner import (
        RequestLog,
        SameOrigin,
        log_writer,
        logged_apps,
        open_catalogue,
    )
    from imap_cli.server.signing import Signer

    if api_key is None and access_token is None and not allow_anonymous_writes:
        raise ConfigProblem("api_key", "is not set, nor access_token (anyone could upload)")
    config = ServerConfig(
        Path(root),
        objects_port=None,
        api_key=api_key,
        access_token=access_token,
        public_url=public_url,
        rescan_interval=rescan_interval,
        allow_anonymous_writes=True,  # the listening address is gunicorn's, checked above
    )
    if not Path(root).is_dir():
        raise ConfigProblem("root", "is not a folder")
    write = log_writer(log)
    catalogue = open_catalogue(config, write)
    threading.Thread(target=catalogue.scan, daemon=True, name="imap-serve-scan").start()
    signer = Signer(catalogue.store.secret("signing-secret"))
    records = RequestLog(max_records=1)  # nobody reads them here
    api, objects, _ = logged_apps(config, catalogue, signer, public_url.rstrip("/"), write, records)
    return SameOrigin(api, objects)


def _secret(environ: Mapping[str, str], name: str) -> str | None:
    """A credential from NAME, or from the file NAME_FILE names (one line)."""
    file = environ.get(f"{name}_FILE")
    if file:
        try:
            return Path(file).read_text().strip() or None
        except OSError as error:
            raise ConfigProblem(name.lower(), f"file {file}: {error.strerror}") from None
    return environ.get(name) or None


def create_app(environ: Mapping[str, str] | None = None) -> WSGIApp:
    """make_app() configured from the environment (see the module's docstring)."""
    env = os.environ if environ is None else environ
    root = env.get("IMAP_SERVE_ROOT")
    if not root:
        raise ConfigProblem("root", "is not set (IMAP_SERVE_ROOT)")
    public_url = env.get("IMAP_SERVE_PUBLIC_URL")
    if not public_url:
        raise ConfigProblem("public_url", "is not set (IMAP_SERVE_PUBLIC_URL)")
    interval = env.get("IMAP_SERVE_RESCAN_INTERVAL", "1")
    return make_app(
        root,
        public_url=public_url,
        api_key=_secret(env, "IMAP_SERVE_API_KEY"),
        access_token=_secret(env, "IMAP_SERVE_ACCESS_TOKEN"),
        allow_anonymous_writes=env.get("IMAP_SERVE_ALLOW_ANONYMOUS_WRITES") == "1",
        rescan_interval=float(interval) if interval.lower() != "none" else None,
        log=sys.stderr,
    )
