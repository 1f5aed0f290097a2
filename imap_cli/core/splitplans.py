"""Remembered splits of /query answers too large to send at once, in the user cache folder.

A query split into parts once is likely to be asked again (a daily sync, a re-run): its
windows are kept per SDC url and filter set, so that the next run asks for them straight away
instead of failing on the whole answer and searching again. A plan is only a first guess:
core.split still checks that its windows cover the query exactly and splits any that no
longer fit. Every failure here is ignored: the cache is a convenience, never a reason for a
command to fail.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

from imap_cli.core.recent import APP_NAME, write_whole

FILE_NAME = "query-splits.json"
# Bounds: the newest plans are kept, and a plan of more windows than this is not worth keeping
# (it would take longer to read than the failures it saves).
MAX_PLANS = 200
MAX_WINDOWS = 1000

# One window of a plan: its first and last start day (YYYYMMDD, None for an open end), and the
# rows of a page when that day alone needed pages (0 otherwise).
Planned = tuple[str | None, str | None, int]


def plans_path() -> Path:
    """`platformdirs.user_cache_dir("imap-cli")/query-splits.json`."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / FILE_NAME


def plan_key(url: str, params: Sequence[tuple[str, str]]) -> str:
    """A short digest of the url and the filters (no secret is written to the cache)."""
    text = json.dumps([url, sorted([str(k), str(v)] for k, v in params)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _valid(window: object) -> bool:
    if not isinstance(window, list) or len(window) != 3:
        return False
    low, high, rows = window
    days_ok = all(
        d is None or (isinstance(d, str) and len(d) == 8 and d.isdigit()) for d in (low, high)
    )
    return days_ok and isinstance(rows, int) and rows >= 0


def load_plan(key: str, path: Path | None = None) -> list[Planned] | None:
    """The windows remembered for `key`, oldest first; None when there are none."""
    try:
        entry = _read(path or plans_path()).get(key)
        windows = entry.get("windows") if isinstance(entry, dict) else None
        if not isinstance(windows, list) or not windows or not all(map(_valid, windows)):
            return None
        return [(low, high, rows) for low, high, rows in windows]
    except Exception:  # a cache must never break the command that reads it
        return None


def save_plan(key: str, windows: Sequence[Planned], path: Path | None = None) -> None:
    """Remember `windows` for `key` (atomically: temp file + os.replace), newest plans kept."""
    if not windows or len(windows) > MAX_WINDOWS:
        return
    try:
        target = path or plans_path()
        plans = {
            k: v
            for k, v in _read(target).items()
            if isinstance(v, dict) and isinstance(v.get("used"), (int, float)) and k != key
        }
        plans[key] = {"used": time.time(), "windows": [list(w) for w in windows]}
        newest = sorted(plans, key=lambda k: plans[k]["used"], reverse=True)[:MAX_PLANS]
        text = json.dumps({k: plans[k] for k in newest}, separators=(",", ":"))
        write_whole(target, text)
    except Exception:  # a cache must never break the command that fills it
        pass


__all__ = [
    "MAX_PLANS",
    "MAX_WINDOWS",
    "Planned",
    "load_plan",
    "plan_key",
    "plans_path",
    "save_plan",
]
