"""The official client's `reprocess` and `release` (imap-data-access 1.3.0) against
`imap serve --api-key`.

The official release sleeps 10 s between uploading the manifest and asking for the release.
`imap serve` indexes an upload at once, so the subprocess gets a sitecustomize (on its
PYTHONPATH only) that shortens time.sleep; nothing else about the client changes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from imap_cli.core.naming import parse
from imap_cli.server import RunningServer, start_server

KEY = "interop-key"
SITECUSTOMIZE = """
import time

_real_sleep = time.sleep


def _short_sleep(seconds):
    _real_sleep(min(seconds, 0.01))


time.sleep = _short_sleep
"""


@pytest.fixture
def keyed_sdc(interop_root: Path) -> Iterator[RunningServer]:
    with start_server(interop_root, api_key=KEY, rescan_interval=0, log=sys.stderr) as server:
        yield server


@pytest.fixture
def official_keyed(keyed_sdc, official_for, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    patch = tmp_path / "no-long-sleeps"
    patch.mkdir()
    (patch / "sitecustomize.py").write_text(SITECUSTOMIZE)
    monkeypatch.setenv("PYTHONPATH", str(patch))
    data_dir = tmp_path / "official-data"
    data_dir.mkdir()
    return official_for(keyed_sdc.url, data_dir)


def test_official_reprocess(official_keyed, keyed_sdc: RunningServer):
    result = official_keyed(
        "reprocess",
        "--start-date",
        "20251001",
        "--end-date",
        "20251003",
        "--instrument",
        "mag",
        "--data-level",
        "l1a",
        "--descriptor",
        "norm-mago",
        api_key=KEY,
    )
    assert result.returncode == 0, result.stderr
    assert "Successfully triggered reprocessing" in result.stdout
    (posted,) = [r for r in keyed_sdc.requests if r.path.endswith("/reprocess")]
    assert (posted.method, posted.path) == ("POST", "/api-key/reprocess")
    assert posted.headers["x-api-key"] == KEY
    queued = keyed_sdc.operations.reprocess_requests
    assert queued[0]["params"] == {
        "start_date": "20251001",
        "end_date": "20251003",
        "instrument": "mag",
        "data_level": "l1a",
        "descriptor": "norm-mago",
        "reprocessing": "True",
    }


def test_official_release(official_keyed, keyed_sdc: RunningServer, tmp_path: Path):
    # A science upload starts unreleased; the official client's release makes it public.
    name = "imap_hit_l2_burst_20251012_v001.0000.cdf"
    science = tmp_path / name
    science.write_bytes(b"burst data")
    assert official_keyed("upload", str(science), api_key=KEY).returncode == 0
    key = parse(name).key
    public = requests.get(f"{keyed_sdc.url}/download/{key}", allow_redirects=False)
    assert public.status_code == 403
    manifest = tmp_path / "imap_hit_data-release-005_20251001_20251031_v001.txt"
    manifest.write_text("instrument, data_type, descriptor, release_flag\nhit, l2, burst, true\n")
    result = official_keyed(
        "release", "--release-type", "release", "--manifest-file", str(manifest), api_key=KEY
    )
    assert result.returncode == 0, result.stderr
    assert "Successfully submitted release request" in result.stdout
    released = [r for r in keyed_sdc.requests if r.path == "/api-key/release"]
    assert [r.status for r in released] == [200]
    public = requests.get(f"{keyed_sdc.url}/download/{key}", allow_redirects=False)
    assert public.status_code == 302
