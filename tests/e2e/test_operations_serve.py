"""reprocess, release, jobs, job logs, metakernel and the SPICE tables against `imap serve`
(the demo archive, real sockets), including a metakernel that SPICE itself loads."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from imap_runner import ImapRunner

from imap_cli.cli.app import main
from imap_cli.core.naming import parse
from imap_cli.core.spice_time import LEAP_SECONDS, tdb_seconds_past_j2000
from imap_cli.server import RunningServer, start_server
from imap_cli.server.demo import build_demo

KEY = "serve-key"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    root = tmp_path / "archive"
    build_demo(root)
    with start_server(root, api_key=KEY, rescan_interval=0) as running:
        yield running


@pytest.fixture
def imap(imap: ImapRunner, server: RunningServer, tmp_path: Path) -> ImapRunner:
    """The runner of conftest.py against the server, with its API key unless key=None."""
    return imap.against(server.url, data_dir=tmp_path / "data", retries=1, key=KEY)


def test_reprocess_is_queued(imap, server: RunningServer):
    code, out, _err = imap("reprocess", "-s", "20251001", "-e", "20251002", "-i", "hit", "--yes")
    assert code == 0
    queued = server.operations.reprocess_requests
    assert [r["params"] for r in queued] == [
        {
            "start_date": "20251001",
            "end_date": "20251002",
            "instrument": "hit",
            "reprocessing": "True",
        }
    ]
    assert out.strip() == queued[0]["id"]


def public_paths(server: RunningServer, **params: str) -> list[str]:
    rows = requests.get(f"{server.url}/query", params=params).json()
    return [r["file_path"] for r in rows]


def test_release_flags_the_latest_uploads_released(imap, server: RunningServer, tmp_path: Path):
    names = [
        "imap_hit_l2_burst_20251010_v001.0000.cdf",
        "imap_hit_l2_burst_20251010_v001.0001.cdf",
        "imap_hit_l2_burst_20251210_v001.0000.cdf",  # outside the release's range
    ]
    for name in names:
        (tmp_path / name).write_bytes(name.encode())
    assert imap("upload", *(str(tmp_path / n) for n in names))[0] == 0
    keys = [parse(n).key for n in names]
    # New science files start unreleased: the public routes do not see them.
    assert public_paths(server, instrument="hit", descriptor="burst") == []
    gone = requests.get(f"{server.url}/download/{keys[1]}", allow_redirects=False)
    assert gone.status_code == 403
    assert gone.text == f"The file {keys[1]} is not a part of a public release yet."
    own = requests.get(
        f"{server.url}/api-key/query",
        params={"instrument": "hit", "descriptor": "burst"},
        headers={"x-api-key": KEY},
    ).json()
    assert [r["released"] for r in own] == [False, False, False]

    manifest = tmp_path / "imap_hit_data-release-007_20251001_20251031_v001.txt"
    manifest.write_text("instrument, data_type, descriptor, release_flag\nhit, l2, burst, true\n")
    code, out, _err = imap("release", str(manifest), "--dry-run", "-o", "paths")
    assert (code, out.split()) == (0, [keys[1]])
    code, _out, err = imap("release", str(manifest), "--yes")
    assert code == 0 and "Successfully released data per specification" in err
    # Only the latest version in range is released, as the SDC does.
    assert public_paths(server, instrument="hit", descriptor="burst") == [keys[1]]
    assert (
        requests.get(f"{server.url}/download/{keys[0]}", allow_redirects=False).status_code == 403
    )
    assert (
        requests.get(f"{server.url}/download/{keys[1]}", allow_redirects=False).status_code == 302
    )
    released = requests.get(
        f"{server.url}/api-key/query",
        params={"instrument": "hit", "descriptor": "burst", "released": "true"},
        headers={"x-api-key": KEY},
    ).json()
    assert [r["file_path"] for r in released] == [keys[1]] and released[0]["released"] is True


def test_release_route_checks(server: RunningServer):
    url, headers = f"{server.url}/api-key/release", {"x-api-key": KEY}
    assert requests.get(url, headers=headers).status_code == 500
    bad = requests.get(url, params={"release_type": "nope"}, headers=headers)
    assert bad.status_code == 400 and "'nope' is not a valid release_type" in bad.json()
    extra = requests.get(url, params={"release_type": "release", "x": "1"}, headers=headers)
    assert extra.json().startswith("'x' is not a valid query parameter")
    missing = requests.get(url, params={"release_type": "release"}, headers=headers)
    assert (
        missing.json() == "Missing required query parameter 'manifest_file' for release operation."
    )
    later = requests.get(url, params={"release_type": "unrelease"}, headers=headers)
    assert later.status_code == 501
    absent = requests.get(
        url,
        params={
            "release_type": "release",
            "manifest_file": "imap_hit_data-release-009_20251001_20251031_v001.txt",
        },
        headers=headers,
    )
    assert absent.status_code == 500


def test_demo_jobs_and_logs(imap, server: RunningServer):
    code, out, _err = imap("jobs", "--status", "FAILED", "-o", "json")
    rows = json.loads(out)
    assert code == 0 and rows and {r["status"] for r in rows} == {"FAILED"}
    started = [r["started_at"] for r in rows]
    assert started == sorted(started, reverse=True)
    code, out, _err = imap("jobs", "logs", rows[0]["job_log_stream_id"])
    assert code == 0 and "ERROR" in out
    code, out, err = imap("jobs", "logs", "imap/none/such")
    assert code == 1 and out == "" and "Could not fetch logs for id [imap/none/such]" in err
    code, out, _err = imap("jobs", "-i", "mag", "-o", "csv")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("status,instrument,") and len(lines) == 3
    bad = requests.get(f"{server.url}/processing-jobs", params={"state": "x"})
    assert bad.status_code == 400 and bad.json() == {"error": "Invalid parameter: state"}


def test_small_forces_table_via_query(imap):
    code, out, _err = imap("query", "--table", "spice", "--type", "small-forces", "-o", "paths")
    assert (code, out) == (0, "imap/spice/activities/imap_2025_274_2025_275_thruster_01.sff\n")
    code, out, _err = imap(
        "query", "--table", "spice", "--type", "spin", "-e", "20251001", "-o", "json"
    )
    assert (code, json.loads(out)) == (0, [])  # the spin file ends on 2025-10-02


# --- a metakernel SPICE loads -----------------------------------------------------------------

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def leapseconds_kernel() -> str:
    """A real leapseconds text kernel (the constants and TAI-UTC table of naif0012.tls)."""
    table = ",\n".join(
        f"                           {offset},   @{day.year}-{MONTHS[day.month - 1]}-{day.day}"
        for day, offset in LEAP_SECONDS
    )
    return (
        "KPL/LSK\n\n\\begindata\n\n"
        "DELTET/DELTA_T_A       =   32.184\n"
        "DELTET/K               =    1.657D-3\n"
        "DELTET/EB              =    1.671D-2\n"
        "DELTET/M               = (  6.239996D0   1.99096871D-7 )\n\n"
        f"DELTET/DELTA_AT        = (\n{table} )\n\n\\begintext\n"
    )


def test_the_metakernel_loads_in_spice(tmp_path: Path, monkeypatch, capsys):
    spiceypy = pytest.importorskip("spiceypy")
    root = tmp_path / "kernels-archive"
    lsk = root / "imap/spice/lsk/naif0012.tls"
    lsk.parent.mkdir(parents=True)
    lsk.write_text(leapseconds_kernel())
    # A data dir whose kernel paths are well over 80 characters: the .tm must continue them.
    data_dir = tmp_path / ("a-rather-long-folder-name-for-imap-kernels-" * 2) / "data"
    with start_server(root) as server:
        monkeypatch.setenv("IMAP_DATA_ACCESS_URL", server.url)
        monkeypatch.setenv("IMAP_DATA_DIR", str(data_dir))
        target = tmp_path / "imap.tm"
        code = main(["metakernel", "-s", "20251001", "-e", "20251002", "--output", str(target)])
        _out, err = capsys.readouterr()
    assert code == 0, err
    local = data_dir / "imap/spice/lsk/naif0012.tls"
    assert len(str(local)) > 80 and local.read_text() == lsk.read_text()
    assert "+'" in target.read_text()
    spiceypy.kclear()
    try:
        spiceypy.furnsh(str(target))
        assert (spiceypy.ktotal("META"), spiceypy.ktotal("TEXT")) == (1, 1)  # .tm, then LSK
        et = spiceypy.str2et("2025-10-01T00:00:00")
    finally:
        spiceypy.kclear()
    expected = tdb_seconds_past_j2000(dt.datetime(2025, 10, 1))
    assert abs(et - expected) < 0.002  # our day-filter formula leaves out under 2 ms


def test_python_api(server: RunningServer, monkeypatch, tmp_path: Path):
    import imap_cli
    from imap_cli.core.errors import UsageError

    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", server.url)
    monkeypatch.setenv("IMAP_API_KEY", KEY)
    monkeypatch.setenv("IMAP_DATA_DIR", str(tmp_path / "data"))
    rid = imap_cli.reprocess(start_date="20251001", end_date="20251001", instrument="swe")
    assert rid == server.operations.reprocess_requests[-1]["id"]
    with pytest.raises(UsageError, match="data_level needs descriptor"):  # Python names
        imap_cli.reprocess(
            start_date="20251001", end_date="20251001", instrument="swe", data_level="l2"
        )
    failed = imap_cli.jobs(status="failed", instrument="swe")
    assert [j["instrument"] for j in failed] == ["swe"]
    assert "ERROR" in imap_cli.job_logs(failed[0]["job_log_stream_id"])
    path = imap_cli.metakernel(tmp_path / "k.tm", start_date="20251001", types=["leapseconds"])
    # Long paths are cut into SPICE continuation pieces ('...+' then '...'), wherever the
    # (temp folder's) length puts the cut: join them before looking for the kernel's name.
    assert "naif0012.tls" in re.sub(r"\+'\s*'", "", path.read_text())


def test_metakernel_route(server: RunningServer):
    url = f"{server.url}/metakernel"
    names = requests.get(
        url, params={"start_time": "20251001", "end_time": "20251002", "list_files": "true"}
    ).json()
    assert names[0] == "naif0012.tls" and "imap_sdc_metakernel_2025_v001.tm" not in names
    # attitude history: only the newest version of the 2025-274..275 kernel
    assert "imap_2025_274_2025_275_002.ah.bc" in names
    assert "imap_2025_274_2025_275_001.ah.bc" not in names
    only = requests.get(
        url,
        params={
            "start_time": "20251001",
            "file_types": "LEAPSECONDS,nonsense",
            "list_files": "true",
        },
    ).json()
    assert only == ["naif0012.tls"]
    none = requests.get(
        url,
        params={"start_time": "20400101", "file_types": "attitude_history", "list_files": "true"},
    )
    assert (none.status_code, none.text) == (404, "No files found.")
    gaps = requests.get(
        url,
        params={"start_time": "20251001", "end_time": "20251010", "file_types": "attitude_history",
                "require_coverage": "true"},
    )  # fmt: skip
    assert gaps.status_code == 422 and list(gaps.json()) == ["attitude"]
    assert requests.get(url, params={"start_time": "yesterday"}).status_code == 500
    tm = requests.get(url, params={"start_time": "20251001", "spice_path": "/k" * 50}).text
    strings = [line.strip()[1:-1] for line in tm.splitlines() if line.startswith("    '")]
    assert all(len(s) <= 80 for s in strings) and any(s.endswith("+") for s in strings)
    assert "\\begindata" in tm and "KERNELS_TO_LOAD = (" in tm


@pytest.mark.parametrize("width", [60, 80, 120])
def test_jobs_table_fits_the_terminal_and_keeps_the_log_stream(imap, monkeypatch, width):
    code, out, _err = imap("jobs", "-o", "json")
    streams = {r["job_log_stream_id"] for r in json.loads(out)}
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _err = imap("jobs", "-o", "table")
    lines = out.splitlines()
    # too wide for one line a job: each job's log stream on a line of its own, under its row
    assert code == 0 and len(lines) == 2 * len(streams) + 3  # two heading lines and the rule
    shown = {line.strip() for line in lines[4::2]}
    assert shown == streams  # never cut
    for line in lines:
        assert len(line) <= max(width, len(line.strip()) + 2)  # a stream is never cut
    for row in lines[3::2]:  # what identifies the job, and when it ran, stay
        assert re.search(r"\d{4}-\d\d-\d\d", row)
    header = lines[0].split()
    assert {"STATUS", "DESCRIPTOR", "START"} <= set(header)
    if width >= 80:
        assert "RAN" in header
    if width >= 120:
        assert {"INSTRUMENT", "LEVEL", "VERSION"} <= set(header)
    monkeypatch.setenv("COLUMNS", "400")
    wide = imap("jobs", "-o", "table")[1].splitlines()
    assert "TOOK" in wide[0] and "LOG STREAM" in wide[0] and len(wide) == len(streams) + 2


@pytest.mark.parametrize("width", [80, 120])
def test_tables_keep_what_identifies_a_row(imap, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _err = imap("query", "--table", "spice", "-s", "20251001", "-o", "table")
    header = out.splitlines()[0]
    assert code == 0 and "MIN DATE" in header and "MAX DATE" in header  # the coverage
    code, out, _err = imap("query", "-i", "mag", "-o", "table")
    header = out.splitlines()[0].split()
    assert {"DESCRIPTOR", "START", "FILENAME"} <= set(header)
    assert all(len(line) <= width for line in out.splitlines())


def test_dates_and_versions_read_the_same_in_every_table(imap, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    tables = [
        imap("query", "-i", "mag", "-o", "table")[1],
        imap("query", "--table", "ancillary", "-i", "mag", "-o", "table")[1],
        imap("query", "--table", "spice", "-s", "20251001", "-o", "table")[1],
        imap("query", "--table", "spice", "--type", "spin", "-s", "20251001", "-o", "table")[1],
        imap("jobs", "-o", "table")[1],
    ]
    text = "\n".join(tables)
    assert not re.search(r"\b20\d{6}\b(?!_)", text.replace(".cdf", ""))  # no 20251001 dates
    assert " 00:00:00" not in text and " 00:00 " not in text  # midnight: the date alone
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d\b", text)  # a time when there is one
    spice = tables[2].splitlines()[2]
    assert re.search(r"\b00[12]\b", spice)  # 001 as in the file name, not 1
