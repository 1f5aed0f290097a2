"""`imap upload` over real sockets against `imap serve` (API and object host on two ports)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap_runner import ImapRunner

from imap_cli.server import RunningServer, start_server

KEY = "upload-key-0123456789"
MAG = "imap_mag_l1a_norm-mago_20250102_v001.0002.cdf"
MAG_KEY = f"imap/mag/l1a/2025/01/{MAG}"
ANC = "imap_mag_calibration_20250101_v001.cdf"
ANC_KEY = f"imap/ancillary/mag/{ANC}"
SWE = "imap_swe_l2_sci_20250301_v002.0001.cdf"
SWE_KEY = f"imap/swe/l2/2025/03/{SWE}"


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A fresh, empty archive that needs an API key (as the production SDC does for uploads)."""
    root = tmp_path_factory.mktemp("archive")
    with start_server(root, api_key=KEY, rescan_interval=None) as running:
        yield running


@pytest.fixture
def imap(imap: ImapRunner, server: RunningServer) -> ImapRunner:
    """The runner of conftest.py against the server."""
    return imap.against(server.url, retries=1)


def make_file(folder: Path, name: str, size: int = 200_000) -> Path:
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


def calls(server: RunningServer, origin: str, method: str) -> list:
    return [r for r in list(server.requests) if r.origin == origin and r.method == method]


def test_upload_lands_byte_identical_and_shows_in_query(
    imap, server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAP_API_KEY", KEY)
    files = [make_file(tmp_path, MAG, 3_000_000), make_file(tmp_path, ANC)]
    code, out, err = imap("upload", "-j", "2", *map(str, files))
    assert code == 0, err
    assert out.splitlines() == [MAG_KEY, ANC_KEY]
    assert "Uploaded 2 files" in err
    for path, key in zip(files, (MAG_KEY, ANC_KEY)):
        assert (server.root / key).read_bytes() == path.read_bytes()
    # The credential went to the API only; the object host (another port) got none.
    assert server.objects_url != server.url
    puts = calls(server, "objects", "PUT")
    assert len(puts) == 2
    for put in puts:
        assert "x-api-key" not in put.headers and "authorization" not in put.headers
        assert put.headers["content-length"] in {"3000000", "200000"}
        assert "transfer-encoding" not in put.headers
    assert all(r.headers.get("x-api-key") == KEY for r in calls(server, "api", "GET"))
    code, out, err = imap("query", "--filename", MAG, "-o", "json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["file_path"] == MAG_KEY


def test_reuploading_identical_files_is_done_and_exits_0(
    imap, server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAP_API_KEY", KEY)
    first = [make_file(tmp_path, MAG), make_file(tmp_path, ANC, 3_000)]
    assert imap("upload", *map(str, first))[0] == 0
    before = len(calls(server, "objects", "PUT"))
    again = [*first, make_file(tmp_path, SWE)]
    code, out, err = imap("upload", *map(str, again))
    assert code == 0, err
    assert out == f"{SWE_KEY}\n"  # only what was uploaded now
    assert "skipped 2" in err and "failed 0" in err
    assert len(calls(server, "objects", "PUT")) == before + 1
    # The comparison never used HEAD on the object URL (presigned GET URLs refuse it).
    assert calls(server, "objects", "HEAD") == []
    ranged = [r for r in calls(server, "objects", "GET") if r.headers.get("range")]
    assert len(ranged) == 2 and all(r.headers["range"] == "bytes=0-0" for r in ranged)
    # A dry run says which are there already, and uploads nothing.
    code, out, err = imap("upload", "--dry-run", *map(str, again))
    assert code == 0 and out == ""
    assert f"already in the SDC: {MAG_KEY} (same size and MD5)" in err
    assert len(calls(server, "objects", "PUT")) == before + 1


def test_different_content_under_the_same_name_is_a_conflict_naming_both(
    imap, server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAP_API_KEY", KEY)
    first = make_file(tmp_path, MAG)
    assert imap("upload", str(first))[0] == 0
    other = tmp_path / "other"
    other.mkdir()
    changed = make_file(other, MAG)  # same name and size, other bytes
    again = [changed, make_file(tmp_path, SWE)]
    code, out, err = imap("upload", *map(str, again))
    assert code == 1
    assert out == f"{SWE_KEY}\n"
    assert f"{MAG_KEY}: already in the SDC with different content than {changed}" in err
    assert f"{MAG_KEY}: {MAG_KEY}" not in err  # the key is said once per line
    assert "same size, but MD5" in err and "a new version needs a new filename" in err
    assert (server.root / SWE_KEY).read_bytes() == again[1].read_bytes()
    assert (server.root / MAG_KEY).read_bytes() == first.read_bytes()
    shorter = other / MAG
    shorter.write_bytes(b"x" * 10)
    code, _, err = imap("upload", "--dry-run", str(shorter))
    assert code == 1
    assert "the SDC's copy has 200,000 bytes, this one 10" in err


def test_without_a_key_the_refusal_says_how_to_set_one(
    imap, server: RunningServer, tmp_path: Path
) -> None:
    code, out, err = imap("upload", str(make_file(tmp_path, MAG)))
    assert code == 4 and out == ""
    assert "imap config set api-key" in err
    assert calls(server, "objects", "PUT") == []


def test_wrong_key_is_refused(imap, server: RunningServer, tmp_path: Path) -> None:
    code, _, err = imap("--api-key", "wrong-key-000000", "upload", str(make_file(tmp_path, MAG)))
    assert code == 4 and "refused the upload (403" in err
    assert not (server.root / MAG_KEY).exists()


def test_dry_run_uploads_nothing(imap, server: RunningServer, tmp_path: Path) -> None:
    before = len(server.requests)
    code, out, _ = imap("upload", "--dry-run", str(make_file(tmp_path, MAG)))
    assert code == 0 and out == f"{MAG_KEY}\n"
    asked = list(server.requests)[before:]
    assert [(r.method, "/download/" in r.path) for r in asked] == [("GET", True)]
    assert not (server.root / MAG_KEY).exists()


def test_python_api(server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import imap_cli
    from imap_cli.core.errors import Conflict

    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", server.url)
    monkeypatch.setenv("IMAP_API_KEY", KEY)
    path = make_file(tmp_path, ANC)
    assert imap_cli.upload(path) == ANC_KEY
    assert (server.root / ANC_KEY).read_bytes() == path.read_bytes()
    assert imap_cli.upload(path) == ANC_KEY  # the same bytes again: done
    path.write_bytes(b"other bytes")
    with pytest.raises(Conflict):
        imap_cli.upload(path)


def test_python_upload_many(
    server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imap_cli

    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", server.url)
    monkeypatch.setenv("IMAP_API_KEY", KEY)
    paths = [make_file(tmp_path, MAG), make_file(tmp_path, SWE)]
    planned = imap_cli.upload_many(paths, dry_run=True)
    assert planned == [] and planned.planned == [MAG_KEY, SWE_KEY]
    assert [(r.key, r.status) for r in planned.results] == [
        (MAG_KEY, "would-upload"),
        (SWE_KEY, "would-upload"),
    ]
    results = imap_cli.upload_many(paths, jobs=2)
    assert results == results.uploaded == [MAG_KEY, SWE_KEY] and results.skipped == []
    again = imap_cli.upload_many(paths)
    # The keys of what is in the SDC, and which of them this call found there already.
    assert again == again.skipped == [MAG_KEY, SWE_KEY] and again.uploaded == []
    assert all(r.ok and "already in the SDC" in r.reason for r in again.results)
    key = imap_cli.upload(paths[0])
    assert key == MAG_KEY and not key.uploaded and key.already_there


# --- processes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [
        (signal.SIGINT, 130, "Interrupted"),
        (signal.SIGTERM, 143, "Stopped by SIGTERM"),
        (signal.SIGHUP, 129, "Stopped by SIGHUP"),
    ],
)
def test_a_signal_stops_an_upload_whose_requests_hang_with_its_code(
    tmp_path: Path, silent_server, signum: int, code: int, word: str
) -> None:
    silent = silent_server
    paths = [
        make_file(tmp_path, f"imap_mag_l1a_norm-mago_2025010{d}_v001.0001.cdf") for d in (1, 2, 3)
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAP_")}
    env.update(
        IMAP_DATA_ACCESS_URL=silent.url,
        IMAP_API_KEY=KEY,
        IMAP_CLI_CONFIG=str(tmp_path / "config.toml"),
        IMAP_DATA_DIR=str(tmp_path / "data"),
        IMAP_CLI_BACKOFF="0.01",
        # An hour's read timeout: a process that waited for its stuck requests would hang.
        IMAP_TIMEOUT="3600",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "imap_cli", "upload", "-j", "2", *map(str, paths)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        # Ready when a GET /upload is hanging on the silent server.
        assert silent.accepted.wait(20), "the upload never reached the server"
        assert proc.poll() is None
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)  # a deadlock guard, not a speed target
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        silent.close()
    assert proc.returncode == code, err
    assert f"{word}: an unfinished upload leaves nothing in the SDC" in err
    assert "Traceback" not in err
    assert f"{word}." not in err  # the upload's own note, not the generic line as well
    assert out == ""
