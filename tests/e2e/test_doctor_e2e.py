"""`imap doctor` against `imap serve` and broken setups (TLS ones: test_network_failures.py)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from netfaults import imap

from imap_cli.cli.hints import HINTS
from imap_cli.core.errors import Failure
from imap_cli.server import start_server

KEY = "doctor-secret-key-0123456789"
ORDER = ["config file", "settings", "data dir", "proxy", "dns", "connect", "sdc answer"]


def lines_by_check(out: str) -> dict[str, str]:
    """check name -> its line (status first), from doctor's text output."""
    found = {}
    for line in out.splitlines():
        if line.startswith(("ok ", "warning ", "problem ")):
            found[line[9:21].strip()] = line
    return found


def test_all_is_well_against_imap_serve(sdc_env) -> None:
    result = imap("doctor")
    assert result.code == 0, result.out + result.err
    checks = lines_by_check(result.out)
    assert list(checks)[: len(ORDER)] == ORDER
    assert all(line.startswith("ok ") for line in checks.values()), result.out
    assert f"{sdc_env.url}/query answered in" in checks["sdc answer"]
    assert "none: public" in checks["credentials"]
    for name in ("imap-sdc-cli", "python", "requests", "urllib3", "certifi", "OpenSSL"):
        assert name in checks["versions"]
    assert "All is well." in result.err


def test_a_stopped_port_is_a_connection_problem_with_its_fix() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = imap("--url", f"http://127.0.0.1:{port}", "doctor")
    assert result.code == 3
    checks = lines_by_check(result.out)
    assert checks["connect"].startswith("problem") and "refused" in checks["connect"].lower()
    assert f"fix: {HINTS[Failure.REFUSED][:40]}" in result.out
    assert "sdc answer" not in checks  # nothing more is tried past the broken link
    assert "1 problem found" in result.err


def test_json_for_a_bug_report_masks_the_key(demo_root: Path, config_file: Path) -> None:
    with start_server(demo_root, api_key=KEY, rescan_interval=None) as sdc:
        assert imap("config", "set", "api-key", KEY).code == 0
        result = imap("--url", sdc.url, "doctor", "--format", "json")
        uploads = [r for r in sdc.requests if "/upload/" in r.path]
    assert result.code == 0, result.out
    assert KEY not in result.out + result.err
    report = json.loads(result.out)
    assert report["ok"] is True
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["credentials"]["status"] == "ok"
    assert "****6789" in checks["credentials"]["detail"]
    assert "may upload" in checks["credentials"]["detail"]
    assert {"key": "api-key", "value": "****6789", "origin": str(config_file)} in report["settings"]
    assert set(report["versions"]) >= {"imap-sdc-cli", "python", "requests", "urllib3", "openssl"}
    # Asking whether the key may upload signs a URL and nothing more: no PUT was made.
    assert uploads and all(r.method == "GET" for r in uploads)


def test_a_wrong_key_is_a_credentials_problem(demo_root: Path) -> None:
    with start_server(demo_root, api_key=KEY, rescan_interval=None) as sdc:
        result = imap("--url", sdc.url, "doctor", env={"IMAP_API_KEY": "not-the-key-42"})
    assert result.code == 3
    checks = lines_by_check(result.out)
    # filed under credentials: the way to the SDC works, the key does not
    assert checks["credentials"].startswith("problem") and "403" in checks["credentials"]
    assert "sdc answer" not in checks
    assert f"fix: {HINTS[Failure.CREDENTIALS][:40]}" in result.out
    assert "absence" not in result.out


def test_a_broken_config_file_is_named_with_its_fix(config_file: Path) -> None:
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text("url = 'https://x\n")
    result = imap("doctor")
    assert result.code == 3
    checks = lines_by_check(result.out)
    assert checks["config file"].startswith("problem") and "not valid TOML" in result.out
    assert "fix: Fix or delete" in result.out
    assert "versions" in checks  # still there for the bug report


@pytest.mark.skipif(os.name == "nt", reason="file modes are POSIX")
def test_a_key_in_a_readable_config_file_is_a_warning(sdc_env, config_file: Path) -> None:
    config_file = sdc_env.config
    config_file.write_text(f'api-key = "{KEY}"\n')
    config_file.chmod(0o644)
    result = imap("doctor")
    checks = lines_by_check(result.out)
    assert checks["config file"].startswith("warning")
    assert f"fix: Run: chmod 600 {config_file}" in result.out
    assert KEY not in result.out + result.err


def test_https_to_an_http_server_says_use_http(sdc_env) -> None:
    """OpenSSL's "wrong version number": the answer was plain http."""
    https = sdc_env.url.replace("http://", "https://", 1)
    result = imap("--url", https, "query", "-i", "mag")
    assert result.code == 3
    assert "plain http" in result.err and "use http://" in result.err.split("Hint:")[1]
    assert "certifi" not in result.err and "CA bundle in use" not in result.err
    checks = lines_by_check(imap("--url", https, "doctor").out)
    assert checks["tls"].startswith("problem")
    assert "use http://" in imap("--url", https, "doctor").out


@pytest.mark.parametrize(
    ("how", "named"),
    [("env", "IMAP_DATA_DIR set this one"), ("flag", "came from --data-dir")],
)
@pytest.mark.parametrize("command", [["sync", "-i", "mag"], ["doctor"], ["metakernel", "-s",
                                     "20251001", "-e", "20251001", "--output", "x.tm"]],
                         ids=lambda c: c[0])  # fmt: skip
def test_every_data_dir_hint_names_what_set_it(sdc_env, tmp_path, how, named, command) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    bad = str(blocker / "data")
    env = {"IMAP_DATA_DIR": bad} if how == "env" else {}
    flags = ["--data-dir", bad] if how == "flag" else []
    result = imap(*flags, *command, env=env)
    assert result.code != 0
    assert named in result.out + result.err
    assert "imap config set data-dir" not in result.out + result.err


def test_a_relative_data_dir_says_where_it_resolves(sdc_env, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"IMAP_DATA_DIR": "./rel-data"}
    shown = imap("config", "show", env=env)
    assert "'./rel-data'" in shown.err and "relative" in shown.err
    assert str(Path.cwd() / "rel-data") in shown.out + shown.err
    checks = lines_by_check(imap("doctor", env=env).out)
    assert "'./rel-data'" in checks["data dir"] and "relative" in checks["data dir"]
    (tmp_path / "rel-data").mkdir()  # once it exists: a warning, with its fix
    checks = lines_by_check(imap("doctor", env=env).out)
    assert checks["data dir"].startswith("warning") and "moves with `cd`" in checks["data dir"]
