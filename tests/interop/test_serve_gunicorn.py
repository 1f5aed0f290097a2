"""A team mirror: the WSGI app under a real gunicorn with 4 workers sharing one catalogue, used
by the official client and by `imap` (query, download, upload with a key, release state seen
by every worker)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from imap_cli.core.naming import parse

KEY = "mirror-key"
NEW = "imap_hit_l2_burst_20251010_v001.0000.cdf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mirror(interop_root: Path, tmp_path: Path) -> Iterator[str]:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists() and not shutil.which("gunicorn"):
        pytest.skip("gunicorn is not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (tmp_path / "key").write_text(KEY + "\n")
    env = dict(
        os.environ,
        IMAP_SERVE_ROOT=str(interop_root),
        IMAP_SERVE_PUBLIC_URL=url,
        IMAP_SERVE_API_KEY_FILE=str(tmp_path / "key"),
        IMAP_SERVE_RESCAN_INTERVAL="0",
    )
    command = [
        str(gunicorn) if gunicorn.exists() else "gunicorn",
        "--bind", f"127.0.0.1:{port}", "--workers", "4", "--worker-class", "gthread",
        "--threads", "4", "--timeout", "120", "imap_cli.server.wsgi:create_app()",
    ]  # fmt: skip
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:  # ready once a worker answers
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                if requests.get(f"{url}/query", params={"instrument": "mag"}, timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def make_runner(url: str, data_dir: Path):
    """Run the official client's command line against `url` (no credential)."""
    script = Path(sys.executable).with_name("imap-data-access")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAP_")}
    env.update(IMAP_DATA_ACCESS_URL=url, IMAP_DATA_DIR=str(data_dir))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(script), *args], capture_output=True, text=True, env=env, timeout=60
        )

    return run


def workers_answer(url: str, key: str) -> set[int]:
    """The statuses of public downloads of `key` over 16 fresh connections (several workers)."""
    return {
        requests.get(
            f"{url}/download/{key}", allow_redirects=False, headers={"Connection": "close"}
        ).status_code
        for _ in range(16)
    }


def test_gunicorn_mirror_serves_the_official_client_and_imap(mirror: str, imap, tmp_path: Path):
    official = make_runner(mirror, tmp_path / "official")
    listed = official("query", "--instrument", "mag", "--output-format", "json")
    assert listed.returncode == 0, listed.stderr
    first = [row["file_path"] for row in json.loads(listed.stdout)]
    assert first
    fetched = official("download", Path(first[0]).name)
    assert fetched.returncode == 0, fetched.stderr
    assert list((tmp_path / "official").rglob(Path(first[0]).name))

    run = imap.against(mirror, data_dir=tmp_path / "data", retries=1, key=KEY)
    code, out, err = run("query", "--instrument", "mag", "-o", "paths")
    assert code == 0, err
    assert len(out.split()) >= len(first)
    code, _out, err = run("download", *out.split()[:3])
    assert code == 0, err

    # Upload with the key: unreleased for every worker, then released for every worker.
    upload = tmp_path / NEW
    upload.write_bytes(b"science")
    code, _out, err = run("upload", str(upload))
    assert code == 0, err
    key = parse(NEW).key
    assert workers_answer(mirror, key) == {403}
    manifest = tmp_path / "imap_hit_data-release-007_20251001_20251031_v001.txt"
    manifest.write_text("instrument, data_type, descriptor, release_flag\nhit, l2, burst, true\n")
    code, _out, err = run("release", "--yes", str(manifest))
    assert code == 0, err
    assert workers_answer(mirror, key) == {302}
    # A URL signed by one worker is accepted by all (one secret, kept in the catalogue).
    for _ in range(8):
        signed = requests.get(
            f"{mirror}/download/{key}", allow_redirects=False, headers={"Connection": "close"}
        ).headers["Location"]
        assert signed.startswith(f"{mirror}/sds-data-local/")
        got = requests.get(signed, headers={"Connection": "close"})
        assert got.status_code == 200 and got.content == b"science"
