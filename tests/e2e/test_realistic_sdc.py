"""imap-cli against an independent fake of the real SDC: API Gateway + lambdas, and S3.

`imap serve` and `imap` were written by the same team and could share a misunderstanding;
realistic_sdc.py was written from the SDC's wire contract and AWS's documented behaviour
instead (two
origins, S3 presigned URLs whose signature binds the method, S3 XML errors and ETags, API
Gateway {"message"} errors). Each test drives the client the way a user does (`imap ...`
through cli.app.main, or the Python API) and asserts what can be observed: exit code, files
byte-identical or absent, no `.part` left, one `Error:` line with a `Hint:`, no traceback, and
the headers each origin received.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from realistic_sdc import BUCKET, RealisticSDC, Seen, md5_etag, sdc_key_for

from imap_cli.cli.app import main
from imap_cli.core.download.pipeline import download_files
from imap_cli.core.errors import IntegrityError
from imap_cli.core.http import SDCClient
from imap_cli.core.settings import resolve

API_KEY = "realistic-api-key-0123456789"
TOKEN = "realistic-bearer-token-abcdef"
SIZE = 200_000  # several socket reads; small enough to keep the file fast


def name_for(day: int, version: str = "v001.0001") -> str:
    return f"imap_mag_l1a_norm-mago_202501{day:02d}_{version}.cdf"


def key_for(day: int, version: str = "v001.0001") -> str:
    return f"imap/mag/l1a/2025/01/{name_for(day, version)}"


def content(day: int, size: int = SIZE) -> bytes:
    return random.Random(day).randbytes(size)


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def fake() -> Iterator[RealisticSDC]:
    with RealisticSDC(api_keys=(API_KEY,), tokens=(TOKEN,)) as sdc:
        yield sdc
    assert sdc.server_errors == []  # the fake itself never failed


@pytest.fixture
def data_dir(fake: RealisticSDC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment pointing `imap` at the fake; returns the data dir."""
    data = tmp_path / "data"
    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", fake.api_url)
    monkeypatch.setenv("IMAP_DATA_DIR", str(data))
    return data


@pytest.fixture
def with_key(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IMAP_API_KEY", API_KEY)
    return data_dir


def imap(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def stock(fake: RealisticSDC, *days: int, **options: object) -> dict[str, bytes]:
    """Science objects for these days in the fake's S3; key -> bytes."""
    files = {}
    for day in days:
        files[key_for(day)] = content(day)
        fake.add_science(key_for(day), files[key_for(day)], **options)  # type: ignore[arg-type]
    return files


def local(data_dir: Path, key: str) -> Path:
    return data_dir.joinpath(*key.split("/"))


def assert_no_parts(data_dir: Path) -> None:
    if data_dir.exists():
        assert sorted(data_dir.rglob("*.part")) == []


def assert_error_lines(err: str, *fragments: str) -> None:
    """One `Error:` line per failure, a `Hint:`, no traceback, and the fragments in an error."""
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert errors, err
    assert any(line.startswith("Hint:") for line in err.splitlines()), err
    for fragment in fragments:
        assert any(fragment in line for line in errors), (fragment, err)


def assert_s3_saw_no_credentials(fake: RealisticSDC) -> None:
    seen = fake.requests("s3")
    assert seen, "the object store was never called"
    for request in seen:
        assert "x-api-key" not in request.headers, request
        assert "authorization" not in request.headers, request


def statuses(requests_seen: list[Seen]) -> list[int]:
    return [s.status for s in requests_seen]


# --- the fake itself behaves like S3 ----------------------------------------------------------


def test_fake_s3_binds_method_and_refuses_head_on_get_url(fake: RealisticSDC) -> None:
    key = key_for(1)
    stock(fake, 1)
    answer = requests.get(f"{fake.api_url}/download/{key}", allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    assert answer.headers["Content-Type"] == "text/html"
    url = answer.headers["Location"]
    assert answer.json() == {"download_url": url}
    assert url.startswith(f"{fake.s3_origin}/{BUCKET}/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&")
    assert requests.get(url, timeout=5).content == content(1)
    head = requests.head(url, timeout=5)
    assert (head.status_code, head.content) == (403, b"")
    put = requests.put(url, data=b"x", timeout=5)
    assert put.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in put.text
    edited = url.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401")
    assert requests.get(edited, timeout=5).status_code == 403
    both = requests.get(url, headers={"Authorization": "Bearer x"}, timeout=5)
    assert both.status_code == 400 and "<Code>InvalidArgument</Code>" in both.text
    ranged = {"Range": "bytes=5-9", "If-Range": md5_etag(content(1))}
    part = requests.get(url, headers=ranged, timeout=5)
    assert (part.status_code, part.headers["Content-Range"]) == (206, f"bytes 5-9/{SIZE}")
    stale = requests.get(url, headers={"Range": "bytes=5-9", "If-Range": '"0"'}, timeout=5)
    assert (stale.status_code, len(stale.content)) == (200, SIZE)


def test_fake_upload_key_matches_the_official_path_rules() -> None:
    assert sdc_key_for(name_for(2)) == key_for(2)
    assert sdc_key_for("imap_mag_l1a_nonsense") is None


# --- 1. query -----------------------------------------------------------------------------------


def test_query_with_key_uses_api_key_route_and_prints_the_sdc_rows(
    fake: RealisticSDC, with_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 1, 2)
    stock(fake, 3, released=False)  # only an authenticated caller sees it
    ran = imap(capsys, "query", "-i", "mag", "-l", "l1a", "--start-date", "20250101", "-o", "json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == sorted(fake.rows, key=lambda r: r["file_path"])
    (seen,) = fake.requests("api")
    assert seen.path == "/api-key/query"
    assert seen.header("x-api-key") == API_KEY
    assert seen.header("authorization") is None
    assert seen.query["instrument"] == "mag" and seen.query["data_level"] == "l1a"
    assert seen.query["start_date"] == "20250101"
    assert "Traceback" not in ran.err


def test_query_400_json_string_is_shown_verbatim_exit_2(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = (
        "descriptor is not a valid query parameter for science table. Valid query "
        "parameters are: ['file_path', 'instrument']"
    )
    fake.fault("api", "status", status=400, body=message, path_contains="/query")
    ran = imap(capsys, "query", "-i", "mag", "-o", "json")
    assert ran.code == 2
    assert_error_lines(ran.err, message)
    assert ran.out == ""


def test_query_gateway_403_forbidden_exit_4(
    fake: RealisticSDC, data_dir: Path, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMAP_API_KEY", "not-a-key-the-gateway-knows")
    ran = imap(capsys, "query", "-i", "mag", "-o", "json")
    assert ran.code == 4
    assert_error_lines(ran.err, "Forbidden")
    assert len(fake.requests("api")) == 1  # a refusal is not retried


def test_query_502_on_every_try_exit_3_with_the_sdc_hint(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fault("api", "status", times=100, status=502, body={"message": "Internal server error"})
    ran = imap(capsys, "query", "-i", "mag", "-o", "json")
    assert ran.code == 3
    assert_error_lines(ran.err, "502", "Internal server error")
    assert "imap-sdc@lasp.colorado.edu" in ran.err
    # The query once (a 502 may be an answer too large: not retried), then the first 4
    # windows of a split beside a query that matches nothing, so cannot be too large, and is
    # retried as usual (6 tries): bounded, and no window is split further.
    assert 2 <= len(fake.requests("api")) <= 11


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (429, {"message": "Too Many Requests"}, {"Retry-After": "0"}),
        (504, {"message": "Endpoint request timed out"}, {}),
    ],
)
def test_query_recovers_from_one_gateway_failure(
    fake: RealisticSDC,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    status: int,
    body: dict,
    headers: dict,
) -> None:
    stock(fake, 1)
    fake.fault("api", "status", status=status, body=body, headers=headers)
    ran = imap(capsys, "query", "-i", "mag", "-o", "json")
    assert ran.code == 0, ran.err
    assert [r["file_path"] for r in json.loads(ran.out)] == [key_for(1)]
    assert statuses(fake.requests("api")) == [status, 200]


# --- 2. download happy path ------------------------------------------------------------------


def test_download_follows_302_to_s3_without_credentials(
    fake: RealisticSDC, with_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = stock(fake, 1, 2, 3)
    ran = imap(capsys, "download", key_for(1), key_for(2), name_for(3))
    assert ran.code == 0, ran.err
    for key, data in files.items():
        assert local(with_key, key).read_bytes() == data
    assert_no_parts(with_key)
    api = fake.requests("api")
    assert sorted(s.path for s in api) == sorted(f"/api-key/download/{k}" for k in files)
    assert all(s.header("x-api-key") == API_KEY for s in api)
    assert_s3_saw_no_credentials(fake)
    assert {s.path for s in fake.requests("s3", "GET")} == {f"/{BUCKET}/{k}" for k in files}
    assert fake.requests("s3", "HEAD") == []


def test_download_with_token_only_bearer_to_api_nothing_to_s3(
    fake: RealisticSDC, data_dir: Path, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMAP_ACCESS_TOKEN", TOKEN)
    files = stock(fake, 4, released=False)  # only an authenticated route may have it
    ran = imap(capsys, "download", key_for(4))
    assert ran.code == 0, ran.err
    assert local(data_dir, key_for(4)).read_bytes() == files[key_for(4)]
    (api,) = fake.requests("api")
    assert api.path == f"/authorized/download/{key_for(4)}"
    assert api.header("authorization") == f"Bearer {TOKEN}"
    assert api.header("x-api-key") is None
    assert_s3_saw_no_credentials(fake)


# --- 3. ETags --------------------------------------------------------------------------------


def test_multipart_etag_downloads_without_md5_check(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    obj = fake.add_science(key_for(5), content(5), multipart=3)
    assert obj.etag.endswith('-3"')
    ran = imap(capsys, "download", key_for(5))
    assert ran.code == 0, ran.err
    assert local(data_dir, key_for(5)).read_bytes() == content(5)
    assert_no_parts(data_dir)


def test_wrong_plain_md5_etag_fails_the_file_never_at_final_path(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 1)
    fake.add_science(key_for(6), content(6), etag=md5_etag(b"some other bytes"))
    ran = imap(capsys, "download", key_for(1), key_for(6))
    assert ran.code == 1
    assert not local(data_dir, key_for(6)).exists()
    assert local(data_dir, key_for(1)).read_bytes() == content(1)
    assert_no_parts(data_dir)
    assert_error_lines(ran.err, key_for(6), "checksum")
    assert 2 <= len(fake.requests("s3", "GET", key_for(6))) <= 4  # restarts, bounded


def test_wrong_md5_is_an_integrity_error_in_the_python_api(
    fake: RealisticSDC, data_dir: Path
) -> None:
    fake.add_science(key_for(6), content(6), etag=md5_etag(b"x"))
    with SDCClient(resolve()) as sdc:
        (result,) = download_files(sdc, [key_for(6)], data_dir=data_dir, jobs=2)
    assert result.status == "failed" and isinstance(result.error, IntegrityError)
    assert not local(data_dir, key_for(6)).exists()


# --- 4. S3 faults ----------------------------------------------------------------------------


def no_range(seen: Seen) -> bool:
    return seen.header("range") is None


def test_cut_mid_body_resumes_with_range_and_if_range(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    obj = fake.add_science(key_for(7), content(7))
    fake.fault("s3", "cut", method="GET", when=no_range)
    ran = imap(capsys, "download", key_for(7))
    assert ran.code == 0, ran.err
    assert local(data_dir, key_for(7)).read_bytes() == content(7)
    assert_no_parts(data_dir)
    first, resume = fake.requests("s3", "GET")
    assert first.header("range") is None
    assert resume.header("range") == f"bytes={SIZE // 2}-"
    assert resume.header("if-range") == obj.etag
    assert resume.status == 206


def test_range_ignored_by_storage_restarts_from_zero(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 8)
    fake.fault("s3", "cut", method="GET", when=no_range)
    fake.fault("s3", "ignore-range", method="GET", when=lambda s: not no_range(s))
    ran = imap(capsys, "download", key_for(8))
    assert ran.code == 0, ran.err
    assert local(data_dir, key_for(8)).read_bytes() == content(8)
    assert_no_parts(data_dir)
    gets = fake.requests("s3", "GET")
    assert len(gets) == 2
    assert gets[1].header("range") is not None and gets[1].status == 200


def test_slowdown_twice_then_ok(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 9)
    fake.fault("s3", "slowdown", times=2, method="GET")
    ran = imap(capsys, "download", key_for(9))
    assert ran.code == 0, ran.err
    assert local(data_dir, key_for(9)).read_bytes() == content(9)
    assert statuses(fake.requests("s3", "GET")) == [503, 503, 200]


def test_expired_url_is_replaced_by_a_fresh_one(
    fake: RealisticSDC, with_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 10)
    fake.expire_next_urls(key_for(10))
    ran = imap(capsys, "download", key_for(10))
    assert ran.code == 0, ran.err
    assert local(with_key, key_for(10)).read_bytes() == content(10)
    assert len(fake.requests("api", "GET", "/download/")) == 2
    gets = fake.requests("s3", "GET")
    assert statuses(gets) == [403, 200]
    assert "X-Amz-Signature" in gets[0].query
    assert_s3_saw_no_credentials(fake)


def test_nosuchkey_from_s3_fails_that_file_only(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = stock(fake, 11, 12, 13)
    fake.fault("s3", "nosuchkey", times=100, path_contains=key_for(12))
    ran = imap(capsys, "download", *files)
    assert ran.code == 1
    assert not local(data_dir, key_for(12)).exists()
    for day in (11, 13):
        assert local(data_dir, key_for(day)).read_bytes() == files[key_for(day)]
    assert_no_parts(data_dir)
    assert_error_lines(ran.err, key_for(12), "The specified key does not exist")


# --- 5. --verify without HEAD -----------------------------------------------------------------


def test_verify_skips_a_matching_file_without_head(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 14)
    path = local(data_dir, key_for(14))
    path.parent.mkdir(parents=True)
    path.write_bytes(content(14))
    before = path.stat().st_mtime_ns
    ran = imap(capsys, "download", "--verify", key_for(14))
    assert ran.code == 0, ran.err
    assert path.read_bytes() == content(14) and path.stat().st_mtime_ns == before
    assert fake.requests("s3", "HEAD") == []
    # Only a small ranged GET: the file itself was not fetched again.
    assert all(s.header("range") for s in fake.requests("s3", "GET"))


def test_verify_redownloads_a_file_of_another_size(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 15)
    path = local(data_dir, key_for(15))
    path.parent.mkdir(parents=True)
    path.write_bytes(content(15)[:1000])
    ran = imap(capsys, "download", "--verify", key_for(15))
    assert ran.code == 0, ran.err
    assert path.read_bytes() == content(15)
    assert fake.requests("s3", "HEAD") == []
    assert any(s.header("range") is None and s.status == 200 for s in fake.requests("s3", "GET"))
    assert_no_parts(data_dir)


# --- 6. /download refusals --------------------------------------------------------------------


def test_download_404_plain_text_from_sdc(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 16)
    ran = imap(capsys, "download", key_for(16), key_for(17))
    assert ran.code == 1
    assert local(data_dir, key_for(16)).read_bytes() == content(16)
    assert not local(data_dir, key_for(17)).exists()
    assert_error_lines(ran.err, key_for(17), "SDC download link: 404 Not Found")
    # The SDC's advice to "include the full path" is not passed on: imap built the path.
    assert "full path" not in ran.err


def test_download_403_not_released_on_public_route(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 18)
    stock(fake, 19, released=False)
    ran = imap(capsys, "download", key_for(18), key_for(19))
    assert ran.code == 1
    assert not local(data_dir, key_for(19)).exists()
    assert local(data_dir, key_for(18)).read_bytes() == content(18)
    assert_error_lines(ran.err, key_for(19), "is not a part of a public release yet")
    assert fake.requests("s3", path_contains=key_for(19)) == []


# --- 7. upload --------------------------------------------------------------------------------


def write_upload(tmp_path: Path, day: int) -> Path:
    path = tmp_path / "out" / name_for(day, "v002.0001")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content(100 + day))
    return path


def test_upload_put_is_plain_and_complete(
    fake: RealisticSDC, with_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [write_upload(tmp_path, 1), write_upload(tmp_path, 2)]
    ran = imap(capsys, "upload", *map(str, paths))
    assert ran.code == 0, ran.err
    keys = [key_for(1, "v002.0001"), key_for(2, "v002.0001")]
    assert sorted(ran.out.split()) == sorted(keys)
    asks = fake.requests("api", "GET", "/upload/")
    assert sorted(s.path for s in asks) == sorted(f"/api-key/upload/{p.name}" for p in paths)
    assert all(s.header("x-api-key") == API_KEY for s in asks)
    puts = fake.requests("s3", "PUT")
    assert len(puts) == 2
    for path, key in zip(paths, keys):
        (put,) = [p for p in puts if p.path == f"/{BUCKET}/{key}"]
        assert put.status == 200
        assert put.header("content-length") == str(path.stat().st_size)
        assert put.header("content-type") in (None, "")
        assert put.header("transfer-encoding") is None
        assert put.body == path.read_bytes()
        assert fake.objects[key].data == path.read_bytes()
    assert_s3_saw_no_credentials(fake)


@pytest.mark.parametrize("style", ["json", "2024"])
def test_upload_409_is_reported_and_the_other_file_goes(
    fake: RealisticSDC,
    with_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    style: str,
) -> None:
    fake.conflict_style = style
    taken, fresh = write_upload(tmp_path, 3), write_upload(tmp_path, 4)
    taken_key = key_for(3, "v002.0001")
    fake.add_science(taken_key, b"already there")
    ran = imap(capsys, "upload", str(taken), str(fresh))
    assert ran.code == 1
    assert_error_lines(ran.err, f"{taken_key}: already in the SDC with different content than")
    assert "the SDC's copy has 13 bytes" in ran.err
    assert fake.objects[taken_key].data == b"already there"
    assert fake.objects[key_for(4, "v002.0001")].data == fresh.read_bytes()
    assert [p.path for p in fake.requests("s3", "PUT")] == [f"/{BUCKET}/{key_for(4, 'v002.0001')}"]


def test_upload_follows_s3_307_and_sends_the_whole_body_again(
    fake: RealisticSDC, with_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_upload(tmp_path, 5)
    key = key_for(5, "v002.0001")
    fake.fault("s3", "redirect", method="PUT", bucket=f"{BUCKET}-usw2")
    ran = imap(capsys, "upload", str(path))
    assert ran.code == 0, ran.err
    first, second = fake.requests("s3", "PUT")
    assert (first.status, first.path) == (307, f"/{BUCKET}/{key}")
    assert (second.status, second.path) == (200, f"/{BUCKET}-usw2/{key}")
    assert first.body == second.body == path.read_bytes()
    assert second.header("content-length") == str(len(path.read_bytes()))
    assert fake.objects[key].data == path.read_bytes()
    assert_s3_saw_no_credentials(fake)


# --- 8. no key over plain http to a remote host -------------------------------------------------


@pytest.mark.parametrize("command", ["query", "download", "upload"])
def test_key_never_sent_over_plain_http_to_a_remote_host(
    fake: RealisticSDC,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", "http://example.invalid")
    monkeypatch.setenv("IMAP_API_KEY", API_KEY)
    argv = {
        "query": ["query", "-i", "mag", "-o", "json"],
        "download": ["download", key_for(1)],
        "upload": ["upload", str(write_upload(tmp_path, 6))],
    }[command]
    ran = imap(capsys, *argv)
    assert ran.code == 2, ran.err
    assert_error_lines(ran.err, "plain http")
    assert "resolve" not in ran.err  # refused before any connection was tried
    assert fake.seen == []
    assert_no_parts(data_dir)


# --- more of the real thing: refusals, retries, redirects, changes, Ctrl-C ---------------------


def test_upload_with_a_read_only_key_is_refused_exit_4(
    data_dir: Path, tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with RealisticSDC(read_only_keys=("reader",)) as sdc:
        monkeypatch.setenv("IMAP_DATA_ACCESS_URL", sdc.api_url)
        monkeypatch.setenv("IMAP_API_KEY", "reader")
        ran = imap(capsys, "upload", str(write_upload(tmp_path, 7)))
        assert ran.code == 4
        assert_error_lines(ran.err, "read-only permissions")
        assert "upload permission" in ran.err  # the hint says what to ask for
        assert sdc.requests("s3") == []


def test_upload_with_token_only_says_an_api_key_is_needed(
    fake: RealisticSDC,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("IMAP_ACCESS_TOKEN", TOKEN)
    ran = imap(capsys, "upload", str(write_upload(tmp_path, 8)))
    (ask,) = fake.requests("api")
    assert (ask.path, ask.status) == (f"/authorized/upload/{name_for(8, 'v002.0001')}", 404)
    assert_error_lines(ran.err)
    hints = [line for line in ran.err.splitlines() if line.startswith("Hint:")]
    assert any("API key" in line or "IMAP_API_KEY" in line for line in hints), ran.err
    assert ran.code == 4


def test_upload_put_slowdown_is_retried_with_the_whole_body(
    fake: RealisticSDC, with_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_upload(tmp_path, 9)
    fake.fault("s3", "slowdown", method="PUT")
    ran = imap(capsys, "upload", str(path))
    assert ran.code == 0, ran.err
    puts = fake.requests("s3", "PUT")
    assert statuses(puts) == [503, 200]
    assert all(p.body == path.read_bytes() for p in puts)


def test_upload_put_to_an_expired_url_fails_that_file_only(
    fake: RealisticSDC, with_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late, fine = write_upload(tmp_path, 10), write_upload(tmp_path, 11)
    fake.fault("s3", "expired", times=10, path_contains=late.name)
    ran = imap(capsys, "upload", str(late), str(fine))
    assert ran.code == 1
    assert_error_lines(ran.err, key_for(10, "v002.0001"), "Request has expired")
    assert key_for(10, "v002.0001") not in fake.objects
    assert fake.objects[key_for(11, "v002.0001")].data == fine.read_bytes()


def test_download_follows_an_s3_307_without_credentials(
    fake: RealisticSDC, with_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 20)
    fake.fault("s3", "redirect", method="GET", bucket=f"{BUCKET}-usw2")
    ran = imap(capsys, "download", key_for(20))
    assert ran.code == 0, ran.err
    assert local(with_key, key_for(20)).read_bytes() == content(20)
    assert [(s.status, s.path.split("/")[1]) for s in fake.requests("s3", "GET")] == [
        (307, BUCKET),
        (200, f"{BUCKET}-usw2"),
    ]
    assert_s3_saw_no_credentials(fake)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("status", {"status": 503, "body": {"message": "Service Unavailable"}}),
        ("status", {"status": 500, "body": {"message": "Internal Server Error"}}),
        ("drop", {}),
    ],
)
def test_download_link_recovers_from_one_gateway_failure(
    fake: RealisticSDC,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    options: dict,
) -> None:
    stock(fake, 21)
    fake.fault("api", kind, path_contains="/download/", **options)
    ran = imap(capsys, "download", key_for(21))
    assert ran.code == 0, ran.err
    assert local(data_dir, key_for(21)).read_bytes() == content(21)
    assert len(fake.requests("api")) == 2


def test_object_replaced_between_cut_and_resume_ends_with_the_new_bytes(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = fake.add_science(key_for(22), content(22))
    new_bytes = content(222)

    def replace() -> None:
        fake.objects[key_for(22)] = type(old)(new_bytes, md5_etag(new_bytes))

    fake.fault("s3", "cut", method="GET", when=no_range, then=replace)
    ran = imap(capsys, "download", key_for(22))
    assert ran.code == 0, ran.err
    assert local(data_dir, key_for(22)).read_bytes() == new_bytes
    _, resume = fake.requests("s3", "GET")
    assert resume.header("if-range") == old.etag and resume.status == 200
    assert_no_parts(data_dir)


def test_verify_catches_same_size_different_bytes_by_md5(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 23)
    path = local(data_dir, key_for(23))
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(SIZE))
    ran = imap(capsys, "download", "--verify", key_for(23))
    assert ran.code == 0, ran.err
    assert path.read_bytes() == content(23)
    assert fake.requests("s3", "HEAD") == []


def test_verify_with_an_expired_link_asks_for_a_fresh_one(
    fake: RealisticSDC, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 24)
    path = local(data_dir, key_for(24))
    path.parent.mkdir(parents=True)
    path.write_bytes(content(24))
    fake.expire_next_urls(key_for(24))
    ran = imap(capsys, "download", "--verify", key_for(24))
    assert ran.code == 0, ran.err
    assert statuses(fake.requests("s3", "GET")) == [403, 206]
    assert fake.requests("s3", "HEAD") == []


def test_python_api_download_returns_the_path(fake: RealisticSDC, with_key: Path) -> None:
    import imap_cli

    stock(fake, 25)
    path = imap_cli.download(name_for(25))
    assert Path(path) == local(with_key, key_for(25))
    assert Path(path).read_bytes() == content(25)
    assert_s3_saw_no_credentials(fake)


def test_ctrl_c_during_a_stalled_body_leaves_nothing(fake: RealisticSDC, data_dir: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    stock(fake, 26)
    fake.fault("s3", "stall", method="GET")
    child = subprocess.Popen(
        [sys.executable, "-m", "imap_cli", "download", key_for(26)],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stall_reached.wait(timeout=15), "the download never started"
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=15)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert not local(data_dir, key_for(26)).exists()
    assert_no_parts(data_dir)


def test_stalled_body_times_out_and_resumes(
    fake: RealisticSDC, data_dir: Path, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMAP_TIMEOUT", "0.5")
    obj = fake.add_science(key_for(27), content(27))
    fake.fault("s3", "stall", method="GET", when=no_range)
    ran = imap(capsys, "download", key_for(27))
    assert ran.code == 0, ran.err
    assert local(data_dir, key_for(27)).read_bytes() == content(27)
    _, resume = fake.requests("s3", "GET")
    assert (resume.header("range"), resume.header("if-range")) == (f"bytes={SIZE // 2}-", obj.etag)
    assert_no_parts(data_dir)


def test_download_with_a_key_the_gateway_denies_exit_4(
    fake: RealisticSDC, data_dir: Path, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stock(fake, 28, 29)
    monkeypatch.setenv("IMAP_API_KEY", "revoked-key")
    ran = imap(capsys, "download", key_for(28), key_for(29))
    assert ran.code == 4
    assert_error_lines(ran.err, "Forbidden")
    assert fake.requests("s3") == []
    assert not local(data_dir, key_for(28)).exists()


def test_upload_400_from_the_sdc_is_shown_verbatim_exit_2(
    fake: RealisticSDC, with_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_upload(tmp_path, 12)
    message = (
        f"error: {path.name} does not match ancillary, science, cadence, or SPICE file "
        "naming convention."
    )
    fake.fault("api", "status", status=400, body=message, path_contains="/upload/")
    ran = imap(capsys, "upload", str(path))
    assert ran.code == 2
    assert_error_lines(ran.err, message)
    assert fake.requests("s3") == []
