"""Files of the archive opened without following links, so that what is opened is inside the
archive at the moment it is opened, whatever was swapped in since it was indexed.

Where the platform can (POSIX: `dir_fd` and O_NOFOLLOW), every folder of a key is opened from
the one above it with O_NOFOLLOW, then the file itself: a symbolic link anywhere under the root
is refused by the kernel, with no window between a check and the open. Elsewhere (Windows) the
file is opened by path, then its real path must be inside the root's and name the same file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in must not hang the open
_BINARY = getattr(os, "O_BINARY", 0)
WALKS = bool(_NOFOLLOW and _DIRECTORY) and os.open in os.supports_dir_fd
PART = ".part"


class Outside(PermissionError):
    """The path leads out of the archive (a link, or not a regular file)."""


def _parts(key: str) -> list[str]:
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise Outside(key)
    return parts


def _open_folder(root: Path, parts: list[str], *, create: bool) -> int:
    """A descriptor of root/parts..., each step opened without following a link."""
    fd = os.open(root, os.O_RDONLY | _DIRECTORY)
    try:
        for name in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _inside(path: str, root: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([os.path.realpath(path), real_root]) == real_root


def open_inside(root: Path, key: str) -> BinaryIO:
    """The regular file at `key` under root, for reading; OSError (Outside for a link or
    anything that is not a regular file) otherwise."""
    parts = _parts(key)
    if WALKS:
        folder = _open_folder(root, parts[:-1], create=False)
        try:
            fd = os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=folder)
        finally:
            os.close(folder)
    else:
        path = os.path.join(root, *parts)
        fd = os.open(path, os.O_RDONLY | _BINARY)
        real = os.path.realpath(path)
        if not _inside(real, root) or not os.path.samestat(os.fstat(fd), os.stat(real)):
            os.close(fd)
            raise Outside(key)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise Outside(key)
    if _NONBLOCK:
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


class Folder:
    """The folder of a key, for storing an upload: created as needed, never through a link.
    Files are created with mode 0666 less the umask, as any other program's."""

    def __init__(self, root: Path, key: str) -> None:
        parts = _parts(key)
        self.name = parts[-1]
        self.path = root.joinpath(*parts[:-1])
        self.fd: int | None = None
        if WALKS:
            self.fd = _open_folder(root, parts[:-1], create=True)
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            if not _inside(str(self.path), root):
                raise Outside(key)

    def _where(self, name: str) -> tuple[str, dict[str, int]]:
        if self.fd is not None:
            return name, {"dir_fd": self.fd}
        return str(self.path / name), {}

    def exists(self, name: str) -> bool:
        where, args = self._where(name)
        try:
            os.stat(where, follow_symlinks=False, **args)
        except FileNotFoundError:
            return False
        return True

    def create_temp(self) -> tuple[str, int]:
        """A new hidden temporary file for `name`: (its name, a descriptor to write)."""
        temp = f".{self.name}.{secrets.token_hex(4)}{PART}"
        where, args = self._where(temp)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY
        return temp, os.open(where, flags, 0o666, **args)

    def replace(self, temp: str, name: str) -> None:
        source, _ = self._where(temp)
        target, _ = self._where(name)
        if self.fd is not None:
            os.replace(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        else:
            os.replace(source, target)

    def unlink(self, name: str) -> None:
        where, args = self._where(name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(where, **args)

    def free_bytes(self) -> int:
        """Bytes free for this user on the folder's disk."""
        if self.fd is not None and hasattr(os, "fstatvfs"):
            info = os.fstatvfs(self.fd)
            return info.f_bavail * info.f_frsize
        import shutil

        return shutil.disk_usage(self.path).free

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
