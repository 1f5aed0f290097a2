"""Queries whose answer is larger than the SDC can send at once: complete all the same.

Two kinds of SDC enforce the limit here:
- `imap serve` with a small --max-response-bytes, with and without offset/limit, next to an
  unlimited `imap serve` over the same catalogue: every answer must equal the unlimited one
  (offset/limit only matter for a single day too large, tested against the fake);
- the independent fake (realistic_sdc.py), whose gateway answers 500 (HTTP API) or 502
  (REST API), with and without pagination.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from quiet_http import QuietHTTPServer
from realistic_sdc import RealisticSDC

import imap_cli
from imap_cli.cli.app import main
from imap_cli.core import split
from imap_cli.server import RunningServer, start_server
from imap_cli.server.catalogue import Catalogue
from imap_cli.server.demo import build_demo

LIMIT = 7200  # bytes: about 19 science rows an answer (the busiest demo day has 18)


def _days(first: str, count: int) -> list[str]:
    start = dt.datetime.strptime(first, "%Y%m%d")
    return [f"{start + dt.timedelta(days=n):%Y%m%d}" for n in range(count)]


def _write(root: Path, key: str) -> None:
    path = root.joinpath(*key.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.encode())


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    """The demo archive plus 60 days of science, ancillary and quicklook in two versions."""
    root = tmp_path_factory.mktemp("archive")
    build_demo(root)
    for day in _days("20250801", 60):
        folder = f"{day[:4]}/{day[4:6]}"
        for minor in (0, 1):
            name = f"imap_mag_l1a_burst-mago_{day}_v001.000{minor}.cdf"
            _write(root, f"imap/mag/l1a/{folder}/{name}")
            name = f"imap_swe_l1b_sci_{day}_v001.000{minor}.png"
            _write(root, f"imap/quicklook/swe/l1b/{folder}/{name}")
            name = f"imap_hit_test-cal_{day}_v00{minor + 1}.cdf"
            _write(root, f"imap/ancillary/hit/{name}")
    catalogue = Catalogue(root, rescan_interval=None)
    catalogue.scan()
    return catalogue


@pytest.fixture(scope="module")
def unlimited(archive: Catalogue) -> Iterator[RunningServer]:
    with start_server(archive.root, catalogue=archive, max_response_bytes=0) as server:
        yield server


@pytest.fixture(scope="module", params=[True, False], ids=["pagination", "no-pagination"])
def limited(request: pytest.FixtureRequest, archive: Catalogue) -> Iterator[RunningServer]:
    with start_server(
        archive.root, catalogue=archive, max_response_bytes=LIMIT, pagination=request.param
    ) as server:
        yield server


def run(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--url", url, *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize(
    "filters",
    [
        ("--start-date", "20000101"),
        ("--end-date", "20251015"),
        ("--instrument", "mag"),
        ("--instrument", "mag", "--version", "latest"),
        ("--table", "ancillary", "--start-date", "20000101"),
        ("--table", "ancillary", "--instrument", "hit", "--version", "latest"),
        ("--table", "quicklook", "--end-date", "20251231"),
        ("--table", "quicklook", "--instrument", "swe", "--version", "latest"),
    ],
    ids=["start", "end", "no-dates", "latest", "ancillary", "ancillary-latest", "ql", "ql-latest"],
)
def test_serve_limited_answers_equal_the_unlimited_ones(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    unlimited: RunningServer,
    limited: RunningServer,
    filters: tuple[str, ...],
) -> None:
    monkeypatch.setenv("IMAP_CLI_CONFIG", str(tmp_path / "config.toml"))
    code, whole, _ = run(capsys, unlimited.url, "query", *filters, "-o", "json")
    assert code == 0
    assert len(whole.encode()) > LIMIT  # the case needs splitting
    before = len(limited.requests)
    code, parts, err = run(capsys, limited.url, "query", *filters, "-o", "json")
    assert code == 0, err
    assert json.loads(parts) == json.loads(whole)
    seen = list(limited.requests)[before:]
    assert seen[0].status == 500  # it was too large, and was split
    assert len(seen) > 2
    assert "retrying" not in err


def test_serve_a_query_that_fits_is_one_request(
    capsys: pytest.CaptureFixture[str], limited: RunningServer
) -> None:
    before = len(limited.requests)
    code, out, _ = run(
        capsys, limited.url, "query", "-i", "mag", "-s", "20251001", "-e", "20251001"
    )
    assert code == 0 and json.loads(out)
    assert len(limited.requests) - before == 1


def test_serve_answers_offset_and_limit_like_the_sdc(unlimited: RunningServer) -> None:
    import requests

    url = unlimited.url + "/query"
    whole = requests.get(url, params={"instrument": "mag"}).json()
    page = requests.get(url, params={"instrument": "mag", "offset": "3", "limit": "5"}).json()
    assert page == whole[3:8]
    rest = requests.get(url, params={"instrument": "mag", "offset": "30"}).json()
    assert rest == whole[30:]
    for params, message in [
        ({"offset": "x"}, "'offset' and 'limit' must be integers."),
        ({"limit": "1.5"}, "'offset' and 'limit' must be integers."),
        ({"offset": "-1", "limit": "1"}, "'offset' must be greater than or equal to 0."),
        ({"limit": "0"}, "'limit' must be greater than 0."),
    ]:
        answer = requests.get(url, params={"instrument": "mag", **params})
        assert (answer.status_code, answer.json()) == (400, message)


def test_serve_without_pagination_names_the_unknown_parameter(archive: Catalogue) -> None:
    import requests

    with start_server(archive.root, catalogue=archive, pagination=False) as server:
        answer = requests.get(server.url + "/query", params={"instrument": "mag", "limit": "1"})
    assert answer.status_code == 400
    assert answer.json().startswith("limit is not a valid query parameter for science table")


def test_serve_too_large_is_the_http_apis_500(archive: Catalogue) -> None:
    import requests

    with start_server(archive.root, catalogue=archive, max_response_bytes=100) as server:
        answer = requests.get(server.url + "/query", params={"instrument": "mag"})
        small = requests.get(server.url + "/query", params={"instrument": "mag", "limit": "0"})
    assert (answer.status_code, answer.json()) == (500, {"message": "Internal Server Error"})
    assert small.status_code == 400  # small answers are untouched


# --- the independent fake -----------------------------------------------------------------------

FAKE_DAYS = _days("20250101", 90)


def fake_key(day: str, descriptor: str, minor: int = 1) -> str:
    name = f"imap_mag_l1a_{descriptor}_{day}_v001.{minor:04d}.cdf"
    return f"imap/mag/l1a/{day[:4]}/{day[4:6]}/{name}"


@pytest.fixture(params=["http-paged", "http", "rest-paged", "rest"])
def big_fake(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The fake with 90 days x 4 products (two versions of one), its answers limited."""
    with RealisticSDC() as fake:
        for day in FAKE_DAYS:
            for descriptor in ("norm-mago", "norm-magi", "burst-mago"):
                fake.add_science(fake_key(day, descriptor), day.encode())
            fake.add_science(fake_key(day, "norm-mago", 2), day.encode())
        fake.gateway = request.param.split("-")[0]
        fake.pagination = request.param.endswith("paged")
        fake.max_response_bytes = 20_000
        monkeypatch.setenv("IMAP_DATA_ACCESS_URL", fake.api_url)
        monkeypatch.setenv("IMAP_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("IMAP_CLI_CONFIG", str(tmp_path / "config.toml"))
        yield fake
        assert fake.server_errors == []


def whole_answer(fake: RealisticSDC, capsys, *argv: str) -> str:
    limit, fake.max_response_bytes = fake.max_response_bytes, 0
    code, out, _ = run(capsys, fake.api_url, *argv)
    fake.max_response_bytes = limit
    assert code == 0
    return out


@pytest.mark.parametrize(
    "filters",
    [
        ("--start-date", "20250110"),
        ("--end-date", "20250320"),
        ("--instrument", "mag"),
        ("--instrument", "mag", "--version", "latest"),
    ],
    ids=["start", "end", "no-dates", "latest"],
)
def test_fake_limited_answers_are_complete_and_ordered(
    big_fake: RealisticSDC, capsys: pytest.CaptureFixture[str], filters: tuple[str, ...]
) -> None:
    expected = whole_answer(big_fake, capsys, "query", *filters, "-o", "paths")
    assert len(expected.encode()) * 3 > big_fake.max_response_bytes  # rows are ~3x a path
    big_fake.seen.clear()
    code, out, err = run(capsys, big_fake.api_url, "query", *filters, "-o", "paths")
    assert code == 0, err
    assert out == expected
    keys = out.splitlines()
    assert keys == sorted(set(keys))
    status = 500 if big_fake.gateway == "http" else 502
    assert big_fake.requests("api")[0].status == status
    assert "retrying" not in err


def test_fake_limited_python_api(big_fake: RealisticSDC) -> None:
    big_fake.max_response_bytes = 0
    whole = imap_cli.query(instrument="mag", start_date="20250105")
    big_fake.max_response_bytes = 20_000
    assert imap_cli.query(instrument="mag", start_date="20250105") == whole
    assert len(whole) == 86 * 4  # every minor version of the newest major


def test_fake_limited_download_fetches_every_file(
    big_fake: RealisticSDC, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, big_fake.api_url, "query", "-s", "20250301", "--download")
    assert code == 0, err
    got = sorted(p for p in (tmp_path / "data").rglob("*.cdf"))
    assert len(got) == 31 * 4
    assert all(p.read_bytes() == p.name.split("_")[4].encode() for p in got)


def test_fake_one_day_too_large_is_a_clear_error_without_retry_storm(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RealisticSDC() as fake:
        for n in range(120):
            fake.add_science(fake_key("20250105", f"burst{n:03d}"), b"x")
        for day in FAKE_DAYS[:20]:
            fake.add_science(fake_key(day, "norm-mago"), b"x")
        fake.max_response_bytes = 20_000
        monkeypatch.setenv("IMAP_DATA_ACCESS_URL", fake.api_url)
        monkeypatch.setenv("IMAP_CLI_CONFIG", str(tmp_path / "config.toml"))
        code, out, err = run(capsys, fake.api_url, "query", "-s", "20250101", "-o", "paths")
        asked = fake.requests("api")
    assert code == 3
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "too large" in errors[0] and "2025-01-05" in errors[0]
    assert "temporarily unavailable" not in err
    assert "Hint: Narrow the query" in err
    assert "retrying" not in err
    # Each window asked once: the size failures are not retried, only split (a few levels).
    # (The query that matches nothing, asked first and before blaming the size, is not.)
    queries = [tuple(sorted(s.query.items())) for s in asked if "99991231" not in s.raw_path]
    assert len(queries) == len(set(queries))
    assert sum(s.status == 500 for s in asked) <= 8
    assert len(asked) <= 40


@pytest.mark.parametrize("tty", [True, False])
def test_progress_of_the_parts_on_a_terminal_only(
    limited: RunningServer, tmp_path: Path, tty: bool
) -> None:
    import io

    from imap_cli.cli.output import Output, Streams
    from imap_cli.cli.progress import PartsProgress
    from imap_cli.core.http import SDCClient
    from imap_cli.core.query import fetch_result, plan_query
    from imap_cli.core.settings import resolve

    err = io.StringIO()
    output = Output(Streams(stdout=io.StringIO(), stderr=err, stderr_tty=tty, env={}))
    settings = resolve(flags={"url": limited.url}, env={}, config_path=tmp_path / "c.toml")
    calls: list[tuple[int, int]] = []
    with SDCClient(settings) as client, PartsProgress(output) as parts:

        def both(done: int, total: int) -> None:
            calls.append((done, total))
            parts(done, total)

        result = fetch_result(client, plan_query(start_date="20000101"), on_progress=both)
    assert len(result.rows) > 100
    assert calls[-1][0] == calls[-1][1] > 2
    if tty:
        assert "fetching it in parts" in err.getvalue()
        assert f"{calls[-1][0]}/{calls[-1][1]}" in err.getvalue()
    else:
        assert err.getvalue() == ""


def test_spice_too_large_says_how_to_narrow_it(
    capsys: pytest.CaptureFixture[str], unlimited: RunningServer, limited: RunningServer
) -> None:
    code, whole, _ = run(
        capsys, unlimited.url, "query", "--table", "spice", "--type", "kernels", "-o", "json"
    )
    assert code == 0 and len(whole.encode()) > LIMIT
    before = len(limited.requests)
    code, out, err = run(
        capsys, limited.url, "query", "--table", "spice", "--type", "kernels", "-o", "json"
    )
    assert (code, out) == (3, "")
    assert "too large for the SDC to send at once" in err
    assert "Hint: Narrow the query: a --type" in err
    assert "retrying" not in err
    assert len(limited.requests) - before == 2  # the query, then one that matches nothing


def test_fake_a_query_that_fits_is_one_request(
    big_fake: RealisticSDC, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, big_fake.api_url, "query", "-s", "20250301", "-e", "20250310")
    assert code == 0, err
    assert len(json.loads(out)) == 10 * 4
    assert len(big_fake.requests("api")) == 1


def test_fake_with_pagination_a_day_too_large_is_paged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RealisticSDC() as fake:
        keys = sorted(fake_key("20250105", f"burst{n:03d}") for n in range(120))
        for key in keys:
            fake.add_science(key, b"x")
        fake.max_response_bytes = 20_000
        fake.pagination = True
        monkeypatch.setenv("IMAP_CLI_CONFIG", str(tmp_path / "config.toml"))
        # Pages this small fail for size only under this test's tiny limit: say it is the limit
        monkeypatch.setattr(split, "MAX_RESPONSE_BYTES", fake.max_response_bytes)
        code, out, err = run(capsys, fake.api_url, "query", "-s", "20250105", "-o", "paths")
    assert code == 0, err
    assert out.splitlines() == keys


class _FailsButTheEmptyQuery(BaseHTTPRequestHandler):
    """An SDC whose /query answers the gateway's 500 to everything but a query that matches
    nothing: a fault that looks like a size failure, but is not one."""

    def do_GET(self) -> None:
        self.server.asked += 1  # type: ignore[attr-defined]
        empty = split.NO_SUCH_DAY in self.path
        body = b"[]" if empty else b'{"message": "Internal Server Error"}'
        self.send_response(200 if empty else 500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("filters", [(), ("-s", "20250101", "-e", "20251231")])
def test_a_500_that_splitting_does_not_cure_ends_without_a_request_storm(capsys, filters):
    server = QuietHTTPServer(("127.0.0.1", 0), _FailsButTheEmptyQuery)
    server.asked = 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, out, err = run(capsys, url, "query", "-i", "mag", *filters, "-o", "paths")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 3 and out == ""
    assert "not for its size" in err and "imap-sdc@lasp.colorado.edu" in err
    # Was 30,000 requests and a minute. Each failed part is asked twice at most; when the last
    # allowed failure ends the run, up to `split.JOBS` parts are still in flight, and how many
    # depends on the threads' timing: count them too.
    assert server.asked <= 2 * (split.MOST_FAILED_PARTS + split.JOBS) + 16


# --- every shape of date filter, and the remembered split ---------------------------------------

RECENT_LIMIT = 60_000  # bytes: about 170 rows an answer


def _recent_days(count: int, before: int = 1) -> list[str]:
    """`count` days ending `before` days ago (UTC), as the SDC's daily data does."""
    last = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=before)
    return [f"{last - dt.timedelta(days=n):%Y%m%d}" for n in range(count)][::-1]


@pytest.fixture(params=["http", "rest"])
def recent_fake(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """The fake with 150 days of 4 products up to yesterday, its answers limited, and the
    client told that limit (as it knows the SDC's)."""
    with RealisticSDC() as fake:
        for day in _recent_days(150):
            for descriptor in ("norm-mago", "norm-magi", "burst-mago", "burst-magi"):
                fake.add_science(fake_key(day, descriptor), day.encode())
        fake.gateway = request.param
        fake.max_response_bytes = RECENT_LIMIT
        monkeypatch.setattr(split, "MAX_RESPONSE_BYTES", RECENT_LIMIT)
        yield fake
        assert fake.server_errors == []


def _limited_run(fake: RealisticSDC, capsys, *filters: str) -> tuple[str, list]:
    fake.seen.clear()
    code, out, err = run(capsys, fake.api_url, "query", *filters, "-o", "paths")
    assert code == 0, err
    assert "retrying" not in err
    return out, fake.requests("api")


@pytest.mark.parametrize(
    "filters",
    [
        ("--start-date", "20000101"),
        ("--end-date", "20991231"),
        ("--start-date", "20000101", "--end-date", "20991231"),
        ("--instrument", "mag"),
    ],
    ids=["start-only", "end-far-future", "both", "no-dates"],
)
def test_every_date_shape_costs_a_few_requests(
    recent_fake: RealisticSDC, capsys: pytest.CaptureFixture[str], filters: tuple[str, ...]
) -> None:
    expected = whole_answer(recent_fake, capsys, "query", *filters, "-o", "paths")
    assert len(expected.splitlines()) == 600
    out, asked = _limited_run(recent_fake, capsys, *filters)
    assert out == expected
    status = 500 if recent_fake.gateway == "http" else 502
    assert asked[0].status == status
    # 600 rows of ~350 bytes need 4 answers of 60 KB: the whole query, the health check, the
    # future, a week to learn the bytes a day, 5 windows of 30 days and the rest: 10. Windows
    # go on back in parallel until one comes back empty: up to one a slot (split.JOBS), and
    # one more for the future's slot, may be asked past the first day. (An open start once
    # walked back from 2099 in months, and failed 48 times.)
    assert len(asked) <= 10 + split.JOBS + 1
    assert sum(s.status == status for s in asked) == 1


def test_a_rerun_starts_from_the_remembered_split(
    recent_fake: RealisticSDC, capsys: pytest.CaptureFixture[str]
) -> None:
    filters = ("--end-date", "20991231")
    first, asked_first = _limited_run(recent_fake, capsys, *filters)
    again, asked_again = _limited_run(recent_fake, capsys, *filters)
    assert again == first and len(first.splitlines()) == 600
    # No whole query failing first, no health check, no search: the windows that worked.
    assert all(s.status == 200 for s in asked_again)
    assert len(asked_again) <= 6 < len(asked_first)
    # Another filter set, or another SDC url, is split afresh.
    _, asked_other = _limited_run(recent_fake, capsys, *filters, "--instrument", "mag")
    assert asked_other[0].status != 200


def test_a_stale_remembered_split_still_returns_every_row(
    recent_fake: RealisticSDC, capsys: pytest.CaptureFixture[str]
) -> None:
    filters = ("--start-date", "20000101")
    _limited_run(recent_fake, capsys, *filters)
    # A reprocessing campaign: ten days of 30 more files each, and newer days still.
    for day in _recent_days(10, before=40):
        for n in range(30):
            recent_fake.add_science(fake_key(day, f"extra{n:02d}"), day.encode())
    for day in _recent_days(3, before=-2):
        recent_fake.add_science(fake_key(day, "norm-mago"), day.encode())
    expected = whole_answer(recent_fake, capsys, "query", *filters, "-o", "paths")
    assert len(expected.splitlines()) == 600 + 300 + 3
    out, asked = _limited_run(recent_fake, capsys, *filters)
    assert out == expected
    status = 500 if recent_fake.gateway == "http" else 502
    assert any(s.status == status for s in asked)  # a remembered window too large now
    # Then the memory is the new split: a third run fits at once.
    third, asked_third = _limited_run(recent_fake, capsys, *filters)
    assert third == expected
    assert all(s.status == 200 for s in asked_third)
