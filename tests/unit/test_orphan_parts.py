"""What a killed process left: `.part`s whose owner is gone become partials or go; a live
process's `.part` is never touched (no locks: the name says whose it is)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from imap_cli.core.download import partials
from imap_cli.core.download.datadir import host_tag, part_path
from imap_cli.core.download.partials import ORPHAN_IDLE, clean_stale, parse_part

NAME = "imap_mag_l1a_norm-mago_20250101_v001.cdf"
ETAG = '"0123456789abcdef0123456789abcdef"'


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def write_part(folder: Path, *, host: str, pid: int, tag: str | None, data: bytes) -> Path:
    token = f"{host}-{pid}-89abcdef" + (f"_{tag}" if tag else "")
    path = folder / f"{NAME}.{token}.part"
    path.write_bytes(data)
    return path


def test_a_part_is_named_after_its_owner_and_its_etag(tmp_path):
    path = part_path(tmp_path / NAME, partials.etag_tag(ETAG))
    owner = parse_part(path.name)
    assert owner is not None
    assert (owner.dest_name, owner.pid, owner.etag) == (NAME, os.getpid(), ETAG)
    assert owner.host + owner.boot == host_tag()
    assert parse_part(part_path(tmp_path / NAME).name).etag is None
    assert parse_part(f"{NAME}.0123abcd.part") is None  # an older version's name


def test_a_dead_process_part_with_an_etag_becomes_a_partial(tmp_path):
    part = write_part(
        tmp_path, host=host_tag(), pid=dead_pid(), tag="e" + ETAG[1:-1], data=b"x" * 10
    )
    assert clean_stale(tmp_path, count_kept=True) == 1
    assert not part.exists()
    (kept,) = partials.kept_partials(tmp_path / NAME)
    assert (kept.etag, kept.size) == (ETAG, 10)


def test_a_dead_process_part_without_an_etag_is_removed(tmp_path):
    part = write_part(tmp_path, host=host_tag(), pid=dead_pid(), tag=None, data=b"")
    assert clean_stale(tmp_path) == 1
    assert not part.exists()


def test_a_part_from_an_earlier_boot_is_orphaned_even_if_its_pid_lives(tmp_path):
    other_boot = host_tag()[:6] + ("0" if host_tag()[6] != "0" else "1") + host_tag()[7:]
    part = write_part(tmp_path, host=other_boot, pid=os.getpid(), tag="e" + ETAG[1:-1], data=b"y")
    assert clean_stale(tmp_path, count_kept=True) == 1
    assert not part.exists()


def test_a_live_process_part_is_left_alone(tmp_path):
    mine = write_part(tmp_path, host=host_tag(), pid=os.getppid(), tag=None, data=b"z")
    assert clean_stale(tmp_path) == 0
    assert mine.exists()


def test_another_host_part_is_orphaned_only_after_orphan_idle(tmp_path):
    other = "abcdef" if host_tag()[:6] != "abcdef" else "fedcba"
    part = write_part(tmp_path, host=other + "123456", pid=1, tag="e" + ETAG[1:-1], data=b"w")
    legacy = tmp_path / f"{NAME}.0123abcd.part"
    legacy.write_bytes(b"old")
    assert clean_stale(tmp_path) == 0  # fresh: its host may still be writing it
    assert part.exists() and legacy.exists()
    later = time.time() + ORPHAN_IDLE + 60
    assert clean_stale(tmp_path, now=later, count_kept=True) == 1
    assert not part.exists() and not legacy.exists()
    assert len(partials.kept_partials(tmp_path / NAME)) == 1
