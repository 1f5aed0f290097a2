"""`imap sync` end to end against `imap serve`: only what is new, state kept right, cron-friendly.

Ingestion dates in `imap serve` are the files' modification times, so a test ages its files
with os.utime and adds "new" ones with the current time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from imap_runner import ImapRunner

from imap_cli.server import RunningServer, start_server

OLD = dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.timezone.utc).timestamp()
FOLDER = "imap/mag/l1b/2025/01"


def name_for(day: int, version: str = "v001.0001", descriptor: str = "norm-mago") -> str:
    return f"imap_mag_l1b_{descriptor}_202501{day:02d}_{version}.cdf"


def put(root: Path, key: str, *, when: float | None = OLD, size: int = 20_000) -> bytes:
    """Drop a file into the archive, ingested at `when` (None: now)."""
    data = hashlib.sha256(key.encode()).digest() * (size // 32)
    path = root.joinpath(*key.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if when is not None:
        os.utime(path, (when, when))
    return data


class FailFor:
    """Objects middleware: 503 for every GET of keys whose name contains `needle`, while on."""

    def __init__(self, needle: str) -> None:
        self.needle = needle
        self.on = True

    def __call__(self, app: Callable) -> Callable:
        def wrapped(environ: dict, start_response: Callable) -> Any:
            if self.on and self.needle in environ.get("PATH_INFO", ""):
                start_response("503 Service Unavailable", [("Content-Length", "0")])
                return [b""]
            return app(environ, start_response)

        return wrapped


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    for day in range(1, 6):
        put(root, f"{FOLDER}/{name_for(day)}")
    put(root, "imap/swe/l1b/2025/01/imap_swe_l1b_sci_20250101_v001.0001.cdf")
    return root


@pytest.fixture
def failing() -> FailFor:
    fault = FailFor("never-matches")
    fault.on = False
    return fault


@pytest.fixture
def server(root: Path, failing: FailFor) -> Iterator[RunningServer]:
    with start_server(root, rescan_interval=0, objects_middleware=failing) as running:
        yield running


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def imap(imap: ImapRunner, server: RunningServer, data_dir: Path) -> ImapRunner:
    """The runner of conftest.py against the server."""
    return imap.against(server.url, data_dir=data_dir, retries=1)


def object_gets(server: RunningServer) -> list[str]:
    return [r.path for r in list(server.requests) if r.origin == "objects" and r.method == "GET"]


def queries(server: RunningServer) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in list(server.requests) if r.path.endswith("/query")]


def sync_json(imap, *args: str) -> tuple[int, dict, str]:
    code, out, err = imap("sync", "-i", "mag", "-l", "l1b", "-o", "json", *args)
    return code, (json.loads(out) if out.strip() else {}), err


def state_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / ".imap-sync").glob("*.json"))


# --- the daily run ---------------------------------------------------------------------------


def test_first_sync_fetches_everything_then_only_the_new_file(
    imap, server: RunningServer, root: Path, data_dir: Path
) -> None:
    code, summary, err = sync_json(imap)
    assert code == 0, err
    assert (summary["new"], summary["skipped"], summary["failed"]) == (5, 0, 0)
    assert summary["since"] is None and summary["watermark"]
    assert sorted(Path(p).name for p in summary["files"]) == [name_for(d) for d in range(1, 6)]
    for path in summary["files"]:
        assert Path(path).is_absolute() and Path(path).read_bytes()
    assert "ingestion_start_date" not in queries(server)[-1]
    assert not (data_dir / "imap" / "swe").exists()  # other filters, other files

    # A new file arrives (uploaded through the SDC's own route), then the cron job runs again.
    new = root.parent / name_for(9)
    new.write_bytes(b"new science" * 1000)
    assert imap("upload", str(new))[0] == 0
    before = len(object_gets(server))
    code, out, err = imap("sync", "-i", "mag", "-l", "l1b", "-q")
    assert code == 0 and err == ""
    assert out == ""  # -q: only failures
    fetched = object_gets(server)[before:]
    assert len(fetched) == 1 and fetched[0].endswith(name_for(9))
    assert (data_dir / FOLDER / name_for(9)).read_bytes() == new.read_bytes()
    # Asked only for files ingested since the day before the last sync: the old ones never
    # came back (not even as "already here").
    watermark = dt.datetime.fromisoformat(summary["watermark"].replace("Z", "+00:00"))
    since = (watermark - dt.timedelta(days=1)).strftime("%Y%m%d")
    assert queries(server)[-1]["ingestion_start_date"] == [since]

    code, again, _ = sync_json(imap)
    assert (code, again["new"], again["skipped"]) == (0, 0, 1)
    assert again["since"] == since and again["watermark"] >= summary["watermark"]


def test_text_output_lists_new_paths_and_a_summary(imap, data_dir: Path) -> None:
    code, out, err = imap("sync", "-i", "mag", "-l", "l1b")
    assert code == 0
    assert out.splitlines() == sorted(str(data_dir / FOLDER / name_for(d)) for d in range(1, 6))
    assert "Downloaded 5 files" in err and "Synced every match" in err


def test_a_failed_file_is_fetched_by_the_next_sync(
    imap, server: RunningServer, root: Path, data_dir: Path, failing: FailFor
) -> None:
    code, first, _ = sync_json(imap)
    assert code == 0
    # As if that sync had run a while ago: a later complete one must move the mark on.
    (state,) = state_files(data_dir)
    old = json.loads(state.read_text())
    state.write_text(json.dumps({**old, "watermark": "2026-01-02T03:04:05Z"}))
    put(root, f"{FOLDER}/{name_for(20)}", when=None)
    put(root, f"{FOLDER}/{name_for(21)}", when=None)
    failing.needle, failing.on = name_for(21), True
    code, out, err = imap("sync", "-i", "mag", "-l", "l1b", "-q")
    assert code == 1
    assert out == ""
    assert f"Error: {FOLDER}/{name_for(21)}:" in err
    assert json.loads(state.read_text())["watermark"] == "2026-01-02T03:04:05Z"  # not past it
    assert (data_dir / FOLDER / name_for(20)).exists()
    assert not (data_dir / FOLDER / name_for(21)).exists()

    failing.on = False
    before = len(object_gets(server))
    code, summary, err = sync_json(imap)
    assert code == 0, err
    assert (summary["new"], summary["failed"]) == (1, 0)
    fetched = object_gets(server)[before:]
    assert len(fetched) == 1 and fetched[0].endswith(name_for(21))
    assert json.loads(state.read_text())["watermark"] == summary["watermark"]
    assert summary["watermark"] >= first["watermark"] and summary["since"] == "20260101"


def test_dry_run_lists_what_would_come_and_writes_nothing(imap, data_dir: Path) -> None:
    code, out, err = imap("sync", "-i", "mag", "-l", "l1b", "--dry-run")
    assert code == 0
    assert out.splitlines() == [f"fetch {FOLDER}/{name_for(d)}" for d in range(1, 6)]
    assert "would download 5" in err and "nothing was written" in err
    assert not data_dir.exists() or not any(data_dir.rglob("*"))


def test_state_file_damage_is_a_clear_error_and_since_gets_past_it(
    imap, server: RunningServer, data_dir: Path
) -> None:
    assert sync_json(imap)[0] == 0
    (state,) = state_files(data_dir)
    state.write_text('{"watermark": "yesterday-ish", "files": [')
    code, out, err = imap("sync", "-i", "mag", "-l", "l1b")
    assert code == 2 and out == ""
    assert f"Error: the sync state {state} is damaged: not valid JSON" in err
    assert "--since" in err
    code, summary, err = sync_json(imap, "--since", "2025-01-01")
    assert code == 0, err
    assert summary["since"] == "20250101" and summary["skipped"] == 5
    assert queries(server)[-1]["ingestion_start_date"] == ["20250101"]
    assert json.loads(state.read_text())["watermark"] == summary["watermark"]
    assert sync_json(imap)[0] == 0  # the state is whole again


def test_superseded_files_are_reported_and_only_our_own_pruned(
    imap, root: Path, data_dir: Path
) -> None:
    assert sync_json(imap)[0] == 0
    mine = data_dir / FOLDER / name_for(1)
    # A file of the same series put here by hand, not by this filter set.
    by_hand = data_dir / FOLDER / name_for(1, "v001.0000")
    by_hand.write_bytes(b"older")
    put(root, f"{FOLDER}/{name_for(1, 'v001.0002')}", when=None)

    code, summary, _ = sync_json(imap, "--report-superseded")
    assert code == 0 and summary["new"] == 1
    reported = {Path(s["path"]) for s in summary["superseded_files"]}
    assert reported == {mine, by_hand} and summary["superseded"] == 2
    assert all(s["newer"] == name_for(1, "v001.0002") for s in summary["superseded_files"])
    assert mine.exists() and by_hand.exists()  # a report deletes nothing

    code, _, err = imap("sync", "-i", "mag", "-l", "l1b", "--prune-superseded")
    assert code == 0
    assert f"pruned: {mine}" in err and f"superseded: {by_hand}" in err
    assert not mine.exists() and by_hand.exists()
    assert (data_dir / FOLDER / name_for(1, "v001.0002")).exists()


def test_prune_keeps_the_older_version_while_the_newer_one_failed(
    imap, root: Path, data_dir: Path, failing: FailFor
) -> None:
    assert sync_json(imap)[0] == 0
    mine = data_dir / FOLDER / name_for(1)
    newer = name_for(1, "v001.0002")
    put(root, f"{FOLDER}/{newer}", when=None)
    failing.needle, failing.on = newer, True
    code, _, err = imap("sync", "-i", "mag", "-l", "l1b", "--prune-superseded")
    assert code != 0 and "pruned:" not in err
    assert mine.exists()  # still the only copy of that day
    failing.on = False
    code, _, err = imap("sync", "-i", "mag", "-l", "l1b", "--prune-superseded")
    assert code == 0 and f"pruned: {mine}" in err
    assert not mine.exists() and (data_dir / FOLDER / newer).exists()


@pytest.mark.parametrize("latest", [["--version", "latest"], ["--latest-only"]], ids=" ".join)
def test_latest_only_keeps_the_newest_version_of_each_series(imap, root: Path, latest) -> None:
    # `--version latest` is the spelling query has too; --latest-only its older name
    put(root, f"{FOLDER}/{name_for(2, 'v001.0003')}")
    code, summary, _ = sync_json(imap, *latest)
    assert code == 0
    names = sorted(Path(p).name for p in summary["files"])
    assert name_for(2, "v001.0003") in names and name_for(2) not in names
    assert len(names) == 5


def test_a_full_sync_after_a_latest_only_one_still_fetches_older_versions(
    imap, root: Path, data_dir: Path
) -> None:
    put(root, f"{FOLDER}/{name_for(2, 'v001.0003')}")
    assert sync_json(imap, "--version", "latest")[0] == 0
    assert not (data_dir / FOLDER / name_for(2)).exists()
    # Its own state: the latest-only watermark does not hide what that run skipped.
    code, summary, _ = sync_json(imap)
    assert code == 0 and summary["new"] == 1
    assert (data_dir / FOLDER / name_for(2)).exists()
    assert len(state_files(data_dir)) == 2


def test_two_syncs_at_once_both_succeed_with_a_consistent_state(
    server: RunningServer, root: Path, data_dir: Path, tmp_path: Path
) -> None:
    for day in range(6, 26):
        put(root, f"{FOLDER}/{name_for(day)}", size=100_000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAP_")}
    env.update(
        IMAP_DATA_ACCESS_URL=server.url,
        IMAP_DATA_DIR=str(data_dir),
        IMAP_CLI_CONFIG=str(tmp_path / "config.toml"),
        IMAP_CLI_BACKOFF="0.01",
    )
    command = [sys.executable, "-m", "imap_cli", "sync", "-i", "mag", "-l", "l1b", "-o", "json"]
    procs = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    summaries = []
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        summaries.append(json.loads(out))
    for s in summaries:
        # Each saw all 25, unless it started after the other had recorded its watermark:
        # then it rightly asked only for what is newer, and found nothing.
        seen = s["new"] + s["skipped"]
        assert s["failed"] == 0 and (seen == 25 or (seen == 0 and s["since"] is not None)), s
    assert sum(s["new"] for s in summaries) >= 25
    for day in range(1, 26):
        key = f"{FOLDER}/{name_for(day)}"
        assert (data_dir / key).read_bytes() == (root / key).read_bytes()
    assert not [
        p
        for p in data_dir.rglob("*")
        if p.name.endswith((".part", ".partial", ".tmp", ".claim", ".new"))
    ]
    (state,) = state_files(data_dir)
    written = json.loads(state.read_text())
    assert written["watermark"] == max(s["watermark"] for s in summaries)
    assert len(written["files"]) == 25  # everything either one brought in


def test_shards_split_a_sync_over_one_data_dir(imap, root: Path, data_dir: Path) -> None:
    for day in range(6, 30):
        put(root, f"{FOLDER}/{name_for(day)}", size=1000)
    seen: list[set[str]] = []
    for k in (1, 2, 3):
        code, summary, _ = sync_json(imap, "--shard", f"{k}/3")
        assert code == 0
        seen.append({Path(p).name for p in summary["files"]})
    assert sum(map(len, seen)) == 29 and set.union(*seen) == {name_for(d) for d in range(1, 30)}
    assert len(state_files(data_dir)) == 3  # one state per shard
    code, again, _ = sync_json(imap, "--shard", "2/3")
    assert (code, again["new"]) == (0, 0)  # a re-run redoes only its own share
    code, _, err = imap("sync", "-i", "mag", "--shard", "4/3")
    assert code == 2 and "is not a shard" in err


def test_python_api_returns_the_same_summary(
    server: RunningServer, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imap_cli

    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", server.url)
    monkeypatch.setenv("IMAP_DATA_DIR", str(data_dir))
    summary = imap_cli.sync(instrument="mag", data_level="l1b")
    assert {"new", "skipped", "failed", "superseded", "files", "watermark"} <= set(summary)
    assert summary["new"] == 5 and len(summary["files"]) == 5
    assert imap_cli.sync(instrument="mag", data_level="l1b", dry_run=True)["new"] == 0


def test_bad_filters_are_refused_before_anything_is_sent(imap, server: RunningServer) -> None:
    before = len(list(server.requests))
    code, out, err = imap("sync", "-i", "nosuch")
    assert code == 2 and out == "" and "Error:" in err
    assert len(list(server.requests)) == before
    code, _, err = imap("sync", "-i", "mag", "-o", "yaml")
    assert code == 2 and "not a sync output format" in err
