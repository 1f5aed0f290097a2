"""Fixtures for running the official client (`imap-data-access`) against `imap serve`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from imap_cli.server import RunningServer, start_server
from imap_cli.server.demo import build_demo

pytest.importorskip("imap_data_access")


def official_script() -> str:
    """The official client's console script, from the environment running the tests."""
    beside = Path(sys.executable).with_name("imap-data-access")
    found = str(beside) if beside.exists() else shutil.which("imap-data-access")
    if not found:
        pytest.skip("the imap-data-access console script is not installed")
    return found


@pytest.fixture
def interop_root(tmp_path: Path) -> Path:
    """A fresh demo archive (uploads in a test do not leak into others)."""
    root = tmp_path / "archive"
    build_demo(root)
    return root


@pytest.fixture
def interop_sdc(interop_root: Path) -> Iterator[RunningServer]:
    with start_server(interop_root, rescan_interval=0, log=sys.stderr) as server:
        yield server


Official = Callable[..., subprocess.CompletedProcess]


def make_runner(url: str, data_dir: Path) -> Official:
    script = official_script()

    def run(*args: str, api_key: str | None = None) -> subprocess.CompletedProcess:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("IMAP_API_KEY", "IMAP_ACCESS_TOKEN", "IMAP_WEBPODA_TOKEN")
        }
        env.update(IMAP_DATA_ACCESS_URL=url, IMAP_DATA_DIR=str(data_dir))
        if api_key is not None:
            env["IMAP_API_KEY"] = api_key
        return subprocess.run([script, *args], capture_output=True, text=True, env=env, timeout=60)

    return run


@pytest.fixture
def official(interop_sdc: RunningServer, tmp_path: Path) -> Official:
    """Run the official CLI against interop_sdc: official("query", "--instrument", "mag")."""
    data_dir = tmp_path / "official-data"
    data_dir.mkdir()
    return make_runner(interop_sdc.url, data_dir)


@pytest.fixture
def official_for() -> Callable[[str, Path], Official]:
    """A factory: official_for(url, data_dir) runs the official CLI against another server."""
    return make_runner
