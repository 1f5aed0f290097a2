"""Where the catalogue is kept, and how threads and processes share it.

The catalogue is a SQLite file: `ROOT/.imap-serve/catalogue.sqlite3` (a hidden folder, never
served; mode 0700, since it also holds what the server learned), or, when the archive cannot be
written, `<user cache dir>/serve/<hash of ROOT>/catalogue.sqlite3`. It survives restarts: a
restart re-lists only the folders that changed, and released state is never lost.

WAL mode: readers never wait for a writer. Writers (scans, uploads, releases) hold one lock across
the threads of a process (an RLock) and across processes (flock on `catalogue.lock` beside the
file, where the platform has it), so that several gunicorn workers can share one catalogue.
Connections come from a small pool; after a fork the child opens its own (a SQLite connection
must never cross a fork).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

STATE_DIR = ".imap-serve"
FILE_NAME = "catalogue.sqlite3"
SCHEMA_VERSION = "1"
BUSY_MS = 60_000  # a writer waits this long for another process's transaction
IDLE_CONNECTIONS = 8

_FILES = """
CREATE TABLE IF NOT EXISTS files (
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
-- A series' files, and in it each day's versions: what ranking versions looks up per row.
DROP INDEX IF EXISTS files_series;
CREATE INDEX IF NOT EXISTS files_rank
    ON files (tbl, instrument, data_level, descriptor, start_date, repointing, major);
-- Date windows across instruments (how large queries are split) read only their days.
CREATE INDEX IF NOT EXISTS files_day ON files (tbl, start_date);
CREATE INDEX IF NOT EXISTS files_dir ON files (dir);
CREATE TABLE IF NOT EXISTS dirs (rel TEXT PRIMARY KEY, parent TEXT, mtime_ns INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS dirs_parent ON dirs (parent);
"""
# Kept across schema changes and re-indexes: what the server learned and cannot re-learn.
_KEPT = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS unreleased (key TEXT PRIMARY KEY);
"""


def default_location(root: Path) -> Path:
    """The catalogue file for `root`: beside the archive when it can be written, else in the
    user cache dir."""
    state = root / STATE_DIR
    with contextlib.suppress(OSError):
        state.mkdir(mode=0o700, exist_ok=True)
    file = state / FILE_NAME
    if os.access(state, os.W_OK | os.X_OK) and (not file.exists() or os.access(file, os.W_OK)):
        return file
    import platformdirs

    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    cache = Path(platformdirs.user_cache_dir("imap-cli", appauthor=False))
    return cache / "serve" / digest / FILE_NAME


def _script(cur: sqlite3.Cursor, script: str) -> None:
    """Run `;`-separated statements inside the current transaction (executescript commits)."""
    for statement in script.split(";"):
        if statement.strip():
            cur.execute(statement)


class Store:
    """One catalogue file: pooled connections, one writer at a time across processes."""

    def __init__(self, path: Path, *, writer_version: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._reset()
        with self.writing() as cur:
            _script(cur, _KEPT)
            if (
                self.meta(cur, "schema") != SCHEMA_VERSION
                or self.meta(cur, "writer") != writer_version
            ):
                # Rows are built by this version's code: rebuild them (released state stays).
                cur.execute("DROP TABLE IF EXISTS files")
                cur.execute("DROP TABLE IF EXISTS dirs")
                self.set_meta(cur, "complete", "0")
            _script(cur, _FILES)
            self.set_meta(cur, "schema", SCHEMA_VERSION)
            self.set_meta(cur, "writer", writer_version)

    def _reset(self) -> None:
        """Fresh locks and pool for this process (at start, and in a forked child)."""
        self._pid = os.getpid()
        self._lock = threading.RLock()
        self._local = threading.local()
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._index_lock = threading.RLock()
        self._lock_files: dict[str, int] = {}

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            self._reset()  # the parent's connections are left alone, never closed here

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self.path), timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        self._check_fork()
        with self._pool_lock:
            conn = self._pool.pop() if self._pool else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            with self._pool_lock:
                if len(self._pool) < IDLE_CONNECTIONS:
                    self._pool.append(conn)
                    conn = None
            if conn is not None:
                conn.close()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[sqlite3.Cursor]:
        """A cursor for reading (inside writing(): the writer's, which sees its changes)."""
        current = getattr(self._local, "cursor", None)
        if current is not None and os.getpid() == self._pid:
            yield current
            return
        with self._connection() as conn:
            cur = conn.cursor()
            try:
                yield cur
            finally:
                cur.close()

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Cursor]:
        """A cursor in a write transaction, committed at the end (rolled back on an error);
        one writer at a time in all processes. Re-entrant in one thread."""
        self._check_fork()
        current = getattr(self._local, "cursor", None)
        if current is not None:
            yield current
            return
        with self._lock, self._file_lock("lock"), self._connection() as conn:
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            self._local.cursor = cur
            try:
                yield cur
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._local.cursor = None
                cur.close()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """One indexer at a time in all processes (writers still get turns in between)."""
        self._check_fork()
        with self._index_lock, self._file_lock("index-lock"):
            yield

    @contextlib.contextmanager
    def _file_lock(self, suffix: str) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # Windows: one process per catalogue
            yield
            return
        fd = self._lock_files.get(suffix)
        if fd is None:
            where = self.path.with_suffix(f".{suffix}")
            fd = self._lock_files[suffix] = os.open(where, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @staticmethod
    def meta(cur: sqlite3.Cursor, name: str) -> str | None:
        """A value of the meta table (None: not set)."""
        found = cur.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return found[0] if found else None

    @staticmethod
    def set_meta(cur: sqlite3.Cursor, name: str, value: str) -> None:
        """Set a value of the meta table."""
        cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def secret(self, name: str) -> bytes:
        """A random secret kept in the catalogue, the same for every process that asks."""
        import secrets

        with self.writing() as cur:
            cur.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (name, secrets.token_hex(32)))
            return bytes.fromhex(self.meta(cur, name) or "")
