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


def test_a_claim_left_by_a_dead_sync_is_adopted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sync, "CLAIM_STALE", 0.0)  # a rename's ctime cannot be set back
    path = tmp_path / "s.json"
    sync.write_state(path, {"files": ["a"], "watermark": "2026-11-01T00:00:00Z"})
    dead = path.with_name(f"{path.name}.deadbeef.claim")
    os.rename(path, dead)  # a sync took the state and died before putting it back
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


def test_a_live_claim_on_an_old_state_is_not_taken_for_a_dead_one(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    sync.write_state(path, {"files": ["a"], "watermark": "2026-11-01T00:00:00Z"})
    day_old = time.time() - 86400
    os.utime(path, (day_old, day_old))  # last synced yesterday: the usual case
    mine = path.with_name(f"{path.name}.aaaa.claim")
    assert sync._take(path, mine)  # sync A holds the state for a moment
    other = path.with_name(f"{path.name}.bbbb.claim")
    assert sync._stale_claims(path, other) == []  # sync B waits instead of adopting it
    assert mine.exists() and sync._read_claimed(mine)["files"] == ["a"]


def test_a_row_naming_refuses_fails_alone() -> None:
    good = "imap/mag/l1b/2025/01/imap_mag_l1b_norm-mago_20250101_v001.0001.cdf"
    odd = "imap/mag/l1b/2025/01/imap_mag_l1b_norm mago_20250101_v001.0001.cdf"
    keys, failed = sync._usable([good, odd], None)
    assert keys == [good]
    assert [(r.key, r.status) for r in failed] == [(odd, "failed")] and not failed[0].ok
    assert sync._usable([odd], (2, 2))[1] == [] or sync._usable([odd], (1, 2))[1] == []
