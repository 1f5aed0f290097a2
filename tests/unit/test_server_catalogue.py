"""The catalogue of `imap serve`: what is indexed, misfits, rescans, ETag caching."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import time
from pathlib import Path

import pytest

from imap_cli.core.naming import parse
from imap_cli.server.catalogue import Catalogue
from imap_cli.server.demo import build_demo, demo_names

NAME = "imap_mag_l1a_norm-mago_20251001_v001.0000.cdf"
KEY = parse(NAME).key
DATA = Path(__file__).resolve().parents[1] / "data" / "imap-filenames.tsv"


def put(root: Path, rel: str, data: bytes = b"x", *, age: float = 10.0) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def age_dirs(root: Path, seconds: float = 10.0) -> None:
    """Make every folder look settled (older than the racy window)."""
    stamp = time.time() - seconds
    for folder, _dirs, _files in os.walk(root):
        os.utime(folder, (stamp, stamp))


def test_indexes_files_at_their_key_and_reports_misfits(tmp_path: Path) -> None:
    lines: list[str] = []
    put(tmp_path, KEY)
    put(tmp_path, f"imap/mag/l1a/2025/11/{NAME}")  # wrong month folder
    put(tmp_path, NAME)  # at the top, not at its key
    put(tmp_path, "imap/mag/notes.txt")
    put(tmp_path, "imap/mag/l1a/2025/10/.hidden.part")  # hidden: silently skipped
    (tmp_path / "imap/link.cdf").symlink_to(tmp_path / KEY)
    cat = Catalogue(tmp_path, log=lines.append)
    report = cat.scan()
    assert cat.served_keys() == [KEY]
    reasons = dict(report.misfits)
    assert set(reasons) == {
        f"imap/mag/l1a/2025/11/{NAME}",
        NAME,
        "imap/mag/notes.txt",
        "imap/link.cdf",
    }
    assert reasons[NAME] == f"belongs at {KEY}"
    assert "symbolic link" in reasons["imap/link.cdf"]
    assert lines[0].startswith("4 file(s) not served")
    # reported once: a second scan says nothing new
    lines.clear()
    cat.scan()
    assert lines == []


def test_every_valid_name_of_the_ground_truth_is_served_at_its_key(tmp_path: Path) -> None:
    rows = list(
        csv.DictReader(io.StringIO(DATA.read_text()), delimiter="\t", quoting=csv.QUOTE_NONE)
    )
    valid = [r for r in rows if r["verdict"] == "valid" and "DISPUTED" not in r["note"]]
    assert len(valid) > 100
    for row in valid:
        put(tmp_path, row["key"])
    cat = Catalogue(tmp_path)
    report = cat.scan()
    assert report.misfits == []
    assert sorted(cat.served_keys()) == sorted({r["key"] for r in valid})


def test_demo_archive_is_fully_indexed(tmp_path: Path) -> None:
    keys = build_demo(tmp_path)
    cat = Catalogue(tmp_path)
    assert cat.scan().misfits == []
    assert sorted(cat.served_keys()) == sorted(keys)
    assert len(keys) == len(demo_names()) == len(set(keys))


def test_refresh_sees_files_added_and_removed_by_hand(tmp_path: Path) -> None:
    put(tmp_path, KEY)
    age_dirs(tmp_path)
    cat = Catalogue(tmp_path, rescan_interval=0)
    cat.scan()
    other = parse("imap_mag_l1a_norm-mago_20251002_v001.0000.cdf").key
    put(tmp_path, other)
    new_dir = parse("imap_swe_l1a_sci_20251105_v001.0000.cdf").key
    put(tmp_path, new_dir)
    cat.refresh()
    assert cat.served_keys() == sorted([KEY, other, new_dir])
    (tmp_path / KEY).unlink()
    cat.refresh()
    assert KEY not in cat.served_keys()
    import shutil

    shutil.rmtree(tmp_path / "imap" / "swe")
    cat.refresh()
    assert cat.served_keys() == [other]


def test_refresh_respects_the_interval(tmp_path: Path) -> None:
    now = [1000.0]
    put(tmp_path, KEY)
    cat = Catalogue(tmp_path, rescan_interval=5, clock=lambda: now[0])
    cat.scan()
    other = parse("imap_mag_l1a_norm-mago_20251002_v001.0000.cdf").key
    put(tmp_path, other)
    now[0] += 1
    cat.refresh()
    assert other not in cat.served_keys()
    now[0] += 5
    cat.refresh()
    assert other in cat.served_keys()
    never = Catalogue(tmp_path, rescan_interval=None)
    never.scan()
    put(tmp_path, parse("imap_mag_l1a_norm-mago_20251003_v001.0000.cdf").key)
    never.refresh()
    assert len(never) == 2
    never.refresh(force=True)
    assert len(never) == 3


def test_a_folder_changed_in_the_same_tick_as_the_listing_is_listed_again(tmp_path: Path) -> None:
    put(tmp_path, KEY)
    folder = (tmp_path / KEY).parent
    cat = Catalogue(tmp_path, rescan_interval=0)
    cat.scan()  # the folder was modified just now: racy, so it stays marked for a re-list
    other = parse("imap_mag_l1a_norm-mago_20251002_v001.0000.cdf").key
    put(tmp_path, other)
    mtime = folder.stat().st_mtime_ns
    os.utime(folder, ns=(mtime, mtime))  # same mtime as could happen within one clock tick
    cat.refresh()
    assert other in cat.served_keys()


def test_md5_is_computed_once_and_follows_changes(tmp_path: Path, monkeypatch) -> None:
    path = put(tmp_path, KEY, b"hello")
    cat = Catalogue(tmp_path)
    cat.scan()
    entry = cat.get(KEY)
    assert entry is not None and entry.md5 is None  # lazy
    info = path.stat()
    assert cat.md5(entry, info.st_size, info.st_mtime_ns) == hashlib.md5(b"hello").hexdigest()
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    again = cat.get(KEY)
    assert again is not None and again.md5 == hashlib.md5(b"hello").hexdigest()
    cat.md5(again, info.st_size, info.st_mtime_ns)
    assert opened == []  # cached
    # a rescan of the folder keeps the MD5 of unchanged files
    put(tmp_path, parse("imap_mag_l1a_norm-mago_20251002_v001.0000.cdf").key)
    cat.refresh(force=True)
    assert cat.get(KEY).md5 == hashlib.md5(b"hello").hexdigest()
    monkeypatch.undo()
    path.write_bytes(b"changed")
    info = path.stat()
    assert (
        cat.md5(cat.get(KEY), info.st_size, info.st_mtime_ns) == hashlib.md5(b"changed").hexdigest()
    )


def test_get_never_touches_the_filesystem(tmp_path: Path) -> None:
    put(tmp_path, KEY)
    cat = Catalogue(tmp_path)
    cat.scan()
    for key in ("../../etc/passwd", "/etc/passwd", "imap/../" + KEY, KEY + "/", "imap\\mag"):
        assert cat.get(key) is None


def test_ingestion_date_is_the_mtime_in_utc(tmp_path: Path) -> None:
    path = put(tmp_path, KEY)
    os.utime(path, (1759400000.7, 1759400000.7))  # 2025-10-02 10:13:20.7 UTC
    cat = Catalogue(tmp_path)
    cat.scan()
    ((text, day),) = cat.rows("SELECT ingestion_text, ingestion_day FROM files")
    assert (text, day) == ("20251002 10:13:20", "20251002")


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_unreadable_folder_is_reported_not_fatal(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    put(tmp_path, KEY)
    locked = tmp_path / "imap" / "swe"
    locked.mkdir(parents=True)
    locked.chmod(0)
    try:
        cat = Catalogue(tmp_path)
        report = cat.scan()
        assert cat.served_keys() == [KEY]
        assert any(path == "imap/swe" for path, _ in report.misfits)
    finally:
        locked.chmod(0o755)
