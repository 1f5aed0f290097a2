"""Presigned object URLs: bound to method, key and time; refused S3-style otherwise."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from imap_cli.server.signing import BUCKET, Signer, redact

KEY = "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251001_v001.0000.cdf"


def split(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    key = unquote(parts.path).removeprefix(f"/{BUCKET}/")
    return key, dict(parse_qsl(parts.query))


def test_a_signed_url_is_accepted_for_its_method_and_key_only() -> None:
    now = [1_760_000_000.0]
    signer = Signer(b"k" * 32, clock=lambda: now[0])
    url = signer.sign("http://127.0.0.1:9", "GET", KEY, 60)
    assert url.startswith(f"http://127.0.0.1:9/{BUCKET}/imap/mag/")
    key, params = split(url)
    assert key == KEY
    assert signer.check("GET", KEY, params) is None
    assert signer.check("HEAD", KEY, params) is None  # HEAD with a GET URL, as S3
    assert signer.check("PUT", KEY, params).code == "SignatureDoesNotMatch"
    other = KEY.replace("20251001", "20251002")
    assert signer.check("GET", other, params).code == "SignatureDoesNotMatch"
    tampered = dict(params, **{"X-Amz-Expires": "999999"})
    assert signer.check("GET", KEY, tampered).code == "SignatureDoesNotMatch"
    now[0] += 61
    refusal = signer.check("GET", KEY, params)
    assert (refusal.code, refusal.message) == ("AccessDenied", "Request has expired")


def test_another_server_secret_refuses_the_url() -> None:
    url = Signer().sign("http://h", "PUT", KEY, 3600)
    key, params = split(url)
    assert Signer().check("PUT", key, params).code == "SignatureDoesNotMatch"


def test_missing_parameters_are_access_denied() -> None:
    assert Signer().check("GET", KEY, {}).code == "AccessDenied"


def test_redact_hides_signature_and_credential() -> None:
    url = Signer().sign("http://h", "GET", KEY, 60)
    query = urlsplit(url).query
    shown = redact(query)
    assert "REDACTED" in shown
    _, params = split(url)
    assert params["X-Amz-Signature"] not in shown
