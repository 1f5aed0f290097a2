"""Objects in the SDC's store: where one is (its presigned URL), what it is (size and ETag, from
a one-byte probe), and the headers and checksums that say so. Downloads, uploads and sync share
these.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from imap_cli.core.errors import (
    SDC_CONTACT,
    BadResponse,
    ConnectionFailed,
    Failure,
    Refused,
    terminal,
)

if TYPE_CHECKING:
    from imap_cli.core.http import SDCClient

# Most bytes taken from a socket or a file at once. Measured on loopback against nginx: 1 MiB
# keeps one core well ahead of the disk; 4-8 MiB gained nothing measurable and cost RSS.
CHUNK = 1 << 20
# The SDC's answers to GET /download/<key> that carry the object URL.
RESOLVE_OK = (200, 301, 302, 303, 307, 308)
# Labels in error messages: the same for every file, so one outage reads as one error.
RESOLVE_WHAT = "SDC download link"
# What a request to the object host that failed outright raises past SDCClient's retries (an
# unusable URL...). requests' errors subclass OSError: catch these before disk errors.
REQUEST_ERRORS = (urllib3.exceptions.HTTPError, requests.exceptions.RequestException)
_MD5_ETAG = re.compile(r"[0-9a-fA-F]{32}")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def object_url(sdc: SDCClient, key: str) -> str:
    """Ask the SDC where the bytes are: the 302's Location, or the body's `download_url`.

    The redirect is not followed here: the credential stays with the SDC, and the object
    host is then called by `SDCClient.storage` without it.
    """
    api_url = sdc.api_url("download", key)
    try:
        response = sdc.api("GET", api_url, ok=RESOLVE_OK, what=RESOLVE_WHAT)
    except Refused as error:
        # "...is not a part of a public release yet."; and without a key or token the public
        # route is all there is, so a bare 403 there means the same thing.
        public = not sdc.credential_headers()
        if "release" in error.message.lower() or (public and error.status == 403):
            error.kind = Failure.NOT_RELEASED
            error.hint = (
                "The file is not publicly released yet. With an SDC API key "
                f"({terminal('set-api-key', 'api_key')}) unreleased files can be fetched; "
                f"otherwise ask {SDC_CONTACT} "
                "when it will be."
            )
        raise
    try:
        location = response.headers.get("Location")
        if not location:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("download_url"), str):
                location = body["download_url"]
    finally:
        response.close()
    if not location:
        raise BadResponse(
            f"{RESOLVE_WHAT}: the SDC answered {response.status_code} without a download URL"
        )
    url = urljoin(api_url, location.strip())
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise BadResponse(f"{RESOLVE_WHAT}: the SDC sent a download URL that is not http(s)")
    return url


@dataclass(frozen=True)
class ObjectInfo:
    """What the storage host says of an object: its size (when it says) and its ETag."""

    size: int | None
    etag: str | None


def probe(sdc: SDCClient, url: str, *, what: str) -> ObjectInfo:
    """An object's size and ETag from one ranged GET of its first byte.

    Presigned GET URLs refuse HEAD, so one byte is asked for. Any answer but 206 or 200 raises
    its SDCError (with its `status`); requests' own errors pass through.
    """
    response = sdc.storage("GET", url, headers={"Range": "bytes=0-0"}, what=what)
    try:
        status = response.status_code
        if status == 206:
            found = content_range(response)
            size = found[1] if found else None
        elif status == 200:
            size = content_length(response)
        else:
            raise sdc.http_error(response, what)
        return ObjectInfo(size, response.headers.get("ETag"))
    finally:
        with contextlib.suppress(Exception):  # a broken connection must not hide the answer
            response.close()


def plain_md5(etag: str | None) -> str | None:
    """The MD5 in an ETag, when it is one: S3 multipart ETags ("abc-3") and weak ones are not."""
    if not etag:
        return None
    value = etag.strip()
    if value.startswith("W/"):
        return None
    value = value.strip('"')
    return value.lower() if _MD5_ETAG.fullmatch(value) else None


def file_md5(path: Path) -> str:
    """The MD5 of a local file, read in big chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_length(response: requests.Response) -> int | None:
    """Content-Length, when it is a number."""
    value = response.headers.get("Content-Length", "")
    return int(value) if value.strip().isdigit() else None


def content_range(response: requests.Response) -> tuple[int, int | None] | None:
    """(first byte, total or None) from a 206's Content-Range."""
    found = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if not found:
        return None
    total = None if found.group(3) == "*" else int(found.group(3))
    return int(found.group(1)), total


def strong_etag(response: requests.Response) -> str | None:
    """The response's ETag when it is a strong one (a weak ETag cannot tie bytes to an object)."""
    etag = response.headers.get("ETag")
    return etag.strip() if etag and not etag.strip().startswith("W/") else None


def network_failure(exc: Exception, url: str, what: str) -> ConnectionFailed:
    """A request to the object host that failed outright, naming the host only: the URL's
    query string holds the presigned signature."""
    host = urlsplit(url).netloc or "the storage host"
    return ConnectionFailed(
        f"{what}: network failure with {host} ({type(exc).__name__})",
        "The storage host the SDC points to could not be reached; retry later.",
    )
