"""The SDC keys of recent query results, kept in the user cache folder for tab completion.

Light on purpose: tab completion imports this on every keypress, so it needs only the stdlib
(and platformdirs, imported when a path is first needed). Every failure is ignored: the cache
is a convenience, never a reason for a command to fail.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

APP_NAME = "imap-cli"
FILE_NAME = "recent-keys.txt"
MAX_KEYS = 5000


def recent_keys_path() -> Path:
    """Where the recent keys live: `platformdirs.user_cache_dir("imap-cli")/recent-keys.txt`."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / FILE_NAME


def recent_keys(path: Path | None = None) -> list[str]:
    """The remembered keys, newest query first; an empty list if there are none or on error."""
    try:
        text = (path or recent_keys_path()).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    return [line for line in text.splitlines() if line]


def remember_keys(keys: Iterable[str], path: Path | None = None, limit: int = MAX_KEYS) -> None:
    """Put these keys first, keep older ones after them, cap the file at `limit` lines.

    Written atomically (temp file + os.replace) so a completion reading it mid-write never
    sees half a file. Keys with a newline are dropped (they would split into two lines).
    """
    try:
        target = path or recent_keys_path()
        merged: dict[str, None] = {}
        for key in keys:
            if len(merged) >= limit:
                break
            if key and "\n" not in key and "\r" not in key:
                merged.setdefault(key, None)
        if len(merged) < limit:
            for key in recent_keys(target):
                merged.setdefault(key, None)
                if len(merged) >= limit:
                    break
        write_whole(target, "".join(f"{key}\n" for key in merged))
    except Exception:  # a cache must never break the command that fills it
        pass


def write_whole(target: Path, text: str) -> None:
    """Write `text` to the cache file `target` whole or not at all (a temp file renamed)."""
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = ["MAX_KEYS", "recent_keys", "recent_keys_path", "remember_keys"]
