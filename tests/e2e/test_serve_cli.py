"""`imap serve` as a command: startup lines, logging, signals, errors (real processes)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from imap_cli.core.naming import parse

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")

IMAP = [sys.executable, "-m", "imap_cli"]


class Served:
    """A running `imap serve` process and what it printed."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*IMAP, "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.url = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            match = re.search(r" at (http://\S+)$", line.strip())
            if match and line.startswith("Serving "):
                self.url = match.group(1)
            if line.startswith("Ctrl-C"):
                break
        assert self.url, self.lines

    def finish(self, sig: int) -> tuple[int, str]:
        self.proc.send_signal(sig)
        rest = self.proc.stderr.read()
        code = self.proc.wait(timeout=10)
        self.lines += rest.splitlines()
        return code, "\n".join(self.lines)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "IMAP_CLI_CONFIG": str(tmp_path / "config.toml"),
        "IMAP_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[Served]:
    running = Served(["--demo", "--port", "0", "--api-key", "cli-secret-key"], env)
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


def test_demo_prints_how_to_use_it_logs_requests_and_stops_on_ctrl_c(served: Served):
    text = "\n".join(served.lines)
    assert "Object URLs (presigned, like S3) point to http://127.0.0.1:" in text
    assert f"Try:  IMAP_API_KEY=<your key> imap --url {served.url} query --instrument mag" in text
    response = requests.get(
        f"{served.url}/api-key/query",
        params={"instrument": "mag"},
        headers={"x-api-key": "cli-secret-key"},
        timeout=5,
    )
    assert response.status_code == 200 and response.json()
    download = requests.get(
        f"{served.url}/api-key/download/{response.json()[0]['file_path']}",
        headers={"x-api-key": "cli-secret-key"},
        timeout=5,
    )
    assert download.status_code == 200 and download.content
    code, text = served.finish(signal.SIGINT)
    assert code == 130
    assert "Server stopped." in text and "Traceback" not in text
    assert re.search(r"\] api GET /api-key/query\?instrument=mag 200 \d+B [\d.]+ms", text)
    assert re.search(r"\] objects GET /sds-data-local/imap/\S+\?\.\.\. 200 \d+B", text)
    assert "cli-secret-key" not in text and "Signature" not in text


def test_sigterm_stops_cleanly_with_exit_0(served: Served):
    code, text = served.finish(signal.SIGTERM)
    assert code == 0 and "Server stopped." in text and "Traceback" not in text


def test_sighup_rescans(env: dict[str, str], tmp_path: Path):
    root = tmp_path / "archive"
    root.mkdir()
    running = Served([str(root), "--port", "0", "--rescan-interval", "100000"], env)
    try:
        (root / "stray.txt").write_bytes(b"not imap")
        # The server re-lists its root once in the background as it starts; a file dropped
        # while that runs may be found by it. One dropped after it has ended is not served
        # until SIGHUP: drop files (a new day each) until one answers 404.
        for day in range(1, 29):
            key = parse(f"imap_mag_l1a_norm-mago_202510{day:02d}_v001.0000.cdf").key
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(b"dropped")
            if requests.get(f"{running.url}/download/{key}", timeout=5).status_code == 404:
                break
        else:
            pytest.fail("every dropped file was served before SIGHUP")
        running.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if requests.get(f"{running.url}/download/{key}", timeout=5).status_code == 200:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the file did not appear after SIGHUP")
    finally:
        code, text = running.finish(signal.SIGTERM)
    assert code == 0
    assert "1 file(s) not served" in text and "stray.txt" in text


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*IMAP, "serve", *args], capture_output=True, text=True, env=env, timeout=30
    )


def test_port_in_use_is_one_clear_line_and_exit_2(env: dict[str, str], tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run([str(tmp_path), "--port", str(port)], env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use",
        "Hint: Stop the other server, or pick another port with --port (0: any free port).",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/definitely/not/here"], "Error: /definitely/not/here does not exist"),
        (["--demo", "{nonempty}"], "--demo needs an empty folder"),
        (
            ["{nonempty}", "--host", "203.0.113.7", "--port", "0", "--allow-anonymous-writes"],
            "Error: cannot listen on 203.0.113.7:0",
        ),
    ],
)
def test_bad_root_or_host(env: dict[str, str], tmp_path: Path, args: list[str], message: str):
    (tmp_path / "file").write_text("x")
    args = [a.replace("{nonempty}", str(tmp_path)) for a in args]
    result = run(args, env)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
