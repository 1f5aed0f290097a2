"""The object host of `imap serve`: S3-like GET/HEAD/PUT behind presigned URLs."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from imap_cli.core.naming import parse
from imap_cli.server import RunningServer, start_server
from imap_cli.server.demo import build_demo

KEY = parse("imap_mag_l1a_norm-mago_20251001_v001.0000.cdf").key
NEW = "imap_swe_l1a_sci_20251230_v001.0000.cdf"


@pytest.fixture(scope="module")
def ro_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    build_demo(root)
    big = root / parse("imap_hit_l1a_pulse-height-events_20251231_v001.0000.cdf").key
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(os.urandom(5 * 1024 * 1024 + 17))
    return root


@pytest.fixture(scope="module", params=["plain", "middleware"])
def ro(ro_root: Path, request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """Read-only server, bare or with a pass-through objects middleware."""
    middleware = (lambda app: app) if request.param == "middleware" else None
    with start_server(ro_root, objects_middleware=middleware, rescan_interval=None) as server:
        yield server


def signed(server: RunningServer, key: str = KEY) -> str:
    response = requests.get(f"{server.url}/download/{key}", allow_redirects=False)
    assert response.status_code == 302
    return response.headers["Location"]


def test_get_serves_bytes_with_s3_headers(ro: RunningServer, ro_root: Path):
    data = (ro_root / KEY).read_bytes()
    response = requests.get(signed(ro))
    assert response.status_code == 200
    assert response.content == data
    headers = response.headers
    assert headers["Content-Length"] == str(len(data))
    assert headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Type"] == "binary/octet-stream"
    modified = parsedate_to_datetime(headers["Last-Modified"])
    assert int(modified.timestamp()) == int((ro_root / KEY).stat().st_mtime)


def test_a_large_file_streams_intact(ro: RunningServer, ro_root: Path):
    key = parse("imap_hit_l1a_pulse-height-events_20251231_v001.0000.cdf").key
    data = (ro_root / key).read_bytes()
    with requests.get(signed(ro, key), stream=True) as response:
        received = b"".join(response.iter_content(1 << 16))
    assert received == data
    assert response.headers["ETag"].strip('"') == hashlib.md5(data).hexdigest()


def test_head_gives_headers_only(ro: RunningServer, ro_root: Path):
    response = requests.head(signed(ro))
    assert response.status_code == 200 and response.content == b""
    assert response.headers["Content-Length"] == str((ro_root / KEY).stat().st_size)


@pytest.mark.parametrize(
    ("header", "status", "piece"),
    [
        ("bytes=10-19", 206, slice(10, 20)),
        ("bytes=10-", 206, slice(10, None)),
        ("bytes=-5", 206, slice(-5, None)),
        ("bytes=0-0", 206, slice(0, 1)),
        ("bytes=100-999999999", 206, slice(100, None)),
        ("bytes=0-1,5-6", 200, slice(None)),  # several ranges: the whole object, as S3
        ("bytes=5-2", 200, slice(None)),  # invalid: ignored
        ("items=0-1", 200, slice(None)),
    ],
)
def test_range(ro: RunningServer, ro_root: Path, header: str, status: int, piece: slice):
    data = (ro_root / KEY).read_bytes()
    response = requests.get(signed(ro), headers={"Range": header})
    assert response.status_code == status
    assert response.content == data[piece]
    assert response.headers["Content-Length"] == str(len(data[piece]))
    if status == 206:
        start = range(len(data))[piece][0]
        end = start + len(data[piece]) - 1
        assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"


def test_unsatisfiable_range_is_416_with_s3_xml(ro: RunningServer, ro_root: Path):
    size = (ro_root / KEY).stat().st_size
    response = requests.get(signed(ro), headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{size}"
    assert "<Code>InvalidRange</Code>" in response.text
    assert response.headers["Content-Type"] == "application/xml"


def test_if_range(ro: RunningServer, ro_root: Path):
    url = signed(ro)
    full = requests.get(url)
    etag, modified = full.headers["ETag"], full.headers["Last-Modified"]
    data = full.content
    cases = [
        (etag, 206, data[4:8]),
        ('"0123456789abcdef0123456789abcdef"', 200, data),
        (f"W/{etag}", 200, data),
        (modified, 206, data[4:8]),
        (
            format_datetime(parsedate_to_datetime(modified).replace(year=2000), usegmt=True),
            200,
            data,
        ),
    ]
    for if_range, status, body in cases:
        response = requests.get(url, headers={"Range": "bytes=4-7", "If-Range": if_range})
        assert (response.status_code, response.content) == (status, body), if_range


def test_conditional_requests(ro: RunningServer):
    url = signed(ro)
    etag = requests.head(url).headers["ETag"]
    assert requests.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert requests.get(url, headers={"If-Match": etag}).status_code == 200
    failed = requests.get(url, headers={"If-Match": '"nope"'})
    assert failed.status_code == 412 and "<Code>PreconditionFailed</Code>" in failed.text


def test_bad_or_expired_signatures_are_403_xml(ro: RunningServer, ro_root: Path):
    url = signed(ro)
    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=00")
    response = requests.get(tampered)
    assert response.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in response.text
    unsigned = url.split("?", 1)[0]
    response = requests.get(unsigned)
    assert response.status_code == 403 and "<Code>AccessDenied</Code>" in response.text
    # a download URL does not allow a PUT
    response = requests.put(url, data=b"x")
    assert response.status_code == 403 and "SignatureDoesNotMatch" in response.text
    assert (ro_root / KEY).read_bytes() != b"x"
    with start_server(ro_root, url_expiry=-10, rescan_interval=None) as expired:
        response = requests.get(f"{expired.url}/download/{KEY}")
        assert response.status_code == 403
        assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in response.text


def test_unknown_bucket_or_method(ro: RunningServer):
    assert requests.get(f"{ro.objects_url}/other-bucket/x").status_code == 404
    url = signed(ro)
    response = requests.delete(url)
    assert response.status_code == 405 and "MethodNotAllowed" in response.text


# --- PUT (each test writes: its own server) ----------------------------------------------


def upload_url(server: RunningServer, name: str = NEW) -> str:
    response = requests.get(f"{server.url}/upload/{name}")
    assert response.status_code == 200
    return response.json()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_put_stores_atomically_and_never_overwrites(sdc: RunningServer):
    url = upload_url(sdc)
    data = os.urandom(3 * 1024 * 1024 + 5)
    # credentials sent along (as the official client does) are ignored
    response = requests.put(url, data=data, headers={"x-api-key": "k", "Content-Type": ""})
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    path = sdc.root / parse(NEW).key
    assert path.read_bytes() == data
    assert leftovers(path.parent) == [NEW]
    # the same presigned URL again: refused, the file is unchanged
    again = requests.put(url, data=b"other")
    assert again.status_code == 412 and "PreconditionFailed" in again.text
    assert path.read_bytes() == data
    # the ETag served is the upload's
    assert requests.head(signed(sdc, parse(NEW).key)).headers["ETag"] == response.headers["ETag"]


def test_put_with_a_content_md5(sdc: RunningServer):
    url = upload_url(sdc)
    path = sdc.root / parse(NEW).key
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    response = requests.put(url, data=b"payload", headers={"Content-MD5": wrong})
    assert response.status_code == 400 and "<Code>BadDigest</Code>" in response.text
    assert not path.exists() and leftovers(path.parent) == []
    right = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    assert requests.put(url, data=b"payload", headers={"Content-MD5": right}).status_code == 200
    assert path.read_bytes() == b"payload"


def test_put_streamed_without_length_is_refused(sdc: RunningServer):
    url = upload_url(sdc)
    response = requests.put(url, data=iter([b"chunk1", b"chunk2"]))  # chunked encoding
    assert response.status_code == 501 and "<Code>NotImplemented</Code>" in response.text
    assert not (sdc.root / parse(NEW).key).exists()


def test_put_of_an_empty_file(sdc: RunningServer):
    response = requests.put(upload_url(sdc), data=b"")
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{hashlib.md5(b"").hexdigest()}"'
    assert (sdc.root / parse(NEW).key).read_bytes() == b""


def test_a_file_changed_in_place_gets_a_new_etag(sdc: RunningServer, demo_root: Path):
    url = signed(sdc)
    first = requests.get(url).headers["ETag"]
    (demo_root / KEY).write_bytes(b"rewritten by hand")
    response = requests.get(url)
    assert response.content == b"rewritten by hand"
    assert response.headers["ETag"] == f'"{hashlib.md5(b"rewritten by hand").hexdigest()}"' != first


def test_a_file_removed_after_signing_is_no_such_key(sdc: RunningServer, demo_root: Path):
    url = signed(sdc)
    (demo_root / KEY).unlink()
    response = requests.get(url)
    assert response.status_code == 404 and "<Code>NoSuchKey</Code>" in response.text
    assert urlsplit(url).path.endswith(KEY)
