"""`imap config` and the global options, as a user types them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from imap_cli.cli.app import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_set_then_get_prints_the_absolute_path(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("IMAP_DATA_DIR")
    code, _, err = run(capsys, "config", "set", "data-dir", "~/imap-data")
    assert code == 0 and "data-dir" in err
    code, out, _ = run(capsys, "config", "get", "data-dir")
    assert code == 0 and out == f"{tmp_path / 'imap-data'}\n"


def test_show_names_env_and_flag_origins(capsys, monkeypatch) -> None:
    monkeypatch.setenv("IMAP_DATA_DIR", "/x")
    code, out, _ = run(capsys, "config", "show")
    line = next(ln for ln in out.splitlines() if ln.startswith("data-dir"))
    assert code == 0 and line.split() == ["data-dir", "/x", "env:IMAP_DATA_DIR"]
    code, out, _ = run(capsys, "--data-dir", "/y", "config", "show", "--format", "json")
    rows = {r["key"]: r for r in json.loads(out)}
    assert code == 0 and rows["data-dir"] == {"key": "data-dir", "value": "/y", "origin": "flag"}


def test_api_key_is_stored_private_and_shown_masked(capsys, config_file: Path) -> None:
    assert run(capsys, "config", "set", "api-key", "abcd1234efgh")[0] == 0
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    code, out, err = run(capsys, "config", "show")
    assert code == 0 and "****efgh" in out and "abcd1234" not in out + err
    assert run(capsys, "config", "get", "api-key")[1] == "****efgh\n"
    assert run(capsys, "config", "get", "api-key", "--reveal")[1] == "abcd1234efgh\n"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("config", "set", "jobs", "zero"), "jobs must be a whole number"),
        (("config", "set", "url", "ftp://x"), "url must be an http"),
        (("config", "set", "nosuch", "1"), "unknown setting 'nosuch'"),
        (("config", "get", "nosuch"), "unknown setting 'nosuch'"),
    ],
)
def test_mistakes_get_one_line_a_hint_and_exit_2(capsys, config_file, argv, fragment) -> None:
    run(capsys, "config", "set", "jobs", "4")
    before = config_file.read_bytes()
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("Error: ") and fragment in lines[0]
    assert lines[1].startswith("Hint: ") and len(lines) == 2
    assert "Traceback" not in err
    assert config_file.read_bytes() == before


@pytest.mark.parametrize(
    "argv",
    [("config", "show"), ("config", "set", "jobs", "3"), ("config", "unset", "jobs"), ("query",)],
)
def test_corrupt_config_file_is_one_clear_line(capsys, config_file, argv) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("jobs = = 3\n")
    code, _, err = run(capsys, *argv, *(("--instrument", "mag") if argv == ("query",) else ()))
    assert code == 2
    assert err.startswith(f"Error: config file {config_file} is not valid TOML")
    assert "line 1" in err.splitlines()[0] and "Traceback" not in err
    assert config_file.read_text() == "jobs = = 3\n"


def test_unset_and_path(capsys, config_file: Path) -> None:
    run(capsys, "config", "set", "retries", "2")
    assert run(capsys, "config", "path")[1] == f"{config_file}\n"
    code, _, err = run(capsys, "config", "unset", "retries")
    assert code == 0 and "retries removed" in err
    code, _, err = run(capsys, "config", "unset", "retries")
    assert code == 0 and "was not set" in err


def test_debug_env_shows_the_traceback(capsys, monkeypatch) -> None:
    monkeypatch.setenv("IMAP_DEBUG", "1")
    with pytest.raises(Exception, match="unknown setting"):
        main(["config", "get", "nosuch"])


def test_version_and_help_list_commands(capsys) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("imap-sdc-cli ")
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("query", "download", "upload", "serve", "config"):
        assert command in out
    assert "Exit codes" in out


def test_unknown_option_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "config", "show", "--nope")
    assert code == 2 and "--nope" in err and "Traceback" not in err
