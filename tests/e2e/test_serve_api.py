"""`imap serve` over real sockets: the SDC's routes, prefixes, status codes and bodies."""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from imap_cli.core.naming import parse
from imap_cli.server import RunningServer, start_server
from imap_cli.server.demo import build_demo

NAME = "imap_mag_l1a_norm-mago_20251001_v001.0000.cdf"
KEY = parse(NAME).key
NEW = "imap_mag_l1a_norm-mago_20251231_v001.0000.cdf"
NOT_FOUND = {"message": "Not Found"}
DOWNLOAD_400 = (
    "No file requested for download. Please provide a filename in the path. "
    "Eg. /download/path/to/file/filename.pkts"
)
DOWNLOAD_404 = (
    "File not found, make sure you include the full path to the file in the request, "
    "e.g. /download/path/to/file/filename.pkts."
)


@pytest.fixture(scope="module")
def ro_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo archive shared by the tests of this module that write nothing."""
    root = tmp_path_factory.mktemp("archive")
    build_demo(root)
    return root


@pytest.fixture(scope="module")
def ro(ro_root: Path) -> RunningServer:
    """A server over ro_root for the read-only tests (uploads are only signed, never PUT)."""
    with start_server(ro_root, rescan_interval=None) as server:
        yield server


@pytest.mark.parametrize("prefix", ["", "/api-key", "/authorized"])
@pytest.mark.parametrize("route", ["/query", "/query/anything/here"])
def test_query_under_every_prefix_and_proxy_route(ro: RunningServer, prefix: str, route: str):
    response = requests.get(f"{ro.url}{prefix}{route}", params={"instrument": "mag"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    rows = response.json()
    assert rows and all(r["instrument"] == "mag" for r in rows)


def test_download_answers_302_to_a_signed_url_on_another_origin(ro: RunningServer, ro_root):
    response = requests.get(f"{ro.url}/download/{KEY}", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Content-Type"] == "text/html"
    location = response.headers["Location"]
    assert response.json() == {"download_url": location}
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == ro.objects_url != ro.url
    assert "X-Amz-Signature=" in parts.query and "X-Amz-Expires=86400" in parts.query
    data = requests.get(location).content
    assert data == (ro_root / KEY).read_bytes()
    head = requests.head(f"{ro.url}/api-key/download/{KEY}", allow_redirects=False)
    assert head.status_code == 302 and head.content == b""
    assert head.headers["Location"].startswith(f"{ro.objects_url}/")


@pytest.mark.parametrize("path", ["/download", "/download/", "/api-key/download"])
def test_download_without_a_path_is_400(ro: RunningServer, path: str):
    response = requests.get(ro.url + path, allow_redirects=False)
    assert (response.status_code, response.text) == (400, DOWNLOAD_400)
    assert response.headers["Content-Type"] == "text/html"


@pytest.mark.parametrize(
    "key",
    [NAME, f"imap/mag/l1a/2025/11/{NAME}", "imap/mag/l1a/2025/10/nope.cdf", KEY + ".part"],
)
def test_download_of_anything_not_catalogued_is_404(ro: RunningServer, key: str):
    response = requests.get(f"{ro.url}/download/{key}", allow_redirects=False)
    assert (response.status_code, response.text) == (404, DOWNLOAD_404)


def test_the_download_url_ignores_the_host_header(ro: RunningServer):
    # A client must not choose where the server sends others: the listening address is used.
    headers = {"Host": "evil.example:1"}
    response = requests.get(f"{ro.url}/download/{KEY}", headers=headers, allow_redirects=False)
    assert response.headers["Location"].startswith(f"{ro.objects_url}/")


def test_upload_answers_a_json_string_url_then_the_put_stores_the_file(sdc: RunningServer):
    response = requests.get(f"{sdc.url}/upload/{NEW}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    url = response.json()
    assert isinstance(url, str) and url.startswith(sdc.objects_url)
    assert "X-Amz-Expires=3600" in url
    put = requests.put(url, data=b"new bytes", headers={"Content-Type": ""})
    assert put.status_code == 200 and put.content == b""
    assert put.headers["ETag"] == f'"{hashlib.md5(b"new bytes").hexdigest()}"'
    key = parse(NEW).key
    assert (sdc.root / key).read_bytes() == b"new bytes"
    # indexed at once: queryable and downloadable
    rows = requests.get(f"{sdc.url}/query", params={"start_date": "20251231"}).json()
    assert [r["file_path"] for r in rows] == [key]
    assert requests.get(f"{sdc.url}/download/{key}").content == b"new bytes"
    again = requests.get(f"{sdc.url}/upload/{NEW}")
    assert again.status_code == 409
    assert again.json() == {
        "error": "FileAlreadyExists",
        "message": f"The file '{key}' already exists. Rename it or remove the existing file "
        "before uploading again.",
    }


def test_upload_uses_only_the_basename(ro: RunningServer):
    response = requests.get(f"{ro.url}/upload/some/local/dir/{NEW}")
    assert response.status_code == 200
    assert f"/{parse(NEW).key}?" in response.json()


def test_upload_of_an_existing_demo_file_is_409(ro: RunningServer):
    response = requests.get(f"{ro.url}/upload/{NAME}")
    assert response.status_code == 409 and response.json()["error"] == "FileAlreadyExists"


@pytest.mark.parametrize("name", ["notes.txt", "imap_mag_l1a_x_2025_v1.cdf", "a\\b.cdf", "%2e%2e"])
def test_upload_of_a_bad_name_is_400_with_the_sdc_message(ro: RunningServer, name: str):
    response = requests.get(f"{ro.url}/upload/{name}")
    assert response.status_code == 400
    shown = name if "%" not in name else ".."
    assert response.json() == (
        f"error: {shown} does not match ancillary, science, cadence, or SPICE file naming "
        "convention."
    )


def test_upload_without_a_name_is_400(ro: RunningServer):
    response = requests.get(f"{ro.url}/upload")
    assert response.status_code == 400
    assert response.json() == (
        "No filename given for the upload. Please provide a filename in the path. "
        "Eg. /upload/path/to/file/filename.pkts"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/nothing"),
        ("POST", "/query"),
        ("PUT", "/upload/x"),
        ("DELETE", f"/download/{KEY}"),
        ("GET", "/spice-query/extra"),
        ("GET", "/api-key"),
        ("GET", "/api-keyquery"),
    ],
)
def test_unrouted_requests_are_the_gateways_404(ro: RunningServer, method: str, path: str):
    response = requests.request(method, ro.url + path, allow_redirects=False)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_operations_routes_exist_only_under_their_prefixes(ro: RunningServer):
    # reprocess has no public route; release is routed only under /api-key.
    response = requests.post(f"{ro.url}/reprocess", params={"start_date": "20250101"})
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    response = requests.post(f"{ro.url}/api-key/reprocess", params={"start_date": "20250101"})
    assert response.status_code == 200 and response.json()["message"] == "Reprocess job queued"
    for prefix in ("", "/authorized"):
        response = requests.get(f"{ro.url}{prefix}/release", params={"release_type": "release"})
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert requests.get(f"{ro.url}/processing-jobs").status_code == 200
    assert requests.get(f"{ro.url}/small-forces-table").status_code == 200


def test_spice_query_and_tables(ro: RunningServer):
    rows = requests.get(f"{ro.url}/spice-query", params={"type": "leapseconds"}).json()
    assert [r["file_name"] for r in rows] == ["lsk/naif0012.tls"]
    spin = requests.get(f"{ro.url}/spin-table").json()
    assert spin == requests.get(f"{ro.url}/spice-query", params={"type": "spin"}).json()
    assert spin and spin[0]["file_path"].startswith("imap/spice/spin/")


def test_files_dropped_in_by_hand_appear(sdc: RunningServer, demo_root: Path):
    key = parse("imap_swe_l2_sci_20251220_v001.0000.cdf").key
    (demo_root / key).parent.mkdir(parents=True, exist_ok=True)
    (demo_root / key).write_bytes(b"by hand")
    rows = requests.get(f"{sdc.url}/query", params={"start_date": "20251220"}).json()
    assert [r["file_path"] for r in rows] == [key]


# --- credentials -------------------------------------------------------------------------

KEY_VALUE = "s3cret-key-value"
TOKEN = "tok-123"


@pytest.fixture(scope="module")
def keyed(ro_root: Path) -> RunningServer:
    log = io.StringIO()
    with start_server(ro_root, api_key=KEY_VALUE, access_token=TOKEN, log=log) as server:
        server.log_text = log  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize(
    ("path", "headers", "status", "body"),
    [
        ("/api-key/query", {}, 403, {"message": "Forbidden"}),
        ("/api-key/query", {"x-api-key": "wrong"}, 403, {"message": "Forbidden"}),
        ("/api-key/query", {"x-api-key": KEY_VALUE}, 200, None),
        ("/authorized/query", {}, 401, {"message": "Unauthorized"}),
        ("/authorized/query", {"Authorization": "Bearer nope"}, 401, {"message": "Unauthorized"}),
        ("/authorized/query", {"Authorization": f"Bearer {TOKEN}"}, 200, None),
        ("/query", {}, 200, None),  # public routes serve every file
        (f"/download/{KEY}", {}, 302, None),
        (f"/upload/{NEW}", {}, 404, {"message": "Not Found"}),  # upload only under a prefix
        (f"/upload/{NEW}", {"x-api-key": KEY_VALUE}, 404, {"message": "Not Found"}),
        (f"/api-key/upload/{NEW}", {"x-api-key": KEY_VALUE}, 200, None),
        (f"/api-key/upload/{NEW}", {"x-api-key": "wrong"}, 403, {"message": "Forbidden"}),
        ("/api-key/nowhere", {}, 404, {"message": "Not Found"}),  # routing comes first
    ],
)
def test_api_key_and_token_routes(keyed: RunningServer, path, headers, status, body):
    response = requests.get(
        keyed.url + path, params={"instrument": "mag"}, headers=headers, allow_redirects=False
    )
    assert response.status_code == status
    if body is not None:
        assert response.json() == body
    assert KEY_VALUE not in keyed.log_text.getvalue()  # type: ignore[attr-defined]


def test_only_an_api_key_makes_authorized_always_401(ro_root: Path):
    with start_server(ro_root, api_key=KEY_VALUE) as server:
        response = requests.get(
            f"{server.url}/authorized/query",
            params={"instrument": "mag"},
            headers={"Authorization": "Bearer anything"},
        )
        assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})


def test_the_object_host_ignores_credentials_and_they_are_visible(ro: RunningServer):
    headers = {"x-api-key": "leaked", "Authorization": "Bearer leaked"}
    response = requests.get(f"{ro.url}/api-key/download/{KEY}", headers=headers)
    assert response.status_code == 200  # requests carried x-api-key across the redirect
    objects = [r for r in ro.requests if r.origin == "objects"]
    assert objects and objects[-1].headers.get("x-api-key") == "leaked"
    assert "authorization" not in objects[-1].headers  # requests drops it on a host change


# --- same origin, latency, log, concurrency -----------------------------------------------


def test_objects_on_the_api_origin(demo_root: Path):
    with start_server(demo_root, objects_port=None) as server:
        assert server.objects_url == server.url
        response = requests.get(f"{server.url}/download/{KEY}", allow_redirects=False)
        assert response.headers["Location"].startswith(f"{server.url}/sds-data-local/imap/")
        assert requests.get(response.headers["Location"]).content == (demo_root / KEY).read_bytes()
        url = requests.get(f"{server.url}/upload/{NEW}").json()
        assert requests.put(url, data=b"abc").status_code == 200


def test_latency_delays_api_calls_only(ro_root: Path, monkeypatch: pytest.MonkeyPatch):
    # The server sleeps the latency; the sleeps are counted here, not waited (the times
    # themselves are benchmarks/bench_timings.py's).
    latency, slept, real_sleep = 0.3, [], time.sleep

    def sleep(seconds: float) -> None:
        if seconds == latency:
            slept.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    with start_server(ro_root, latency=latency) as server:
        location = requests.get(f"{server.url}/download/{KEY}", allow_redirects=False).headers[
            "Location"
        ]
        assert slept == [latency]
        requests.get(location)
        assert slept == [latency]


def test_one_log_line_per_request_without_secrets(demo_root: Path):
    log = io.StringIO()
    with start_server(demo_root, log=log) as server:
        requests.get(f"{server.url}/query", params={"instrument": "swe"})
        requests.get(f"{server.url}/download/{KEY}", headers={"x-api-key": "abc-secret"})
    lines = log.getvalue().splitlines()
    assert len(lines) == 3
    assert " api GET /query?instrument=swe 200 " in lines[0]
    assert lines[0].rstrip().endswith("ms")
    assert " api GET /download/imap/mag/" in lines[1] and " 302 " in lines[1]
    assert " objects GET /sds-data-local/imap/mag/" in lines[2] and "?... 200 " in lines[2]
    text = log.getvalue()
    assert "Signature" not in text and "abc-secret" not in text


def test_a_path_cannot_forge_log_lines(demo_root: Path):
    log = io.StringIO()
    with start_server(demo_root, log=log) as server:
        requests.get(f"{server.url}/download/x%0A[12:00:00] api GET /fake 200 0B 0.1ms")
    (line,) = log.getvalue().splitlines()
    assert "\\x0a" in line and " 404 " in line


def test_concurrent_clients(ro: RunningServer, ro_root: Path):
    keys = [
        r["file_path"] for r in requests.get(f"{ro.url}/query", params={"instrument": "mag"}).json()
    ]

    def fetch(key: str) -> bool:
        return requests.get(f"{ro.url}/download/{key}").content == (ro_root / key).read_bytes()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(pool.map(fetch, keys * 2))


def test_stop_frees_the_port(ro_root: Path):
    server = start_server(ro_root)
    port = server.port
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/query?instrument=mag", timeout=2)
    with start_server(ro_root, port=port) as again:  # the port can be reused at once
        assert requests.get(f"{again.url}/query", params={"instrument": "mag"}).ok


def test_port_in_use_raises_oserror_before_scanning(ro_root: Path):
    with start_server(ro_root) as server, pytest.raises(OSError):
        start_server(ro_root, port=server.port)


def test_json_bodies_are_json_dumps_format(ro: RunningServer):
    text = requests.get(f"{ro.url}/query", params={"instrument": "lo"}).text
    assert text == json.dumps(json.loads(text))
