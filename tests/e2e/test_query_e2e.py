"""`imap query` over real sockets against `imap serve` and its demo archive.

The read-only queries share one server per module (`demo_server`, built exactly like the
shared `demo_root`/`sdc` fixtures of conftest.py, which build a fresh archive per test); the
tests that need the whole environment use `sdc_env`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests
from imap_runner import ImapRunner

from imap_cli.cli.app import main
from imap_cli.core.naming import parse
from imap_cli.server import RunningServer, start_server
from imap_cli.server.demo import build_demo


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("archive")
    build_demo(root)
    with start_server(root, rescan_interval=None) as running:
        yield running


@pytest.fixture
def server(demo_server: RunningServer) -> RunningServer:
    return demo_server


@pytest.fixture
def imap(imap: ImapRunner, server: RunningServer) -> ImapRunner:
    """The runner of conftest.py against the server, running `imap query ...`."""
    return imap.against(server.url, retries=1, prefix=("query",))


def names(paths_output: str) -> list[str]:
    return [line.rsplit("/", 1)[1] for line in paths_output.splitlines()]


def api_calls(server: RunningServer, route: str) -> list[list[tuple[str, str]]]:
    return [
        parse_qsl(r.query)
        for r in list(server.requests)
        if r.origin == "api" and r.path.endswith(route)
    ]


# --- science -----------------------------------------------------------------------------------


def test_default_keeps_every_minor_of_the_highest_major(imap) -> None:
    code, out, err = imap("-i", "mag", "-l", "l1a", "-d", "norm-mago", "-s", "2025-10-02", "-e",
                          "20251003", "-o", "paths")  # fmt: skip
    assert code == 0 and "Found 4 files in the science table" in err
    assert names(out) == [
        "imap_mag_l1a_norm-mago_20251002_v001.0000.cdf",
        "imap_mag_l1a_norm-mago_20251002_v001.0001.cdf",
        "imap_mag_l1a_norm-mago_20251002_v001.0002.cdf",
        "imap_mag_l1a_norm-mago_20251003_v002.0000.cdf",
    ]


def test_latest_and_an_exact_version(imap, server) -> None:
    code, out, _ = imap("-i", "mag", "-d", "norm-mago", "-l", "l1a", "-s", "20251001", "-e",
                        "20251003", "--version", "latest", "-o", "paths")  # fmt: skip
    assert code == 0 and names(out) == [
        "imap_mag_l1a_norm-mago_20251001_v001.0001.cdf",
        "imap_mag_l1a_norm-mago_20251002_v001.0002.cdf",
        "imap_mag_l1a_norm-mago_20251003_v002.0000.cdf",
    ]
    assert api_calls(server, "/query")[-1][-1] == ("latest", "true")
    code, out, _ = imap("-i", "mag", "-d", "norm-mago", "--version", "v001.0001", "-o", "paths")
    assert code == 0 and names(out) == [
        "imap_mag_l1a_norm-mago_20251001_v001.0001.cdf",
        "imap_mag_l1a_norm-mago_20251002_v001.0001.cdf",
        "imap_mag_l1a_norm-mago_20251003_v001.0001.cdf",  # older major: asked for by version
    ]


def test_repointing_and_the_table_view(imap) -> None:
    code, out, _ = imap("-i", "hi", "--repointing", "repoint00040", "-o", "table")
    header, _, *lines = out.splitlines()
    assert code == 0 and "REPOINT" in header.split() and len(lines) == 2
    assert all(line.split()[4] == "40" for line in lines)


def test_json_is_exactly_what_the_server_sent(sdc_env, capsys) -> None:
    assert main(["query", "-i", "swe", "-o", "json"]) == 0
    out = capsys.readouterr().out  # (the server's access log goes to stderr)
    direct = requests.get(f"{sdc_env.url}/query", params={"instrument": "swe"}, timeout=10)
    assert json.loads(out) == direct.json() and len(direct.json()) > 5


def test_ingestion_dates_are_inclusive(imap) -> None:
    _, out, _ = imap("-i", "hit", "-l", "l1a", "-o", "json")
    first = json.loads(out)[0]
    day = first["ingestion_date"][:8]
    code, out, _ = imap("-i", "hit", "-l", "l1a", "--ingestion-start-date", day,
                        "--ingestion-end-date", day, "-o", "json")  # fmt: skip
    assert code == 0 and first in json.loads(out)


# --- other tables ------------------------------------------------------------------------------


def test_ancillary_latest_is_resolved_by_imap(imap, server) -> None:
    code, out, err = imap("--table", "ancillary", "-i", "mag", "--version", "latest", "-o", "paths")
    assert code == 0 and "in the ancillary table" in err
    assert names(out) == [
        "imap_mag_l1b-cal_20250901_20251231_v002.cdf",
        "imap_mag_l2-offsets_20251001_20251015_v001.cdf",
    ]
    assert all(k not in ("latest", "version") for k, _ in api_calls(server, "/query")[-1])


def test_refused_filters_never_reach_the_server(imap, server) -> None:
    before = len(server.requests)
    code, _, err = imap("--table", "ancillary", "-i", "mag", "-l", "l1a")
    assert code == 2 and "cannot be filtered by data level" in err
    assert len(server.requests) == before


def test_quicklook(imap) -> None:
    code, out, _ = imap(
        "--table", "quicklook", "-i", "swe", "--version", "v001.0000", "-o", "paths"
    )
    assert (
        code == 0
        and out == "imap/quicklook/swe/l1a/2025/10/imap_swe_l1a_sci_20251002_v001.0000.png\n"
    )


def test_spice_by_day_type_and_latest(imap, server) -> None:
    code, out, err = imap("--table", "spice", "--type", "attitude_history", "-s", "2025-10-01",
                          "-e", "2025-10-01", "-o", "paths")  # fmt: skip
    assert code == 0, err
    assert names(out) == [
        "imap_2025_274_2025_275_001.ah.bc",
        "imap_2025_274_2025_275_002.ah.bc",
    ]  # day 276's kernel starts after the day asked for
    sent = dict(api_calls(server, "/spice-query")[-1])
    assert set(sent) == {"type", "start_time", "end_time"}
    code, out, _ = imap("--table", "spice", "--type", "attitude_history", "-s", "20251001", "-e",
                        "20251001", "--version", "latest", "-o", "paths")  # fmt: skip
    assert code == 0 and names(out) == ["imap_2025_274_2025_275_002.ah.bc"]
    code, out, _ = imap("--table", "spice", "--type", "leapseconds", "-o", "paths")
    assert out == "imap/spice/lsk/naif0012.tls\n"


def test_spice_ingestion_end_day_is_included(imap) -> None:
    _, out, _ = imap("--table", "spice", "--type", "leapseconds", "-o", "json")
    (kernel,) = json.loads(out)
    day = kernel["ingestion_date"][:10].replace("-", "")
    code, out, _ = imap("--table", "spice", "--type", "leapseconds", "--ingestion-start-date", day,
                        "--ingestion-end-date", day, "-o", "json")  # fmt: skip
    assert code == 0 and json.loads(out) == [kernel]


@pytest.mark.parametrize(
    "name",
    [
        "imap_mag_l1a_norm-mago_20251002_v001.0001.cdf",
        "imap_swapi_l1_sci_20250930_v001.cdf",  # legacy version
        "imap_hi_l1b_45sensor-de_20251001-repoint00040_v001.0000.cdf",
        "imap_glows_l3b_ion-rate-profile_20251001-cr02301_v001.0000.cdf",
        "imap_mag_l1b-cal_20250901_20251231_v001.cdf",  # not the latest: still found
        "imap_mag_l1a_norm-mago_20251001_v001.0000.png",
        "imap_2025_274_2025_275_001.ah.bc",
        "naif0012.tls",
        "imap_2025_274_2025_275_01.spin.csv",
        "imap_2025_276_01.repoint.csv",
    ],
)
def test_filename_finds_exactly_that_file(imap, name: str) -> None:
    code, out, err = imap("--filename", name, "-o", "paths")
    assert code == 0, err
    assert out == parse(name).key + "\n" and "Found 1 file" in err


def test_filename_that_is_not_there(imap) -> None:
    code, out, err = imap("--filename", "imap_mag_l1a_norm-mago_20300101_v001.0000.cdf")
    assert code == 0 and json.loads(out) == [] and "No files in the science table" in err


# --- auth and failures -------------------------------------------------------------------------


def test_api_key_route_and_refusal(tmp_path: Path, monkeypatch, capsys) -> None:
    build_demo(tmp_path)
    with start_server(tmp_path, api_key="the-key-123", rescan_interval=None) as running:
        monkeypatch.setenv("IMAP_DATA_ACCESS_URL", running.url)
        monkeypatch.setenv("IMAP_API_KEY", "the-key-123")
        assert main(["query", "-i", "lo", "-o", "paths"]) == 0
        out, _ = capsys.readouterr()
        assert len(out.splitlines()) == 3
        (record,) = [r for r in running.requests if r.origin == "api"]
        assert record.path == "/api-key/query" and record.headers["x-api-key"] == "the-key-123"
        monkeypatch.setenv("IMAP_API_KEY", "wrong-key-456")
        assert main(["query", "-i", "lo"]) == 4
        _, err = capsys.readouterr()
        assert err.startswith("Error: query: 403") and "Hint: " in err


def test_connection_refused(monkeypatch, capsys) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("IMAP_RETRIES", "0")
    assert main(["query", "-i", "mag"]) == 3
    _, err = capsys.readouterr()
    assert f"connection refused by 127.0.0.1:{port}" in err and "Hint: " in err


def test_server_errors_after_retries(tmp_path: Path, monkeypatch, capsys) -> None:
    def failing(app):
        def wsgi(environ, start_response):
            start_response("502 Bad Gateway", [("Content-Type", "application/json")])
            return [b'{"message": "Bad Gateway"}']

        return wsgi

    with start_server(tmp_path, api_middleware=failing, rescan_interval=None) as running:
        monkeypatch.setenv("IMAP_DATA_ACCESS_URL", running.url)
        monkeypatch.setenv("IMAP_RETRIES", "2")
        assert main(["query", "-i", "mag"]) == 3
        _, err = capsys.readouterr()
        assert "502" in err and "imap-sdc@lasp.colorado.edu" in err
        assert len([r for r in running.requests if r.origin == "api"]) == 3


# --- with imap download ------------------------------------------------------------------------


def test_paths_pipe_into_download(sdc_env, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAP_")}
    env.update(
        IMAP_DATA_ACCESS_URL=sdc_env.url,
        IMAP_DATA_DIR=str(sdc_env.data_dir),
        IMAP_CLI_CONFIG=str(sdc_env.config),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    imap = [sys.executable, "-m", "imap_cli"]
    listed = subprocess.run(
        [*imap, "query", "-i", "lo", "-o", "paths"], env=env, capture_output=True, check=True
    )
    keys = listed.stdout.decode().splitlines()
    assert len(keys) == 3
    fetched = subprocess.run(
        [*imap, "download", "-"], env=env, input=listed.stdout, capture_output=True, timeout=60
    )
    assert fetched.returncode == 0, fetched.stderr.decode()
    for key in keys:
        assert (sdc_env.data_dir / key).read_bytes() == (sdc_env.server.root / key).read_bytes()
    recent = (tmp_path / "cache" / "imap-cli" / "recent-keys.txt").read_text().splitlines()
    assert recent[:3] == keys


def test_ctrl_c_during_a_query_says_interrupted(silent_server, tmp_path) -> None:
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "imap_cli", "--url", silent_server.url, "query", "-i", "mag"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert silent_server.accepted.wait(20), "the query never connected"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130 and out == ""
    assert "Interrupted." in err and "Traceback" not in err
