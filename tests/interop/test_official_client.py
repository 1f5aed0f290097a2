"""The official client's command line (imap-data-access 1.3.0) against `imap serve`.

Quirks of the official client that these tests rely on: `--version
vMMM.mmmm` is refused locally unless `--repointing` is also given; `--version latest` on the
science table becomes `latest=true`; SPICE queries need `--type`; a download of a file that is
already present requests nothing; every error exits 1 with repr(exception) on stderr.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from imap_cli.core.naming import parse
from imap_cli.server import RunningServer, start_server

Official = Callable[..., subprocess.CompletedProcess]

NAME = "imap_mag_l1a_norm-mago_20251001_v001.0000.cdf"
NEW = "imap_swe_l1a_sci_20251230_v001.0000.cdf"


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def server_rows(server: RunningServer, **params: str) -> list[dict]:
    return requests.get(f"{server.url}/query", params={"table": "science", **params}).json()


def test_query_json_is_exactly_the_servers_answer(official: Official, interop_sdc):
    out = ok(
        official("query", "--instrument", "mag", "--data-level", "l1a", "--output-format", "json")
    )
    rows = json.loads(out)
    assert rows == server_rows(interop_sdc, instrument="mag", data_level="l1a")
    assert {r["version"] for r in rows} >= {"v001.0000", "v001.0001", "v002.0000"}


def test_query_table_lists_the_files(official: Official, interop_sdc):
    out = ok(
        official(
            "query", "--instrument", "swe", "--start-date", "20251001", "--end-date", "20251003"
        )
    )
    rows = server_rows(interop_sdc, instrument="swe", start_date="20251001", end_date="20251003")
    assert f"Found [{len(rows)}] matching files in science table" in out
    for row in rows:
        assert row["file_path"].rsplit("/", 1)[1] in out
    assert "|" in out and "Ingestion Date" in out


def test_version_latest_is_resolved_by_the_server(official: Official, interop_sdc):
    out = ok(
        official(
            "query",
            "--instrument",
            "mag",
            "--data-level",
            "l1a",
            "--version",
            "latest",
            "--output-format",
            "json",
        )
    )
    rows = json.loads(out)
    assert rows == server_rows(interop_sdc, instrument="mag", data_level="l1a", latest="true")
    assert any(r["ingestion_date"] for r in rows)
    latest = [r for r in interop_sdc.requests if r.path == "/query" and "latest=true" in r.query]
    assert latest, "the official client sends latest=true"


def test_full_version_is_refused_by_the_client_unless_a_repointing_is_given(official: Official):
    refused = official("query", "--instrument", "hi", "--version", "v001.0001")
    assert refused.returncode == 1
    assert "Not a valid version, use format 'vXXX'." in refused.stderr
    out = ok(
        official(
            "query",
            "--instrument",
            "hi",
            "--repointing",
            "repoint00040",
            "--version",
            "v001.0001",
            "--output-format",
            "json",
        )
    )
    assert [r["file_path"].rsplit("/", 1)[1] for r in json.loads(out)] == [
        "imap_hi_l1b_45sensor-de_20251001-repoint00040_v001.0001.cdf"
    ]


def test_ancillary_and_spice_queries(official: Official):
    ancillary = json.loads(
        ok(
            official(
                "query", "--table", "ancillary", "--instrument", "mag", "--output-format", "json"
            )
        )
    )
    assert ancillary and all(r["file_path"].startswith("imap/ancillary/mag/") for r in ancillary)
    table = ok(official("query", "--table", "ancillary", "--instrument", "mag"))
    assert "in ancillary table" in table and "End Date" in table
    spice = json.loads(
        ok(
            official(
                "query", "--table", "spice", "--type", "leapseconds", "--output-format", "json"
            )
        )
    )
    assert [r["file_name"] for r in spice] == ["lsk/naif0012.tls"]
    spice_table = ok(official("query", "--table", "spice", "--type", "attitude_history"))
    assert "imap_2025_274_2025_275_002.ah.bc" in spice_table and "Kernel Type" in spice_table


def test_download_is_byte_identical(official: Official, interop_root: Path, tmp_path: Path):
    out = ok(official("download", NAME))
    key = parse(NAME).key
    target = tmp_path / "official-data" / key
    assert f"Successfully downloaded the file to: {target}" in out
    assert target.read_bytes() == (interop_root / key).read_bytes()
    spk = "imap_pred_20251001_20251101_v02.bsp"
    ok(official("download", f"spk/{spk}"))
    assert (tmp_path / "official-data" / parse(spk).key).read_bytes() == (
        interop_root / parse(spk).key
    ).read_bytes()


def test_download_of_a_missing_file_is_the_sdcs_404(official: Official):
    result = official("download", "imap_mag_l1a_norm-mago_20300101_v001.0000.cdf")
    assert result.returncode == 1
    assert "404 Not Found: File not found, make sure you include the full path" in result.stderr


def test_upload_then_409_on_a_second_upload(official: Official, interop_sdc, tmp_path: Path):
    local = tmp_path / NEW
    local.write_bytes(b"uploaded by the official client\n" * 100)
    out = ok(official("upload", str(local)))
    assert "Successfully uploaded the file to the IMAP SDC" in out
    key = parse(NEW).key
    assert (interop_sdc.root / key).read_bytes() == local.read_bytes()
    rows = json.loads(
        ok(
            official(
                "query",
                "--instrument",
                "swe",
                "--start-date",
                "20251230",
                "--output-format",
                "json",
            )
        )
    )
    assert [r["file_path"] for r in rows] == [key]
    again = official("upload", str(local))
    assert again.returncode == 1
    assert "409 Conflict" in again.stderr and "FileAlreadyExists" in again.stderr
    assert key in again.stderr and "already exists. Rename it" in again.stderr


def test_upload_of_a_bad_name_is_the_sdcs_400(official: Official, tmp_path: Path):
    local = tmp_path / "imap_mag_notes.txt"
    local.write_text("x")
    result = official("upload", str(local))
    assert result.returncode == 1
    assert "400 Bad Request" in result.stderr
    assert (
        "does not match ancillary, science, cadence, or SPICE file naming convention"
        in result.stderr
    )


API_KEY = "interop-key-0123"


@pytest.fixture
def keyed(interop_root: Path, tmp_path: Path, official_for):
    with start_server(interop_root, api_key=API_KEY) as server:
        data_dir = tmp_path / "keyed-data"
        data_dir.mkdir()
        yield server, official_for(server.url, data_dir), data_dir


def test_api_key_routes(keyed, tmp_path: Path, interop_root: Path):
    server, run, data_dir = keyed
    rows = json.loads(
        ok(run("query", "--instrument", "lo", "--output-format", "json", api_key=API_KEY))
    )
    assert rows and all(r["instrument"] == "lo" for r in rows)
    assert any(
        r.path == "/api-key/query" and r.headers.get("x-api-key") == API_KEY
        for r in server.requests
    )
    ok(run("download", NAME, api_key=API_KEY))
    assert (data_dir / parse(NAME).key).read_bytes() == (
        interop_root / parse(NAME).key
    ).read_bytes()
    local = tmp_path / NEW
    local.write_bytes(b"with a key")
    ok(run("upload", str(local), api_key=API_KEY))
    assert (interop_root / parse(NEW).key).read_bytes() == b"with a key"
    # the official client sends the key to the object host too: ignored there
    objects = [r for r in server.requests if r.origin == "objects"]
    assert {r.method for r in objects} == {"GET", "PUT"}
    assert all(r.headers.get("x-api-key") == API_KEY for r in objects)
    wrong = run("query", "--instrument", "lo", api_key="wrong-key")
    assert wrong.returncode == 1 and "403 Forbidden" in wrong.stderr
    # without a key: queries are public, uploads are not routed (as on production)
    assert json.loads(ok(run("query", "--instrument", "lo", "--output-format", "json"))) == rows
    other = tmp_path / NEW.replace("20251230", "20251229")
    other.write_bytes(b"no key")
    refused = run("upload", str(other))
    assert refused.returncode == 1 and "404 Not Found" in refused.stderr
    assert not (interop_root / parse(other.name).key).exists()
