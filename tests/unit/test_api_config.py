"""`imap_cli.config`: the official client's names over our resolved settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import imap_cli
from imap_cli._config import _Config
from imap_cli.core.errors import ConfigError


def test_reads_resolved_settings(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IMAP_API_KEY", "key-12345678")
    config = _Config()
    assert config["DATA_DIR"] == tmp_path
    assert config["DATA_ACCESS_URL"] == "https://api.imap-mission.com"
    assert config["API_KEY"] == "key-12345678"
    assert config["ACCESS_TOKEN"] is None
    assert "key-12345678" not in repr(config)


def test_assignment_overrides_for_the_process(monkeypatch, tmp_path: Path) -> None:
    config = _Config()
    config["DATA_ACCESS_URL"] = "http://127.0.0.1:8765/"
    config["DATA_DIR"] = str(tmp_path / "d")
    assert config["DATA_ACCESS_URL"] == "http://127.0.0.1:8765"
    settings = config.settings()
    assert settings.url == "http://127.0.0.1:8765" and settings.origins["url"] == "argument"
    assert settings.data_dir == tmp_path / "d"
    with pytest.raises(ConfigError):
        config["DATA_ACCESS_URL"] = "ftp://nope"
    with pytest.raises(KeyError):
        config["NOPE"] = 1
    del config["DATA_ACCESS_URL"]
    assert config["DATA_ACCESS_URL"] == "https://api.imap-mission.com"


def test_package_exposes_the_api_lazily() -> None:
    assert isinstance(imap_cli.config, _Config)
    assert callable(imap_cli.query) and callable(imap_cli.download) and callable(imap_cli.upload)
    code = "import sys, imap_cli; print('requests' in sys.modules, 'rich' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_a_secret_set_to_none_means_no_credential(monkeypatch) -> None:
    monkeypatch.setenv("IMAP_API_KEY", "env-key-123456")
    monkeypatch.setenv("IMAP_ACCESS_TOKEN", "env-token-123456")
    config = _Config()
    config["API_KEY"] = None
    config["ACCESS_TOKEN"] = None
    settings = config.settings()
    assert settings.api_key is None and settings.access_token is None
    assert config["API_KEY"] is None
    config["DATA_ACCESS_URL"] = "http://127.0.0.1:1"
    config["DATA_ACCESS_URL"] = None  # back to the resolved value, not "no url"
    assert config["DATA_ACCESS_URL"] == "https://api.imap-mission.com"


def test_client_overrides_are_checked(monkeypatch) -> None:
    config = _Config()
    assert config.settings(**{"access-token": "tok-12345678"}).access_token == "tok-12345678"
    assert config.settings(jobs=3).jobs == 3
    with pytest.raises(TypeError, match="unknown setting"):
        config.settings(jbos=3)
