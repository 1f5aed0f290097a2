"""Every test runs with its own settings: no user config, no real SDC, fast retries."""

from __future__ import annotations

from pathlib import Path

import pytest

_CLEARED = (
    "IMAP_API_KEY",
    "IMAP_ACCESS_TOKEN",
    "IMAP_DATA_ACCESS_URL",
    "IMAP_JOBS",
    "IMAP_TIMEOUT",
    "IMAP_RETRIES",
    "IMAP_CA_BUNDLE",
    "IMAP_DEBUG",
    "REQUESTS_CA_BUNDLE",
    "NO_COLOR",
)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point the config file and data dir at fresh temp paths; clear credentials."""
    home = tmp_path_factory.mktemp("imap-home")
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IMAP_CLI_CONFIG", str(home / "config" / "config.toml"))
    monkeypatch.setenv("IMAP_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("IMAP_CLI_BACKOFF", "0.01")
    # The cache (recent query results) must not leak between tests either.
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    return home


@pytest.fixture
def config_file(isolated_settings: Path) -> Path:
    """The (not yet existing) config file of this test."""
    return isolated_settings / "config" / "config.toml"
