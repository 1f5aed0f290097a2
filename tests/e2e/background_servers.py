"""Helpers for tests of `imap serve --background`: where its records are, whether a process has
gone, and stopping whatever a test left running.

A background server is not the test's child (its parent, `imap serve --background`, has exited),
so no waitpid: `gone` polls, with a deadline, as `imap serve --stop` does. Once orphaned, an
exited server may stay a zombie (an init that does not reap): that counts as gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

IMAP = str(Path(sys.executable).parent / "imap")  # the installed command


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a run whose home, state, log and cache dirs are all under tmp_path."""
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "share"),
        "IMAP_CLI_CONFIG": str(tmp_path / "config.toml"),
        "IMAP_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("IMAP_SERVE_READY_FD", None)
    return env


def state_dir(env: dict[str, str]) -> Path:
    """Where `imap` run with `env` records its background servers."""
    from imap_cli.cli import serve_background

    with pytest.MonkeyPatch.context() as patch:
        for name in ("HOME", "XDG_STATE_HOME"):
            if name in env:
                patch.setenv(name, env[name])
            else:
                patch.delenv(name, raising=False)
        return serve_background.state_dir()


def records(env: dict[str, str]) -> dict[int, dict]:
    """Port -> the record (pid, url, port, log) of each background server `env` has."""
    found = {}
    folder = state_dir(env)
    for path in sorted(folder.glob("serve-*.json")) if folder.is_dir() else ():
        data = json.loads(path.read_text(encoding="utf-8"))
        found[int(data["port"])] = data
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
        return stat.rpartition(")")[2].split()[:1] != ["Z"]
    return True


def gone(pid: int, seconds: float = 10.0) -> bool:
    """Whether `pid` has exited, or exits within `seconds` (polled)."""
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def is_imap_serve(pid: int) -> bool:
    """Whether `pid` still runs `imap serve` (a reused pid is never signalled)."""
    from imap_cli.cli import serve_background

    return serve_background.is_imap_serve(pid)


def terminate(pid: int) -> None:
    """SIGTERM a background server a test started, if it still runs; then wait for it."""
    if alive(pid) and is_imap_serve(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not gone(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
