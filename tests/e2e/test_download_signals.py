"""Every way an `imap download` process can end keeps what arrived: SIGTERM and SIGHUP stop it
as Ctrl-C does; after SIGKILL the next run finds the orphaned `.part` and continues it.

Real subprocesses, real signals; the object host counts the requests it gets.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_download_e2e import Faults, cli_env, grown_part, make_root, serve, wait_for

KEPT_AT_LEAST = 200_000  # bytes on disk before the signal: the transfer is well under way


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def start_download(server, key: str, data_dir: Path, tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "imap_cli", "download", key],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(server, data_dir, tmp_path),
        text=True,
    )


def signal_download(server, key, data_dir, tmp_path, signum: int) -> tuple[int, str]:
    """Start a download, send `signum` once bytes are on disk; (exit code, stderr)."""
    proc = start_download(server, key, data_dir, tmp_path)
    try:
        wait_for(lambda: grown_part(data_dir, KEPT_AT_LEAST), proc, "a .part with bytes in it")
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)  # a deadlock guard, not a speed target
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


def rerun(server, key, data_dir, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "imap_cli", "download", key],
        capture_output=True,
        env=cli_env(server, data_dir, tmp_path),
        text=True,
        timeout=60,
    )


def assert_resumed(faults: Faults, seen: int, kept: int, data: bytes) -> None:
    """The re-run's first object request continues from the kept bytes, and is its only one."""
    etag = '"' + hashlib.md5(data).hexdigest() + '"'
    first = faults.seen[seen]
    assert first.get("range") == f"bytes={kept}-", faults.seen[seen:]
    assert first.get("if-range") == etag
    assert len(faults.seen) == seen + 1


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_term_and_hup_keep_what_arrived_like_ctrl_c(tmp_path, data_dir, signum, code):
    files = make_root(tmp_path / "root", 1, size=4_000_000)
    ((key, data),) = files.items()
    faults = Faults("slow")  # first requests trickle; a resume (with Range) runs at full speed
    with serve(tmp_path, faults) as server:
        returncode, err = signal_download(server, key, data_dir, tmp_path, signum)
        assert returncode == code, err
        name = signal.Signals(signum).name
        assert f"Stopped by {name}: finished files kept" in err and "kept beside them" in err
        assert "Traceback" not in err
        assert not (data_dir / key).exists()
        assert list(data_dir.rglob("*.part")) == []
        (partial,) = data_dir.rglob("*.partial")
        kept = partial.stat().st_size
        assert KEPT_AT_LEAST <= kept < len(data)
        assert partial.read_bytes() == data[:kept]

        seen = len(faults.seen)
        proc = rerun(server, key, data_dir, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert_resumed(faults, seen, kept, data)
    assert (data_dir / key).read_bytes() == data
    assert list(data_dir.rglob("*.part*")) == []


def test_after_sigkill_the_next_run_continues_the_orphaned_part(tmp_path, data_dir):
    files = make_root(tmp_path / "root", 1, size=4_000_000)
    ((key, data),) = files.items()
    faults = Faults("slow")
    with serve(tmp_path, faults) as server:
        returncode, _ = signal_download(server, key, data_dir, tmp_path, signal.SIGKILL)
        assert returncode == -signal.SIGKILL
        # What a killed process leaves: its in-flight .part, named after the object's ETag.
        (orphan,) = data_dir.rglob("*.part")
        kept = orphan.stat().st_size
        assert KEPT_AT_LEAST <= kept < len(data)
        assert "_e" + hashlib.md5(data).hexdigest() in orphan.name

        seen = len(faults.seen)
        proc = rerun(server, key, data_dir, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert_resumed(faults, seen, kept, data)
    assert (data_dir / key).read_bytes() == data
    assert list(data_dir.rglob("*.part*")) == []  # nothing left behind


def test_after_sigkill_a_changed_object_comes_back_whole(tmp_path, data_dir):
    files = make_root(tmp_path / "root", 1, size=4_000_000)
    (key,) = files
    faults = Faults("slow")
    with serve(tmp_path, faults) as server:
        signal_download(server, key, data_dir, tmp_path, signal.SIGKILL)
        (orphan,) = data_dir.rglob("*.part")
        kept = orphan.stat().st_size
        changed = b"reprocessed " * 300_000
        (tmp_path / "root" / key).write_bytes(changed)
        seen = len(faults.seen)
        proc = rerun(server, key, data_dir, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert faults.seen[seen].get("range") == f"bytes={kept}-"  # If-Range: a 200, whole
    assert (data_dir / key).read_bytes() == changed
    assert list(data_dir.rglob("*.part*")) == []


def test_sigterm_stops_a_sync_which_the_next_sync_continues(tmp_path, data_dir):
    files = make_root(tmp_path / "root", 1, size=4_000_000)
    ((key, data),) = files.items()
    faults = Faults("slow")
    command = [sys.executable, "-m", "imap_cli", "sync", "-i", "mag", "-l", "l1a"]
    with serve(tmp_path, faults) as server:
        env = cli_env(server, data_dir, tmp_path)
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        try:
            wait_for(lambda: grown_part(data_dir, KEPT_AT_LEAST), proc, "bytes on disk")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 143, err
        assert "Stopped by SIGTERM: finished files kept" in err
        assert "The sync state was not changed." in err and "Traceback" not in err
        (partial,) = data_dir.rglob("*.partial")
        kept = partial.stat().st_size

        seen = len(faults.seen)
        again = subprocess.run(command, capture_output=True, env=env, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert_resumed(faults, seen, kept, data)
    assert (data_dir / key).read_bytes() == data
    assert list(data_dir.rglob("*.part*")) == []
