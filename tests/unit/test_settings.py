"""Settings precedence, validation, masking and the config file's safety."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from imap_cli.cli.errors import ExitCode, exit_code_for
from imap_cli.core import settings
from imap_cli.core.errors import ConfigError


def test_defaults_when_nothing_is_set(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMAP_DATA_DIR")
    resolved = settings.resolve()
    assert resolved.url == "https://api.imap-mission.com"
    assert resolved.jobs == 8 and resolved.retries == 5 and resolved.timeout == 60.0
    assert resolved.api_key is None and resolved.access_token is None
    assert resolved.data_dir.name == "imap-cli"
    assert all(resolved.origins[k] == "default" for k in settings.KEYS)


def test_precedence_flag_over_env_over_file(config_file: Path, monkeypatch, tmp_path) -> None:
    settings.set_value(config_file, "jobs", "3")
    settings.set_value(config_file, "data-dir", str(tmp_path / "from-file"))
    settings.set_value(config_file, "url", "https://file.example")
    monkeypatch.setenv("IMAP_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", "https://env.example")
    resolved = settings.resolve(flags={"url": "https://flag.example"})
    assert resolved.jobs == 3 and resolved.origins["jobs"] == str(config_file)
    assert resolved.data_dir == tmp_path / "from-env"
    assert resolved.origins["data-dir"] == "env:IMAP_DATA_DIR"
    assert resolved.url == "https://flag.example" and resolved.origins["url"] == "flag"


def test_data_dir_is_expanded_and_absolute(config_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    stored = settings.set_value(config_file, "data-dir", "~/imap-data")
    assert stored == "/home/someone/imap-data"
    assert settings.check_value("data-dir", "relative/dir") == str(Path("relative/dir").resolve())


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("jobs", "zero", "jobs must be a whole number 1..64"),
        ("jobs", "0", "1..64"),
        ("jobs", "65", "1..64"),
        ("url", "ftp://x", "http:// or https://"),
        ("url", "https://", "with a host"),
        ("timeout", "-1", "above 0"),
        ("timeout", "nan", "above 0"),
        ("timeout", "1e10", "at most 86400"),
        ("retries", "-2", "whole number"),
        ("retries", "1000", "0..20"),
        ("url", "https://localhost:99999", "valid port"),
        ("url", "http://[::1", "valid port"),
        ("url", "http://localhost:abc", "valid port"),
        ("data-dir", "~nosuchuser-imap/x", "cannot be used"),
        ("ca-bundle", "/no/such/bundle.pem", "not a file"),
        ("api-key", "has space", "without spaces"),
    ],
)
def test_set_rejects_bad_values_and_leaves_file_alone(config_file, key, value, fragment) -> None:
    settings.set_value(config_file, "jobs", "4")
    before = config_file.read_bytes()
    with pytest.raises(ConfigError) as caught:
        settings.set_value(config_file, key, value)
    assert fragment in caught.value.message
    assert exit_code_for(caught.value) == ExitCode.USAGE
    assert config_file.read_bytes() == before


def test_unknown_key_suggests_the_closest(config_file: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings.set_value(config_file, "data_dir", "/x")
    assert "unknown setting 'data_dir'" in caught.value.message
    assert "api-key, ca-bundle, data-dir, jobs, retries, timeout, url" in caught.value.message
    assert "Did you mean 'data-dir'?" in caught.value.hint
    assert not config_file.exists()


def test_corrupt_file_is_reported_with_line_and_never_overwritten(config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text('jobs = 4\nurl = "unterminated\n')
    before = config_file.read_bytes()
    with pytest.raises(ConfigError) as caught:
        settings.resolve()
    assert str(config_file) in caught.value.message and "line 2" in caught.value.message
    with pytest.raises(ConfigError):
        settings.set_value(config_file, "jobs", "5")
    with pytest.raises(ConfigError):
        settings.unset_value(config_file, "jobs")
    assert config_file.read_bytes() == before


def test_bad_value_in_file_or_env_names_its_origin(config_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("IMAP_JOBS", "lots")
    with pytest.raises(ConfigError) as caught:
        settings.resolve()
    assert "(from env:IMAP_JOBS)" in caught.value.message


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_file_is_private_and_written_atomically(config_file: Path) -> None:
    settings.set_value(config_file, "api-key", "abcd1234efgh")
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_file.parent.stat().st_mode) == 0o700
    assert [p.name for p in config_file.parent.iterdir()] == ["config.toml"]
    assert settings.read_file(config_file) == {"api-key": "abcd1234efgh"}


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_warns_when_a_key_file_is_readable_by_others(config_file: Path) -> None:
    settings.set_value(config_file, "api-key", "abcd1234efgh")
    assert settings.resolve().warnings == ()
    config_file.chmod(0o644)
    (warning,) = settings.resolve().warnings
    assert "readable by other users" in warning and "abcd" not in warning


def test_unset_removes_only_that_key(config_file: Path) -> None:
    settings.set_value(config_file, "jobs", "4")
    settings.set_value(config_file, "retries", "2")
    assert settings.unset_value(config_file, "jobs") is True
    assert settings.unset_value(config_file, "jobs") is False
    assert settings.read_file(config_file) == {"retries": 2}


def test_mask_shows_only_the_last_four() -> None:
    assert settings.mask("abcd1234efgh") == "****efgh"
    assert settings.mask("short") == "****"
    assert settings.mask(None) == ""


def test_rows_mask_secrets_and_token_comes_from_env(config_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("IMAP_API_KEY", "secretkey-9876")
    monkeypatch.setenv("IMAP_ACCESS_TOKEN", "tokentokentoken-1234")
    rows = {k: (v, o) for k, v, o in settings.resolve().rows()}
    assert rows["api-key"] == ("****9876", "env:IMAP_API_KEY")
    assert rows["access-token"] == ("****1234", "env:IMAP_ACCESS_TOKEN")
    assert all("secretkey" not in v and "tokentoken" not in v for v, _ in rows.values())


def test_a_config_file_that_cannot_be_written_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(ConfigError) as caught:
        settings.write_file(blocker / "config.toml", {"jobs": 4})
    assert "cannot write config file" in caught.value.message
    assert exit_code_for(caught.value) == ExitCode.USAGE
