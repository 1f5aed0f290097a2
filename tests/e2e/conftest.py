"""Shared end-to-end fixtures: a demo archive and `imap serve` running over it on real sockets.

- demo_root: a fresh demo archive (imap_cli.server.demo.build_demo) in a tmp folder.
- sdc: a RunningServer over demo_root (API on a free port, object URLs on another free port,
  so credentials that leak to the object host can be seen in `sdc.requests`); files dropped
  into demo_root by hand are picked up before the next API request (rescan_interval=0).
- sdc_env: sdc plus an environment pointing `imap` and the official client at it:
  IMAP_DATA_ACCESS_URL=sdc.url, IMAP_DATA_DIR=<tmp>/data, IMAP_CLI_CONFIG=<tmp>/config.toml,
  no API key or token, IMAP_CLI_BACKOFF=0.01. Returns an SDCEnv (server, url, data_dir,
  config).

A test that needs other options (an API key, middleware for fault injection, latency) calls
imap_cli.server.start_server itself; see its docstring.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imap_cli.server import RunningServer, start_server
from imap_cli.server.demo import build_demo


@dataclass(frozen=True)
class SDCEnv:
    """What sdc_env set up."""

    server: RunningServer
    url: str
    data_dir: Path
    config: Path


@pytest.fixture
def demo_root(tmp_path: Path) -> Path:
    """A fresh demo archive laid out like the SDC."""
    root = tmp_path / "archive"
    build_demo(root)
    return root


@pytest.fixture
def sdc(demo_root: Path) -> Iterator[RunningServer]:
    """`imap serve` over demo_root; objects on a separate port; stopped after the test."""
    with start_server(demo_root, rescan_interval=0, log=sys.stderr) as server:
        yield server


@pytest.fixture
def sdc_env(sdc: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SDCEnv:
    """sdc, with the environment of `imap` and `imap-data-access` pointing at it."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = tmp_path / "config.toml"
    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", sdc.url)
    monkeypatch.setenv("IMAP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("IMAP_CLI_CONFIG", str(config))
    monkeypatch.setenv("IMAP_CLI_BACKOFF", "0.01")
    monkeypatch.delenv("IMAP_API_KEY", raising=False)
    monkeypatch.delenv("IMAP_ACCESS_TOKEN", raising=False)
    return SDCEnv(server=sdc, url=sdc.url, data_dir=data_dir, config=config)
