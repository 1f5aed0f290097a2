"""Kept partials: what arrived of an object, kept across runs to be continued.

A transfer writes to its own `<name>.<token>.part`; when it stops before the end (Ctrl-C, a
failure) and the object has a strong ETag, the part is renamed to `<name>.<tag>.partial` (the
tag encodes the ETag). The next run claims such a partial by renaming it to its own `.part` (a
rename is atomic on NFS and Lustre, where locks are not to be trusted: of two processes, one
wins and the other starts afresh), then asks for the rest with `Range` + `If-Range: <ETag>`, so
a changed object comes back whole and restarts cleanly. No partial ever has the final name;
old ones are removed after STALE_PARTIAL seconds.

A process killed outright (SIGKILL, a crash, a reboot) leaves its `.part`. Its name says whose
it is (host, boot, pid) and, once the first answer came, the ETag of its bytes
(`<name>.<owner>_<tag>.part`), so the next run that tidies the folder turns it into a kept
partial to continue, or removes it when there is nothing to continue it with.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from imap_cli.core.download.datadir import NAME_MAX, host_tag, part_path

# A kept partial (what arrived of an object with a strong ETag) is removed after this long
# unused; a `.part` nobody has written to for STALE_PART belongs to a process that died.
STALE_PARTIAL = 7 * 86400
STALE_PART = 86400
# A `.part` of a process on another host counts as orphaned after this long unwritten: far
# beyond a live transfer's longest silence (a read timeout, then a retry's backoff).
ORPHAN_IDLE = 3600
PARTIAL_SUFFIX = ".partial"
_PLAIN_TAG = re.compile(r"[0-9A-Za-z-]{1,80}")


def etag_tag(etag: str | None) -> str | None:
    """A file-name-safe tag for a strong ETag (None for a weak or missing one).

    S3's ETags ("<md5>" or "<md5>-<parts>") become `e<value>`; anything else is base32'd.
    """
    if not etag or etag.strip().startswith("W/"):
        return None
    etag = etag.strip()
    inner = etag[1:-1] if len(etag) > 1 and etag[0] == etag[-1] == '"' else None
    if inner is not None and _PLAIN_TAG.fullmatch(inner):
        return "e" + inner
    encoded = base64.b32encode(etag.encode()).decode().rstrip("=").lower()
    return "b" + encoded if len(encoded) <= 120 else None


def tag_etag(tag: str) -> str | None:
    """The ETag a tag stands for (the inverse of etag_tag), or None if it is not one."""
    if tag.startswith("e") and _PLAIN_TAG.fullmatch(tag[1:]):
        return f'"{tag[1:]}"'
    if tag.startswith("b") and re.fullmatch(r"[a-z2-7]+", tag[1:]):
        padded = tag[1:].upper() + "=" * (-len(tag[1:]) % 8)
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            return base64.b32decode(padded).decode()
    return None


def partial_name(name: str, tag: str) -> str | None:
    """`<name>.<tag>.partial`, or None when that would not fit in a file name."""
    full = f"{name}.{tag}{PARTIAL_SUFFIX}"
    return full if len(full.encode()) <= NAME_MAX else None


@dataclass(frozen=True)
class KeptPartial:
    """A partial left by an earlier run: its path, the ETag its bytes belong to, its size."""

    path: Path
    etag: str
    size: int
    mtime: float


def kept_partials(dest: Path) -> list[KeptPartial]:
    """The partials of dest's file in its folder, largest first."""
    prefix = dest.name + "."
    found = []
    try:
        entries = list(os.scandir(dest.parent))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(PARTIAL_SUFFIX)):
            continue
        etag = tag_etag(name[len(prefix) : -len(PARTIAL_SUFFIX)])
        if etag is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if entry.is_file(follow_symlinks=False):
            found.append(KeptPartial(Path(entry.path), etag, info.st_size, info.st_mtime))
    return sorted(found, key=lambda p: p.size, reverse=True)


def clean_stale(folder: Path, now: float | None = None, *, count_kept: bool = False) -> int:
    """Tidy a folder's leftovers; returns how many were removed (with `count_kept`: how many
    partials are left to continue).

    Partials unused for STALE_PARTIAL go. A `.part` whose process has ended (killed, crashed,
    the host rebooted: see `orphaned`) is kept as a partial when its bytes can be continued
    (its name carries the object's ETag), else removed; any `.part` unused for STALE_PART goes.
    """
    now = time.time() if now is None else now
    removed = kept = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        if not name.endswith((PARTIAL_SUFFIX, ".part")):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            idle = now - info.st_mtime
            if name.endswith(PARTIAL_SUFFIX):
                if idle > STALE_PARTIAL:
                    os.unlink(entry.path)
                    removed += 1
                else:
                    kept += 1
                continue
            owner = parse_part(name)
            if idle <= STALE_PART and not orphaned(owner, idle):
                continue  # a live process's
            if owner and owner.etag and info.st_size > 0 and idle <= STALE_PARTIAL:
                dest = Path(folder) / owner.dest_name
                if release(dest, Path(entry.path), owner.etag, info.st_size):
                    kept += 1
                    continue
            with contextlib.suppress(FileNotFoundError):  # another run took it first
                os.unlink(entry.path)
            removed += 1
    return kept if count_kept else removed


@dataclass(frozen=True)
class PartOwner:
    """What a `.part`'s name says: its file, the process writing it, the ETag of its bytes."""

    dest_name: str
    host: str
    boot: str
    pid: int
    etag: str | None


_PART = re.compile(
    r"(?P<dest>.+)\.(?P<host>[0-9a-f]{6})(?P<boot>[0-9a-f]{6})-(?P<pid>\d{1,10})-[0-9a-f]{8}"
    r"(?:_(?P<tag>[^.]+))?\.part"
)


def parse_part(name: str) -> PartOwner | None:
    """The owner of a `.part` named by datadir.part_token (None for any other name)."""
    found = _PART.fullmatch(name)
    if not found:
        return None
    tag = found.group("tag")
    etag = tag_etag(tag) if tag else None
    return PartOwner(
        found.group("dest"), found.group("host"), found.group("boot"), int(found.group("pid")), etag
    )


def orphaned(owner: PartOwner | None, idle: float) -> bool:
    """Whether a `.part`'s process has ended: on this host, it ran in an earlier boot or its
    pid is gone; on another host (a shared data dir), nothing was written for ORPHAN_IDLE."""
    here = host_tag()
    if owner is not None and owner.host == here[:6]:
        return owner.boot != here[6:] or not _pid_alive(owner.pid)
    return idle > ORPHAN_IDLE


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no signal 0 to ask with: the idle rule decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process (EPERM): alive
    return True


def claim(dest: Path) -> tuple[int, Path, KeptPartial] | None:
    """Take the largest kept partial of dest for this process: rename it to our own `.part`.

    The rename is the claim: two processes cannot both win it, on NFS or Lustre either, so a
    partial is never written by two at once. Returns None when there is none to take.
    """
    flags = os.O_WRONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    for kept in kept_partials(dest):
        part = part_path(dest, etag_tag(kept.etag))
        try:
            os.rename(kept.path, part)
        except OSError:
            continue  # another process took it (or it went stale): try the next
        try:
            fd = os.open(part, flags)
            # A rename keeps the old mtime: without this, a cleaner elsewhere could take
            # the freshly claimed part for one left by a dead process.
            os.utime(part)
        except OSError:
            with contextlib.suppress(OSError):
                part.unlink()
            continue
        return fd, part, kept
    return None


def release(dest: Path, part: Path, etag: str | None, size: int) -> bool:
    """Keep a stopped `.part` as dest's partial for its ETag; True if kept, else removed."""
    tag = etag_tag(etag)
    name = partial_name(dest.name, tag) if tag else None
    if name is None or size <= 0:
        with contextlib.suppress(OSError):
            part.unlink()
        return False
    target = dest.with_name(name)
    try:
        # Another run may have kept a longer one meanwhile: keep whichever has more. (The
        # check and the rename are not atomic; the worst case loses progress, never bytes'
        # correctness: every partial of one ETag is a prefix of the same object.)
        if target.exists() and target.stat().st_size >= size:
            part.unlink()
            return False
        os.replace(part, target)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            part.unlink()
        return False


def remove_partials(dest: Path) -> None:
    """Remove every kept partial of dest (it is complete now)."""
    for kept in kept_partials(dest):
        with contextlib.suppress(OSError):
            kept.path.unlink()
