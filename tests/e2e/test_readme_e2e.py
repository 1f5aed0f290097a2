"""The README's examples, run against `imap serve --demo` as a newcomer would paste them.

Every ```bash and ```python block runs, unless an HTML comment right above it says
`readme-test: skip (why)`. `readme-test: setup: COMMANDS` runs COMMANDS first (files an
example needs, which the README asks the reader to bring). Port 8765, the README's port for the
demo server, becomes a free port. The quick start's install step is left out: the test runs in
its own environment, where `imap` is installed already.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(
    r"(?:<!--\s*readme-test:\s*(?P<marker>.*?)\s*-->\s*\n)?```(?P<lang>bash|python)\n(?P<body>.*?)```",
    re.S,
)
INSTALL = re.compile(r"^python3 -m venv .*?pip install -e \. \\\n\s*&& ", re.S)


def blocks() -> list[tuple[int, str, str, str]]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("body"))
        found.append((line, match["lang"], match["marker"] or "", match["body"]))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_readme_names_no_file_outside_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    assert "SDC-PROTOCOL" not in text and "shared/" not in text
    assert len(blocks()) >= 8


@pytest.mark.parametrize(
    ("line", "lang", "marker", "body"), blocks(), ids=[f"line{b[0]}" for b in blocks()]
)
def test_readme_example_runs_against_the_demo(
    sdc_env, tmp_path: Path, line: int, lang: str, marker: str, body: str
) -> None:
    if marker.startswith("skip"):
        pytest.skip(f"README line {line}: {marker}")
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),  # nothing an example writes reaches the real home
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "IMAP_DATA_ACCESS_URL": sdc_env.url,
    }
    body = body.replace("8765", str(port))
    if INSTALL.search(body):  # the quick start: its own demo server, on the free port
        body = INSTALL.sub("", body)
        env.pop("IMAP_DATA_ACCESS_URL")
    if lang == "python":
        body = body.replace(f"http://127.0.0.1:{port}", sdc_env.url)
        command = [sys.executable, "-c", body]
    else:
        setup = marker.partition("setup:")[2].strip() if marker.startswith("setup:") else ""
        # Background jobs (the quick start's server) end with the script.
        script = "set -e -o pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
        command = ["bash", "-c", script + (setup + "\n" if setup else "") + body]
    done = subprocess.run(
        command, cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"README line {line}:\n{body}\n--- stderr:\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr and "Error:" not in done.stderr, done.stderr
    # an example whose names are not in the demo finds nothing, and says so (exit 0)
    assert "No files in the" not in done.stderr, f"README line {line}: {done.stderr}"
