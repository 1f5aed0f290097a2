"""Where downloaded files may go: the data dir, each file's place in it, and the `.part`s
written beside them. Nothing lands outside the data dir, whatever a key says."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import secrets
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from imap_cli.core.errors import DataDirError, IMAPError, UnsafeRequest

# The longest file name most filesystems take, in bytes; a part file's name must fit too.
NAME_MAX = 255


@dataclass(frozen=True)
class Planned:
    """One file to consider: its name, where it goes, and whether a copy is already there."""

    __slots__ = ("data_dir", "index", "key", "present")
    index: int
    key: str  # the SDC key
    data_dir: Path  # the run's one Path: a Path per file would grow with the file count
    present: bool

    @property
    def dest(self) -> Path:
        """Where the file goes (checked when planned: inside the data dir)."""
        return destination(self.data_dir, self.key)


def ensure_data_dir(data_dir: Path) -> Path:
    """Create the data dir if missing; refuse one that is not a writable folder."""
    data_dir = Path(data_dir).expanduser()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DataDirError(f"data dir {data_dir} exists but is not a folder") from None
    except OSError as exc:
        raise DataDirError(f"cannot create the data dir {data_dir}: {exc.strerror}") from None
    if not data_dir.is_dir():
        raise DataDirError(f"data dir {data_dir} exists but is not a folder")
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise DataDirError(f"data dir {data_dir} is not writable")
    return data_dir.resolve()


def destination(data_dir: Path, key: str) -> Path:
    """`<data dir>/<key>`, refusing any key that could land outside the data dir."""
    parts = key.split("/")
    bad = (
        not key
        or key.startswith("/")
        or "\\" in key
        or ":" in key
        or "\x00" in key
        or any(part in ("", ".", "..") for part in parts)
    )
    root = Path(os.path.abspath(data_dir))
    dest = root.joinpath(*parts)
    if bad or os.path.commonpath([root, os.path.abspath(dest)]) != str(root) or dest == root:
        raise UnsafeRequest(
            f"refusing to write {key!r}: it would land outside the data dir {root}",
            "SDC keys are relative paths like imap/mag/l1a/2025/10/<name>; this is a bug if "
            "you see it for a valid name.",
        )
    return dest


def plan(keys: Iterable[str], data_dir: Path) -> Iterator[Planned]:
    """Where each file (an SDC key) goes and whether a non-empty copy is already there."""
    for index, key in enumerate(keys):
        dest = destination(data_dir, key)
        try:
            present = os.stat(dest).st_size > 0 and dest.is_file()
        except OSError:
            present = False
        yield Planned(index, key, data_dir, present)


def part_name(name: str, token: str) -> str:
    """`<name>.<token>.part`, its stem cut short if needed so it fits in NAME_MAX bytes.

    The part is temporary and the token makes it unique, so a shortened stem costs nothing,
    while a valid 255-byte file name would otherwise not fit once the suffix is added.
    """
    suffix = f".{token}.part"
    room = NAME_MAX - len(suffix.encode())
    encoded = name.encode()
    if len(encoded) > room:
        name = encoded[:room].decode("utf-8", "ignore")
    return name + suffix


@functools.cache
def host_tag() -> str:
    """12 hex digits: this host (6) and this boot of it (6), so a later run can tell a `.part`
    of a process that cannot be running any more (same host, another boot; or a dead pid)."""
    boot = ""
    with contextlib.suppress(OSError):
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    if not boot:
        # No boot id (not Linux): the boot time, to the minute, tells boots apart as well.
        boot = str(round(time.time() - time.monotonic(), -2))
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
    return host + hashlib.sha256(boot.encode()).hexdigest()[:6]


def part_token(tag: str | None = None) -> str:
    """A `.part`'s token: its owner (`<host tag>-<pid>-<random>`), then `_<ETag tag>` once the
    bytes' object is known, so what a killed process left can be found and continued."""
    token = f"{host_tag()}-{os.getpid()}-{secrets.token_hex(4)}"
    return f"{token}_{tag}" if tag else token


def part_path(dest: Path, tag: str | None = None) -> Path:
    """A fresh `.part` path beside dest; tagged only when the name fits whole (a shortened
    name could not be traced back to its file)."""
    if tag:
        tagged = f"{dest.name}.{part_token(tag)}.part"
        if len(tagged.encode()) <= NAME_MAX:
            return dest.with_name(tagged)
    return dest.with_name(part_name(dest.name, part_token()))


def open_part(dest: Path) -> tuple[int, Path]:
    """Create a part file beside dest, exclusively (two processes never share one)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(20):
        part = part_path(dest)
        try:
            return os.open(part, flags, 0o666), part
        except FileExistsError:
            continue
    raise IMAPError(f"cannot create a temporary file beside {dest}")  # pragma: no cover


def file_size(path: Path) -> int:
    """A file's size, 0 when it cannot be read."""
    try:
        return path.stat().st_size
    except OSError:
        return 0
