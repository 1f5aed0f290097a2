"""The catalogue: every servable file under ROOT, in a SQLite file that survives restarts.

A file is servable when its name parses with core.naming and it sits exactly at the key the
name implies (`imap/<inst>/<level>/<YYYY>/<MM>/<name>`, ...). Anything else is a misfit: reported
once on the log and never served. Hidden files and folders (a leading dot, e.g. uploads in
progress, the catalogue's own `.imap-serve`) are skipped silently; symbolic links are misfits
(never followed). Where the file lives and how processes share it: server/store.py.

Ingestion date = the file's mtime, in UTC. Each row's SDC JSON is built once at index time
(server/rows.py), so a /query answer is a join of stored strings.

Keeping up to date. Every folder's mtime is stored with its rows. `update()` (at start) and
`refresh()` (before API requests, at most every `rescan_interval` seconds) stat every known
folder and re-list only those whose mtime changed: adding, removing or renaming a file changes
its folder's mtime, so new, replaced and removed files are found at one stat per folder, and only
their rows are rebuilt (a re-listed folder's unchanged files keep their rows: same size and
mtime). A folder modified within the last 2 seconds is re-listed again at the next check ("racy
git"). A file rewritten in place (its folder unchanged) is found by `scan()`, which re-lists
every folder (`imap serve` runs one in the background after start, and on SIGHUP), and by any
download of it (the object host compares its fstat). A first index, or one cut short by a
crash, is a full `scan()`.

Released state: files found on disk count as released; a science or quicklook upload made while
the server requires credentials starts unreleased, as on the SDC, until a release flags it. It is
kept in its own table that no re-index touches, so an unreleased file stays unreleased across
restarts.

MD5s (the ETag) are computed lazily, on the first GET/HEAD of the object URL, and kept with the
size and mtime they belong to; uploads get theirs while the bytes stream in.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from imap_cli.server.files import PART
from imap_cli.server.rows import COLUMNS, INSERT, MD5, row_for
from imap_cli.server.store import Store, default_location

RACY_SECONDS = 2.0
HASH_BLOCK = 1 << 20

__all__ = ["COLUMNS", "Catalogue", "Entry", "ScanReport", "row_for"]


@dataclass(frozen=True)
class Entry:
    """One servable file."""

    key: str
    path: Path
    kind: str
    size: int
    mtime_ns: int
    md5: str | None


@dataclass
class ScanReport:
    """What a scan found: how many files are servable, the misfits (path, reason), and what
    changed: folders listed, files new, changed (size or mtime) and removed."""

    indexed: int = 0
    misfits: list[tuple[str, str]] = field(default_factory=list)
    folders: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0


class Catalogue:
    """The index of ROOT, kept in a SQLite file; safe to share between threads and between
    processes (e.g. gunicorn workers).

    - store: the catalogue file (default: beside the archive, or in the user cache dir when
      the archive is read-only; see server/store.py).
    - stale_parts_after: seconds after which a hidden `.part` file (an upload's temporary
      file, cut short by a crash or a kill) that a listing meets is deleted (None: kept).
    """

    def __init__(
        self,
        root: Path,
        *,
        rescan_interval: float | None = 1.0,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        store: Path | None = None,
        stale_parts_after: float | None = None,
    ) -> None:
        from imap_cli import __version__

        self.root = Path(root).resolve()
        self.rescan_interval = rescan_interval
        self.stale_parts_after = stale_parts_after
        self._log = log or (lambda _line: None)
        self._clock = clock
        self.store = Store(store or default_location(self.root), writer_version=__version__)
        self._reported: set[str] = set()  # misfit paths already reported
        self._last_check = 0.0
        self._hash_lock = threading.Lock()
        self._hash_locks: dict[str, threading.Lock] = {}

    def cursor(self) -> contextlib.AbstractContextManager[sqlite3.Cursor]:
        """A cursor for reading the catalogue."""
        return self.store.cursor()

    def writing(self) -> contextlib.AbstractContextManager[sqlite3.Cursor]:
        """A cursor in a write transaction; one writer at a time, in all processes."""
        return self.store.writing()

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        """Run a read query and return all rows."""
        with self.cursor() as cur:
            return cur.execute(sql, args).fetchall()

    def get(self, key: str) -> Entry | None:
        """The entry for an exact SDC key, or None. Never touches the filesystem."""
        found = self.rows("SELECT kind, size, mtime_ns, md5 FROM files WHERE key = ?", (key,))
        if not found:
            return None
        kind, size, mtime_ns, md5 = found[0]
        return Entry(key, self.root.joinpath(*key.split("/")), kind, size, mtime_ns, md5)

    def __len__(self) -> int:
        return self.rows("SELECT count(*) FROM files")[0][0]

    def mark_unreleased(self, key: str) -> None:
        """Hide `key` from the public routes until a release flags it (kept across restarts)."""
        with self.writing() as cur:
            cur.execute("INSERT OR IGNORE INTO unreleased VALUES (?)", (key,))

    def mark_released(self, keys: Sequence[str]) -> None:
        """Flag `keys` released (nothing is ever unflagged)."""
        with self.writing() as cur:
            cur.executemany("DELETE FROM unreleased WHERE key = ?", ((k,) for k in keys))

    @property
    def unreleased_count(self) -> int:
        """How many keys are marked unreleased (read from the file: another process may
        have marked some)."""
        return self.rows("SELECT count(*) FROM unreleased")[0][0]

    def is_released(self, key: str) -> bool:
        """True unless `key` was marked unreleased."""
        return not self.rows("SELECT 1 FROM unreleased WHERE key = ?", (key,))

    def served_keys(self) -> list[str]:
        """Every servable key, sorted."""
        return [k for (k,) in self.rows("SELECT key FROM files ORDER BY key")]

    def md5(self, entry: Entry, size: int, mtime_ns: int, handle: BinaryIO | None = None) -> str:
        """The MD5 hex of the file as it is now (size/mtime from an fstat of the open file;
        `handle`: that open file, read from its start, else the file is opened by path).

        Cached per (size, mtime); computed once per change, never per request. Two requests
        for the same uncached file wait for one computation.
        """
        if entry.md5 and (entry.size, entry.mtime_ns) == (size, mtime_ns):
            return entry.md5
        with self._hash_lock:
            lock = self._hash_locks.setdefault(entry.key, threading.Lock())
        with lock:
            again = self.get(entry.key)
            if again and again.md5 and (again.size, again.mtime_ns) == (size, mtime_ns):
                return again.md5
            with contextlib.ExitStack() as stack:
                if handle is None:
                    handle = stack.enter_context(open(entry.path, "rb"))
                handle.seek(0)
                digest = hashlib.md5(usedforsecurity=False)
                while block := handle.read(HASH_BLOCK):
                    digest.update(block)
            md5 = digest.hexdigest()
            with self.writing() as cur:
                cur.execute(
                    "UPDATE files SET md5 = ?, size = ?, mtime_ns = ? WHERE key = ?",
                    (md5, size, mtime_ns, entry.key),
                )
            return md5

    def update(self) -> ScanReport:
        """Bring the kept catalogue up to date with ROOT (at start): re-list the folders that
        changed, or index everything when no complete index is kept. One process at a time;
        the others then find it up to date."""
        with self.store.exclusive():
            with self.cursor() as cur:
                complete = Store.meta(cur, "complete") == "1"
            report = self.refresh(force=True) if complete else self._full_scan()
        report.indexed = len(self)
        return report

    def scan(self) -> ScanReport:
        """Re-list every folder (files rewritten in place are found; unchanged files keep
        their rows); report misfits not reported before."""
        with self.store.exclusive():
            report = self._full_scan()
        report.indexed = len(self)
        return report

    def _full_scan(self) -> ScanReport:
        report = ScanReport()
        with self.writing() as cur:
            Store.set_meta(cur, "complete", "0")  # a scan cut short is redone at the next start
        seen = self._scan_tree("", report)
        with self.writing() as cur:
            for (rel,) in cur.execute("SELECT rel FROM dirs").fetchall():
                if rel not in seen:
                    self._forget(cur, rel, report)
            Store.set_meta(cur, "complete", "1")
        self._last_check = self._clock()
        self._report(report.misfits)
        return report

    def refresh(self, *, force: bool = False) -> ScanReport:
        """Re-list folders changed since the last look, if the rescan interval has passed."""
        report = ScanReport()
        if self.rescan_interval is None and not force:
            return report
        now = self._clock()
        if not force and now - self._last_check < (self.rescan_interval or 0.0):
            return report
        self._last_check = now
        known = dict(self.rows("SELECT rel, mtime_ns FROM dirs"))
        changed: list[str] = []
        gone: list[str] = []
        for rel, seen_mtime in known.items():
            try:
                info = os.stat(self._abs(rel), follow_symlinks=False)
            except OSError:
                gone.append(rel)
                continue
            if not stat.S_ISDIR(info.st_mode):
                gone.append(rel)
            elif info.st_mtime_ns != seen_mtime:
                changed.append(rel)
        for rel in gone:
            with self.writing() as cur:
                self._forget(cur, rel, report)
        for rel in sorted(changed):
            self._resync(rel, known[rel], report)
        self._report(report.misfits)
        return report

    def add_uploaded(self, key: str, md5: str) -> Entry | None:
        """Index a file that was just written at `key` (its MD5 already known)."""
        path = self.root.joinpath(*key.split("/"))
        with self.writing() as cur:
            info = os.stat(path, follow_symlinks=False)
            row = self._row(key, info)
            if row is None:
                return None
            row[MD5] = md5
            cur.execute(INSERT, row)
        return self.get(key)

    def update_stat(self, key: str, size: int, mtime_ns: int) -> None:
        """Record a file's new size/mtime (it changed in place); rebuilds its row."""
        from imap_cli.core.naming import parse

        row = row_for(parse(PurePosixPath(key).name), size=size, mtime_ns=mtime_ns)
        with self.writing() as cur:
            cur.execute(INSERT, row)

    def _abs(self, rel: str) -> Path:
        return self.root.joinpath(*rel.split("/")) if rel else self.root

    def _report(self, misfits: list[tuple[str, str]]) -> None:
        fresh = [(p, r) for p, r in misfits if p not in self._reported]
        if not fresh:
            return
        self._reported.update(p for p, _ in fresh)
        shown = fresh[:5]
        more = f" (and {len(fresh) - len(shown)} more)" if len(fresh) > len(shown) else ""
        self._log(
            f"{len(fresh)} file(s) not served (not an IMAP name, or not at its SDC key){more}:"
        )
        for path, reason in shown:
            self._log(f"  {path}: {reason}")

    def _scan_tree(self, rel: str, report: ScanReport) -> set[str]:
        """List `rel` and every folder below, one transaction per folder; the folders seen."""
        seen: set[str] = set()
        pending = [rel]
        while pending:
            current = pending.pop()
            with self.writing() as cur:
                subdirs = self._sync_dir(cur, current, report)
            if subdirs is not None:
                seen.add(current)
                pending.extend(subdirs)
        return seen

    def _resync(self, rel: str, seen_mtime: int, report: ScanReport) -> None:
        """Re-list one changed folder, and index its new subfolders, in one transaction (a
        crash leaves the folder as it was, to be re-listed at the next start)."""
        with self.writing() as cur:
            now = cur.execute("SELECT mtime_ns FROM dirs WHERE rel = ?", (rel,)).fetchone()
            if now is None or now[0] != seen_mtime:
                return  # another process re-listed or dropped it meanwhile
            subdirs = self._sync_dir(cur, rel, report)
            if subdirs is None:
                self._forget(cur, rel, report)
                return
            known = {d for (d,) in cur.execute("SELECT rel FROM dirs WHERE parent = ?", (rel,))}
            for gone in known - set(subdirs):
                self._forget(cur, gone, report)
            for new in set(subdirs) - known:
                self._scan_tree(new, report)

    def _sync_dir(self, cur: sqlite3.Cursor, rel: str, report: ScanReport) -> list[str] | None:
        """Bring one folder's rows up to date with a listing of it: new and changed files
        get fresh rows, removed ones go, unchanged ones are left alone. Its subfolders, or
        None if it cannot be read."""
        folder = self._abs(rel)
        try:
            info = os.stat(folder, follow_symlinks=False)
            entries = list(os.scandir(folder))
        except OSError as error:
            report.misfits.append((rel or ".", f"cannot read: {error.strerror or error}"))
            return None
        known = {
            key: (size, mtime_ns)
            for key, size, mtime_ns in cur.execute(
                "SELECT key, size, mtime_ns FROM files WHERE dir = ?", (rel,)
            )
        }
        fresh: list[list[Any]] = []
        present: set[str] = set()
        subdirs: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                self._drop_stale_part(entry)  # hidden: uploads in progress, our own state
                continue
            if not rel and entry.name == "poda":  # packets imap serve answers as PODA
                continue
            child = f"{rel}/{entry.name}" if rel else entry.name
            try:
                if entry.is_symlink():
                    report.misfits.append((child, "symbolic link (never followed)"))
                elif entry.is_dir(follow_symlinks=False):
                    subdirs.append(child)
                elif entry.is_file(follow_symlinks=False):
                    found = entry.stat(follow_symlinks=False)
                    old = known.get(child)
                    if old == (found.st_size, found.st_mtime_ns):
                        present.add(child)
                        continue
                    row, reason = self._classify(child, found)
                    if row is None:
                        report.misfits.append((child, reason))
                        continue
                    present.add(child)
                    fresh.append(row)
                    if old is None:
                        report.new += 1
                    else:
                        report.changed += 1
                else:
                    report.misfits.append((child, "not a regular file"))
            except OSError as error:
                report.misfits.append((child, f"cannot read: {error.strerror or error}"))
        removed = [key for key in known if key not in present]
        cur.executemany("DELETE FROM files WHERE key = ?", ((key,) for key in removed))
        cur.executemany(INSERT, fresh)
        report.removed += len(removed)
        report.folders += 1
        racy = self._clock() - info.st_mtime_ns / 1e9 < RACY_SECONDS
        parent = rel.rpartition("/")[0] if rel else None
        cur.execute(
            "INSERT OR REPLACE INTO dirs VALUES (?, ?, ?)",
            (rel, parent, -1 if racy else info.st_mtime_ns),
        )
        return subdirs

    def _drop_stale_part(self, entry: os.DirEntry) -> None:
        """Delete an upload's temporary file that nobody has written to for a long time."""
        if self.stale_parts_after is None or not entry.name.endswith(PART):
            return
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < time.time() - self.stale_parts_after:
                os.unlink(entry.path)

    def _forget(self, cur: sqlite3.Cursor, rel: str, report: ScanReport) -> None:
        """Drop a folder that is gone, with everything below it."""
        prefix = rel + "/" if rel else ""
        where = "{col} = ? OR substr({col}, 1, ?) = ?"
        args = (rel, len(prefix), prefix)
        report.removed += cur.execute(
            "DELETE FROM files WHERE " + where.format(col="dir"), args
        ).rowcount
        cur.execute("DELETE FROM dirs WHERE " + where.format(col="rel"), args)

    def _classify(self, rel: str, info: os.stat_result) -> tuple[list[Any] | None, str]:
        from imap_cli.core.errors import IMAPError

        try:
            row = self._row(rel, info)
        except IMAPError as error:
            return None, error.message
        except ValueError as error:
            return None, str(error)
        if row is None:
            return None, "not an IMAP file"
        return row, ""

    def _row(self, rel: str, info: os.stat_result) -> list[Any] | None:
        """The catalogue row for the file at `rel`; raises if its name or place is wrong."""
        from imap_cli.core.naming import parse

        name = rel.rpartition("/")[2]  # not PurePosixPath(rel).name: a tenth of a scan's time
        parsed = parse(name)
        if parsed.key != rel:
            raise ValueError(f"belongs at {parsed.key}")
        return row_for(parsed, size=info.st_size, mtime_ns=info.st_mtime_ns)
