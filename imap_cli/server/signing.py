"""Presigned object URLs, S3 style: an HMAC over method, key, date and lifetime.

The query parameters borrow S3's names (X-Amz-Date, X-Amz-Expires, X-Amz-Signature, ...) so that a
URL looks and is redacted like a real presigned S3 URL; the signature itself is a plain
HMAC-SHA256, not SigV4. Clients treat the URL as opaque, as they must with S3.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

BUCKET = "sds-data-local"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
SIGNATURE_PARAMS = ("X-Amz-Signature", "X-Amz-Credential")


@dataclass(frozen=True)
class Refusal:
    """Why a presigned request is refused: an S3 error code and message (always a 403)."""

    code: str
    message: str


class Signer:
    """Signs and checks object URLs. One secret per server: restarting invalidates old URLs."""

    def __init__(self, secret: bytes | None = None, *, clock=time.time) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._clock = clock

    def _mac(self, method: str, key: str, amz_date: str, expires: str) -> str:
        text = f"{method}\n{key}\n{amz_date}\n{expires}".encode()
        return hmac.new(self._secret, text, hashlib.sha256).hexdigest()

    def sign(self, base_url: str, method: str, key: str, expires_in: int) -> str:
        """A URL under base_url that allows `method` on `key` for `expires_in` seconds."""
        now = dt.datetime.fromtimestamp(int(self._clock()), dt.timezone.utc)
        amz_date = now.strftime(AMZ_DATE)
        expires = str(int(expires_in))
        params = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"imap-serve/{now:%Y%m%d}/local/s3/aws4_request",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": expires,
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Signature": self._mac(method, key, amz_date, expires),
        }
        path = quote(f"/{BUCKET}/{key}", safe="/")
        return f"{base_url.rstrip('/')}{path}?{urlencode(params)}"

    def check(self, method: str, key: str, params: Mapping[str, str]) -> Refusal | None:
        """None if the query string authorizes `method` on `key` now, else why not."""
        amz_date = params.get("X-Amz-Date", "")
        expires = params.get("X-Amz-Expires", "")
        signature = params.get("X-Amz-Signature", "")
        if not (amz_date and expires and signature):
            return Refusal("AccessDenied", "Access Denied")
        # HEAD may use a URL signed for GET, as with S3.
        methods = (method, "GET") if method == "HEAD" else (method,)
        if not any(
            hmac.compare_digest(self._mac(m, key, amz_date, expires), signature) for m in methods
        ):
            return Refusal(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )
        try:
            signed_at = dt.datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=dt.timezone.utc)
            lifetime = int(expires)
        except ValueError:
            return Refusal("AuthorizationQueryParametersError", "Invalid X-Amz-Date or Expires.")
        if signed_at.timestamp() + lifetime < self._clock():
            return Refusal("AccessDenied", "Request has expired")
        return None


def redact(query: str) -> str:
    """A query string with signatures and credentials replaced, for logs."""
    from urllib.parse import parse_qsl

    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "REDACTED" if k in SIGNATURE_PARAMS else v) for k, v in pairs])


LOGGED_CHARS = 512  # of a path, of a query string, in a log line
# Query parameters whose values never reach the log: keys, tokens, signatures...
SECRET_WORDS = ("key", "token", "signature", "credential", "secret", "password", "auth")


def cut(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters (and marked so)."""
    return text if len(text) <= limit else text[:limit] + "..."


def masked_query(query: str) -> str:
    """A query string as the log shows it: key-like values replaced by ****, then cut."""
    from urllib.parse import unquote_plus

    parts = []
    for part in query[: LOGGED_CHARS * 4].split("&"):
        name, sep, _value = part.partition("=")
        if sep and any(word in unquote_plus(name).lower() for word in SECRET_WORDS):
            part = f"{name}=****"
        parts.append(part)
    return cut("&".join(parts), LOGGED_CHARS)
