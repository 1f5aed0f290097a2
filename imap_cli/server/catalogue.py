"""The catalogue: every servable file under ROOT, in an in-memory sqlite3 database.

A file is servable when its name parses with core.naming and it sits exactly at the key the
name implies (`imap/<inst>/<level>/<YYYY>/<MM>/<name>`, ...). Anything else is a misfit: reported
once on the log and never served. Hidden files and folders (a leading dot, e.g. uploads in
progress) are skipped silently; symbolic links are misfits (never followed).

Ingestion date = the file's mtime, in UTC. Each row's SDC JSON is built once at index time, so a
/query answer is a join of stored strings.

Rescans. Uploads are indexed at once. Files dropped in by hand are found by `refresh()`: it
stats every known folder and re-lists only the folders whose mtime changed (adding or removing a
file changes its folder's mtime), so a check costs one stat per folder, not per file. The server
calls it before answering an API request when `rescan_interval` seconds have passed since the
last check (0: every request; None: never, only explicit `scan()`). A folder modified within the
last 2 seconds is re-listed again at the next check, because a file created in the same clock
tick as a listing would not change the folder's mtime a second time ("racy git" problem).

MD5s (the ETag) are computed lazily, on the first GET/HEAD of the object URL, and kept in the
catalogue with the size and mtime they belong to; uploads get theirs while the bytes stream in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from imap_cli.core.schema import RECORD_FIELDS
from imap_cli.server import spice

UTC = dt.timezone.utc
RACY_SECONDS = 2.0
HASH_BLOCK = 1 << 20

_SCHEMA = """
CREATE TABLE files (
    key TEXT PRIMARY KEY,
    dir TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    tbl TEXT,
    instrument TEXT, data_level TEXT, descriptor TEXT,
    start_date TEXT, end_date TEXT,
    repointing INTEGER, cr INTEGER,
    major INTEGER, minor INTEGER, version TEXT, extension TEXT,
    ingested REAL NOT NULL, ingestion_day TEXT NOT NULL, ingestion_text TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, md5 TEXT,
    kernel_type TEXT, file_root TEXT, kversion INTEGER,
    min_et REAL, max_et REAL, start_ts REAL, end_ts REAL,
    row_json TEXT
);
CREATE INDEX files_series ON files (tbl, instrument, data_level, descriptor, start_date);
CREATE INDEX files_dir ON files (dir);
CREATE TABLE unreleased (key TEXT PRIMARY KEY);
"""

_COLUMNS = [
    "key",
    "dir",
    "name",
    "kind",
    "tbl",
    "instrument",
    "data_level",
    "descriptor",
    "start_date",
    "end_date",
    "repointing",
    "cr",
    "major",
    "minor",
    "version",
    "extension",
    "ingested",
    "ingestion_day",
    "ingestion_text",
    "size",
    "mtime_ns",
    "md5",
    "kernel_type",
    "file_root",
    "kversion",
    "min_et",
    "max_et",
    "start_ts",
    "end_ts",
    "row_json",
]
_INSERT = (
    f"INSERT OR REPLACE INTO files ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


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
    """What a scan found: how many files are servable, and the misfits (path, reason)."""

    indexed: int = 0
    misfits: list[tuple[str, str]] = field(default_factory=list)


def _ymd(value: str | None) -> str | None:
    return value.replace("-", "") if value else None


def _dash_datetime(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d, %H:%M:%S")


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


class Catalogue:
    """Thread-safe index of ROOT: one sqlite3 connection, guarded by a lock."""

    def __init__(
        self,
        root: Path,
        *,
        rescan_interval: float | None = 1.0,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root).resolve()
        self.rescan_interval = rescan_interval
        self._log = log or (lambda _line: None)
        self._clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._dirs: dict[str, int] = {}  # folder (relative, posix; "" = ROOT) -> mtime_ns seen
        self._reported: set[str] = set()  # misfit paths already reported
        self._last_check = 0.0
        self._hash_locks: dict[str, threading.Lock] = {}

    @contextlib.contextmanager
    def cursor(self) -> Iterator[sqlite3.Cursor]:
        """A cursor on the catalogue, holding the lock (keep the work inside short)."""
        with self._lock:
            cur = self._db.cursor()
            try:
                yield cur
            finally:
                cur.close()

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

    # Files found on disk count as released; a science or quicklook upload made while the
    # server requires credentials starts unreleased, as on the SDC, until a release flags it.
    # Kept apart from `files`, whose rows rescans rebuild, and in memory only.

    def mark_unreleased(self, key: str) -> None:
        """Hide `key` from the public routes until a release flags it."""
        with self.cursor() as cur:
            cur.execute("INSERT OR IGNORE INTO unreleased VALUES (?)", (key,))
        self.unreleased_count = self.rows("SELECT count(*) FROM unreleased")[0][0]

    def mark_released(self, keys: Sequence[str]) -> None:
        """Flag `keys` released (nothing is ever unflagged)."""
        with self.cursor() as cur:
            cur.executemany("DELETE FROM unreleased WHERE key = ?", ((k,) for k in keys))
        self.unreleased_count = self.rows("SELECT count(*) FROM unreleased")[0][0]

    def is_released(self, key: str) -> bool:
        """True unless `key` was marked unreleased."""
        if not self.unreleased_count:
            return True
        return not self.rows("SELECT 1 FROM unreleased WHERE key = ?", (key,))

    unreleased_count = 0

    def served_keys(self) -> list[str]:
        """Every servable key, sorted."""
        return [k for (k,) in self.rows("SELECT key FROM files ORDER BY key")]

    def md5(self, entry: Entry, size: int, mtime_ns: int) -> str:
        """The MD5 hex of the file as it is now (size/mtime from an fstat of the open file).

        Cached per (size, mtime); computed once per change, never per request. Two requests
        for the same uncached file wait for one computation.
        """
        if entry.md5 and (entry.size, entry.mtime_ns) == (size, mtime_ns):
            return entry.md5
        with self._lock:
            lock = self._hash_locks.setdefault(entry.key, threading.Lock())
        with lock:
            again = self.get(entry.key)
            if again and again.md5 and (again.size, again.mtime_ns) == (size, mtime_ns):
                return again.md5
            digest = hashlib.md5(usedforsecurity=False)
            with open(entry.path, "rb") as handle:
                while block := handle.read(HASH_BLOCK):
                    digest.update(block)
            md5 = digest.hexdigest()
            with self.cursor() as cur:
                cur.execute(
                    "UPDATE files SET md5 = ?, size = ?, mtime_ns = ? WHERE key = ?",
                    (md5, size, mtime_ns, entry.key),
                )
            return md5

    def scan(self) -> ScanReport:
        """Index ROOT from scratch; report misfits not reported before."""
        with self._lock:
            self._dirs.clear()
            report = ScanReport()
            keys = self._scan_tree("", report)
            with self.cursor() as cur:
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY)")
                cur.execute("DELETE FROM seen")
                cur.executemany("INSERT OR IGNORE INTO seen VALUES (?)", ((k,) for k in keys))
                cur.execute("DELETE FROM files WHERE key NOT IN (SELECT key FROM seen)")
                cur.execute("DELETE FROM seen")
            report.indexed = len(self)
            self._last_check = self._clock()
        self._report(report.misfits)
        return report

    def refresh(self, *, force: bool = False) -> None:
        """Re-list folders changed since the last look, if the rescan interval has passed."""
        if self.rescan_interval is None and not force:
            return
        now = self._clock()
        if not force and now - self._last_check < (self.rescan_interval or 0.0):
            return
        misfits: list[tuple[str, str]] = []
        with self._lock:
            self._last_check = now
            for rel, seen_mtime in list(self._dirs.items()):
                if rel not in self._dirs:  # dropped with a vanished parent meanwhile
                    continue
                try:
                    info = os.stat(self._abs(rel), follow_symlinks=False)
                except OSError:
                    self._forget_tree(rel)
                    continue
                if not stat.S_ISDIR(info.st_mode):
                    self._forget_tree(rel)
                elif info.st_mtime_ns != seen_mtime:
                    report = ScanReport()
                    self._rescan_dir(rel, report)
                    misfits.extend(report.misfits)
        self._report(misfits)

    def add_uploaded(self, key: str, md5: str) -> Entry | None:
        """Index a file that was just written at `key` (its MD5 already known)."""
        path = self.root.joinpath(*key.split("/"))
        with self._lock:
            info = os.stat(path, follow_symlinks=False)
            row = self._row(key, info)
            if row is None:
                return None
            row[_COLUMNS.index("md5")] = md5
            with self.cursor() as cur:
                cur.execute(_INSERT, row)
        return self.get(key)

    def update_stat(self, key: str, size: int, mtime_ns: int) -> None:
        """Record a file's new size/mtime (it changed in place); rebuilds its row."""
        path = self.root.joinpath(*key.split("/"))
        with self._lock:
            try:
                info = os.stat(path, follow_symlinks=False)
            except OSError:
                return
            row = self._row(key, info)
            if row is not None:
                with self.cursor() as cur:
                    cur.execute(_INSERT, row)

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

    def _remember_dir(self, rel: str, info: os.stat_result) -> None:
        racy = self._clock() - info.st_mtime_ns / 1e9 < RACY_SECONDS
        self._dirs[rel] = -1 if racy else info.st_mtime_ns

    def _scan_tree(self, rel: str, report: ScanReport) -> list[str]:
        """Walk `rel` and below; insert rows; return the keys found."""
        keys: list[str] = []
        pending = [rel]
        while pending:
            current = pending.pop()
            rows, subdirs = self._list_dir(current, report)
            if rows is None:
                continue
            with self.cursor() as cur:
                _keep_md5(cur, current, rows)
                cur.executemany(_INSERT, rows)
            keys.extend(row[0] for row in rows)
            pending.extend(subdirs)
        return keys

    def _list_dir(self, rel: str, report: ScanReport) -> tuple[list[list[Any]] | None, list[str]]:
        folder = self._abs(rel)
        try:
            info = os.stat(folder, follow_symlinks=False)
            entries = list(os.scandir(folder))
        except OSError as error:
            report.misfits.append((rel or ".", f"cannot read: {error.strerror or error}"))
            return None, []
        self._remember_dir(rel, info)
        rows: list[list[Any]] = []
        subdirs: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue  # hidden files, uploads in progress
            child = f"{rel}/{entry.name}" if rel else entry.name
            try:
                if entry.is_symlink():
                    report.misfits.append((child, "symbolic link (never followed)"))
                elif entry.is_dir(follow_symlinks=False):
                    subdirs.append(child)
                elif entry.is_file(follow_symlinks=False):
                    row, reason = self._classify(child, entry.stat(follow_symlinks=False))
                    if row is None:
                        report.misfits.append((child, reason))
                    else:
                        rows.append(row)
                else:
                    report.misfits.append((child, "not a regular file"))
            except OSError as error:
                report.misfits.append((child, f"cannot read: {error.strerror or error}"))
        return rows, subdirs

    def _rescan_dir(self, rel: str, report: ScanReport) -> None:
        rows, subdirs = self._list_dir(rel, report)
        if rows is None:
            self._forget_tree(rel)
            return
        known_subdirs = {d for d in self._dirs if d != rel and d.rpartition("/")[0] == rel}
        with self.cursor() as cur:
            _keep_md5(cur, rel, rows)
            cur.execute("DELETE FROM files WHERE dir = ?", (rel,))
            cur.executemany(_INSERT, rows)
        for gone in known_subdirs - set(subdirs):
            self._forget_tree(gone)
        for new in set(subdirs) - known_subdirs:
            self._scan_tree(new, report)

    def _forget_tree(self, rel: str) -> None:
        prefix = rel + "/"
        for folder in [d for d in self._dirs if d == rel or d.startswith(prefix)]:
            del self._dirs[folder]
        with self.cursor() as cur:
            cur.execute(
                "DELETE FROM files WHERE dir = ? OR substr(dir, 1, ?) = ?",
                (rel, len(prefix), prefix),
            )

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

        name = PurePosixPath(rel).name
        parsed = parse(name)
        if parsed.key != rel:
            raise ValueError(f"belongs at {parsed.key}")
        return row_for(parsed, size=info.st_size, mtime_ns=info.st_mtime_ns)


_KEY, _SIZE, _MTIME, _MD5 = (_COLUMNS.index(c) for c in ("key", "size", "mtime_ns", "md5"))


def _keep_md5(cur: sqlite3.Cursor, folder: str, rows: list[list[Any]]) -> None:
    """Carry known MD5s over to fresh rows of files that did not change."""
    known = {
        key: (size, mtime_ns, md5)
        for key, size, mtime_ns, md5 in cur.execute(
            "SELECT key, size, mtime_ns, md5 FROM files WHERE dir = ? AND md5 IS NOT NULL",
            (folder,),
        )
    }
    for row in rows:
        old = known.get(row[_KEY])
        if old and old[:2] == (row[_SIZE], row[_MTIME]):
            row[_MD5] = old[2]


def row_for(parsed: Any, *, size: int, mtime_ns: int, md5: str | None = None) -> list[Any]:
    """The catalogue row (column order of _COLUMNS) for a parsed IMAPName."""
    ingested_at = dt.datetime.fromtimestamp(mtime_ns // 1_000_000_000, UTC)
    ingested = float(mtime_ns // 1_000_000_000)  # S3's LastModified has whole seconds
    ingestion_text = ingested_at.strftime("%Y%m%d %H:%M:%S")
    values: dict[str, Any] = dict.fromkeys(_COLUMNS)  # what a kind lacks stays null
    values.update(
        key=parsed.key,
        dir=parsed.key.rpartition("/")[0],
        name=parsed.name,
        kind=parsed.kind,
        instrument=parsed.instrument,
        data_level=parsed.data_level,
        descriptor=parsed.descriptor,
        start_date=_ymd(parsed.start_date),
        end_date=_ymd(parsed.end_date),
        repointing=parsed.repointing,
        cr=parsed.cr,
        version=parsed.version,
        extension=parsed.extension,
        ingested=ingested,
        ingestion_day=ingestion_text[:8],
        ingestion_text=ingestion_text,
        size=size,
        mtime_ns=mtime_ns,
        md5=md5,
    )
    kind = parsed.kind
    if kind in ("science", "quicklook", "dependency"):
        _science_values(parsed, values)
    elif kind == "ancillary":
        values["tbl"] = "ancillary"
        values["row_json"] = _record(
            "ancillary",
            {
                "file_path": parsed.key,
                "instrument": parsed.instrument,
                "descriptor": parsed.descriptor,
                "start_date": values["start_date"],
                "end_date": values["end_date"],
                "version": parsed.version,
                "extension": parsed.extension,
                "ingestion_date": ingestion_text,
                "released": True,
            },
        )
    elif kind == "spice":
        _spice_values(parsed, values, ingested_at, ingested)
    return [values[c] for c in _COLUMNS]


def _record(table: str, fields: dict[str, Any]) -> str:
    """A row's JSON as the SDC sends it: the table's record fields, in their order (null
    where not given)."""
    names = RECORD_FIELDS[table]
    unknown = fields.keys() - set(names)
    if unknown:
        raise ValueError(f"not a field of the SDC's {table} records: {sorted(unknown)}")
    return json.dumps({name: fields.get(name) for name in names})


def _science_values(parsed: Any, values: dict[str, Any]) -> None:
    # The SDC stores a legacy vXXX science file as major 1, minor XXX.
    major = parsed.major_version if parsed.major_version is not None else 1
    minor = parsed.minor_version
    if minor is None and parsed.version:
        minor = int(parsed.version.lstrip("vV").split(".")[-1])
    values.update(major=major, minor=minor)
    if parsed.kind == "dependency":
        return
    values["tbl"] = parsed.kind
    values["row_json"] = _record(
        parsed.kind,
        {
            "file_path": parsed.key,
            "instrument": parsed.instrument,
            "data_level": parsed.data_level,
            "descriptor": parsed.descriptor,
            "start_date": values["start_date"],
            "repointing": parsed.repointing,
            "major_version": major,
            "minor_version": minor,
            "version": f"v{major:03d}.{minor:04d}",
            "extension": parsed.extension,
            "ingestion_date": values["ingestion_text"],
            "cr": parsed.cr,
            "released": True,
        },
    )


def _spice_values(parsed: Any, values: dict[str, Any], ingested_at: dt.datetime, ingested: float):
    info = spice.kernel_info(parsed.name)
    kernel_type = parsed.spice_type
    start_et, end_et = spice.tdb_seconds(info.start), spice.tdb_seconds(info.end)
    values.update(
        kernel_type=kernel_type,
        file_root=info.file_root,
        kversion=info.version,
        min_et=start_et,
        max_et=end_et,
        start_ts=info.start.timestamp(),
        end_ts=(info.end - dt.timedelta(days=1)).timestamp(),
    )
    ingestion = _dash_datetime(ingested_at)
    if kernel_type in spice.NON_SPICE_TYPES:
        values["tbl"] = kernel_type
        row: dict[str, Any] = {"file_path": parsed.key}
        if info.has_start:
            row["start_date"] = _dash_datetime(info.start)
        row["end_date"] = _dash_datetime(info.end - dt.timedelta(days=1))
        row["version"] = info.version_text
        row["ingestion_date"] = ingestion
        values["row_json"] = json.dumps(row)
        return
    values["tbl"] = "spice"
    values["row_json"] = _record(
        "spice",
        {
            "file_name": f"{parsed.spice_subdir}/{parsed.name}",
            "file_root": info.file_root,
            "kernel_type": kernel_type,
            "version": info.version,
            "min_date_j2000": start_et,
            "max_date_j2000": end_et,
            "file_intervals_j2000": [[start_et, end_et]],
            "min_date_datetime": _dash_datetime(info.start),
            "max_date_datetime": _dash_datetime(info.end),
            "file_intervals_datetime": [[_iso(info.start), _iso(info.end)]],
            "ingestion_date": ingestion,
            "timestamp": ingested,
        },
    )
