"""The sync state's lock-free merge: claims taken by rename, stale claims adopted."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from imap_cli.core import sync


def _state(path: Path) -> dict:
    return json.loads(path.read_text())


def test_two_writers_unite_their_files_and_keep_the_later_watermark(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    first = sync.merge_state(path, {}, watermark="2026-11-01T00:00:00Z", added=["a", "b"])
    assert first["files"] == ["a", "b"]
    # The second writer read its base before the first wrote: its view must not erase a or b.
    sync.merge_state(path, {"files": []}, watermark="2026-10-01T00:00:00Z", added=["c"])
    written = _state(path)
    assert written["files"] == ["a", "b", "c"]
    assert written["watermark"] == "2026-11-01T00:00:00Z"
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_a_claim_left_by_a_dead_sync_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    sync.write_state(path, {"files": ["a"], "watermark": "2026-11-01T00:00:00Z"})
    dead = path.with_name(f"{path.name}.deadbeef.claim")
    os.rename(path, dead)  # a sync took the state and died before putting it back
    old = time.time() - sync.CLAIM_STALE - 10
    os.utime(dead, (old, old))
    assert sync.read_state(path)["files"] == ["a"]  # readers still see the taken state
    sync.merge_state(path, {}, watermark=None, added=["b"])
    assert _state(path)["files"] == ["a", "b"]
    assert _state(path)["watermark"] == "2026-11-01T00:00:00Z"
    assert not dead.exists()


def test_a_removed_file_leaves_the_list(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    sync.merge_state(path, {}, watermark=None, added=["a", "b"])
    sync.merge_state(path, {}, watermark=None, added=[], removed=["a"])
    assert _state(path)["files"] == ["b"]
