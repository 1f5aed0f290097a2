"""Downloads: plan each file (fetch or skip), fetch one safely, fetch many in parallel.

The pipeline has two stages joined by a bounded hand-off:

* resolvers (a small pool of threads) ask the SDC for each file's object URL
  (`GET /download/<key>`, a 302 we do not follow) and, with `verify`, compare a file already
  present with the object's size and ETag;
* transfer workers (`jobs` threads) stream the bytes from the object host into a unique
  `.part` beside the destination, check size and MD5, fsync and `os.replace`.

With many small files the SDC round trip (tens to hundreds of ms) dominates, so resolvers run
ahead of the transfers and a transfer slot never waits for one. All threads share the one
connection pool of the SDCClient. Threads are daemons and watch a cancel flag, so Ctrl-C
returns at once.

What arrived is kept across runs. A transfer writes to its own `<name>.<token>.part`; when it
stops before the end (Ctrl-C, a failure) and the object has a strong ETag, the part is renamed
to `<name>.<tag>.partial` (the tag encodes the ETag). The next run claims such a partial by
renaming it to its own `.part` (a rename is atomic on NFS and Lustre, where locks are not to be
trusted: of two processes, one wins and the other starts afresh), then asks for the rest with
`Range` + `If-Range: <ETag>`, so a changed object comes back whole and restarts cleanly. No
partial ever has the final name; old ones are removed after STALE_PARTIAL seconds.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from imap_cli.core.errors import (
    BadResponse,
    ConnectionFailed,
    DataDirError,
    Failure,
    IMAPError,
    IntegrityError,
    InvalidName,
    Refused,
    Unavailable,
    UnsafeRequest,
)
from imap_cli.core.naming import IMAPName, parse_key
from imap_cli.core.transfer import (
    EventSink,
    FileResult,
    GuardedSink,
    Stage,
    TransferCancelled,
    TransferEvent,
    TransferRun,
    ignore_events,
    redact_urls,
)

if TYPE_CHECKING:
    import requests

    from imap_cli.core.http import SDCClient

# Most bytes taken from the socket at once. Measured on loopback against nginx: 1 MiB keeps one
# core well ahead of the disk; 4-8 MiB gained nothing measurable and cost RSS.
CHUNK = 1 << 20
# Start writeback of what was written every this many bytes, so the final fsync is short.
WRITEBACK_EVERY = 8 << 20
# The SDC's answers to GET /download/<key> that carry the object URL.
RESOLVE_OK = (200, 301, 302, 303, 307, 308)
# Labels in error messages: the same for every file, so one outage reads as one error.
RESOLVE_WHAT = "SDC download link"
FETCH_WHAT = "download"
# Whole-file restarts (bad checksum, odd range) before giving up: each costs the full size.
MAX_RESTARTS = 2
# The longest file name most filesystems take, in bytes; a part file's name must fit too.
NAME_MAX = 255
# How long Ctrl-C waits for transfers to remove their .part before removing it for them.
INTERRUPT_GRACE = 3.0
# A kept partial (what arrived of an object with a strong ETag) is removed after this long
# unused; a `.part` nobody has written to for STALE_PART belongs to a process that died.
STALE_PARTIAL = 7 * 86400
STALE_PART = 86400
PARTIAL_SUFFIX = ".partial"
_MD5_ETAG = re.compile(r"[0-9a-fA-F]{32}")
_PLAIN_TAG = re.compile(r"[0-9A-Za-z-]{1,80}")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class InvalidNames(InvalidName):
    """One or more inputs are not IMAP names; `problems` lists (input, reason) for each."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        count = len(problems)
        shown = "; ".join(
            reason if text in reason else f"{text!r}: {reason}" for text, reason in problems[:5]
        )
        more = f"; and {count - 5} more" if count > 5 else ""
        noun = "name is" if count == 1 else "names are"
        super().__init__(f"{count} {noun} not valid, nothing was downloaded: {shown}{more}")
        self.problems = problems


@dataclass(frozen=True)
class Planned:
    """One file to consider: its name, where it goes, and whether a copy is already there."""

    index: int
    name: IMAPName
    dest: Path
    present: bool

    @property
    def key(self) -> str:
        """The SDC key."""
        return self.name.key


# --- inputs --------------------------------------------------------------------------------


def parse_items(items: Iterable[str]) -> list[IMAPName]:
    """Classify every input (SDC key or filename); duplicates collapse, in first-seen order.

    Raises InvalidNames listing every bad input, so nothing is fetched for a typo.
    """
    names: dict[str, IMAPName] = {}
    problems: list[tuple[str, str]] = []
    for item in items:
        text = str(item).strip()
        try:
            name = parse_key(text)
        except InvalidName as exc:
            problems.append((text, exc.message))
            continue
        names.setdefault(name.key, name)
    if problems:
        raise InvalidNames(problems)
    return list(names.values())


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


def plan(names: Iterable[IMAPName], data_dir: Path) -> list[Planned]:
    """Where each file goes and whether a non-empty copy is already there."""
    out = []
    for index, name in enumerate(names):
        dest = destination(data_dir, name.key)
        try:
            present = dest.is_file() and dest.stat().st_size > 0
        except OSError:
            present = False
        out.append(Planned(index, name, dest, present))
    return out


def plain_md5(etag: str | None) -> str | None:
    """The MD5 in an ETag, when it is one: S3 multipart ETags ("abc-3") and weak ones are not."""
    if not etag:
        return None
    value = etag.strip()
    if value.startswith("W/"):
        return None
    value = value.strip('"')
    return value.lower() if _MD5_ETAG.fullmatch(value) else None


def file_md5(path: Path) -> str:
    """The MD5 of a local file, read in big chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- the SDC side ----------------------------------------------------------------------------


def object_url(sdc: SDCClient, key: str) -> str:
    """Ask the SDC where the bytes are: the 302's Location, or the body's `download_url`.

    The redirect is not followed here: the credential stays with the SDC, and the object
    host is then called by `SDCClient.storage` without it.
    """
    api_url = sdc.api_url("download", key)
    try:
        response = sdc.api("GET", api_url, ok=RESOLVE_OK, what=RESOLVE_WHAT)
    except Refused as error:
        # "...is not a part of a public release yet."; and without a key or token the public
        # route is all there is, so a bare 403 there means the same thing.
        public = not sdc.credential_headers()
        if "release" in error.message.lower() or (public and error.status == 403):
            error.kind = Failure.NOT_RELEASED
            error.hint = (
                "The file is not publicly released yet. With an SDC API key "
                "(`imap config set api-key KEY`) unreleased files can be fetched; otherwise ask "
                "imap-sdc@lasp.colorado.edu when it will be."
            )
        raise
    try:
        location = response.headers.get("Location")
        if not location:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("download_url"), str):
                location = body["download_url"]
    finally:
        response.close()
    if not location:
        raise BadResponse(
            f"{RESOLVE_WHAT}: the SDC answered {response.status_code} without a download URL"
        )
    url = urljoin(api_url, location.strip())
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise BadResponse(f"{RESOLVE_WHAT}: the SDC sent a download URL that is not http(s)")
    return url


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length", "")
    return int(value) if value.strip().isdigit() else None


def _content_range(response: requests.Response) -> tuple[int, int | None] | None:
    """(first byte, total or None) from a 206's Content-Range."""
    found = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if not found:
        return None
    total = None if found.group(3) == "*" else int(found.group(3))
    return int(found.group(1)), total


def _strong_validator(response: requests.Response) -> str | None:
    """What If-Range may carry: a strong ETag, else Last-Modified."""
    etag = response.headers.get("ETag")
    if etag and not etag.strip().startswith("W/"):
        return etag.strip()
    return response.headers.get("Last-Modified")


# --- writing ------------------------------------------------------------------------------


def _libc_sync_file_range() -> Callable[[int, int, int], None] | None:
    """Linux's sync_file_range(SYNC_FILE_RANGE_WRITE): start writeback without waiting."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    func.restype = ctypes.c_int
    write_flag = 2  # SYNC_FILE_RANGE_WRITE

    def start_writeback(fd: int, offset: int, length: int) -> None:
        func(fd, offset, length, write_flag)  # advisory: a failure only costs speed

    return start_writeback


_start_writeback = _libc_sync_file_range()


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


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


def _open_part(dest: Path) -> tuple[int, Path]:
    """Create a part file beside dest, exclusively (two processes never share one)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(20):
        part = dest.with_name(part_name(dest.name, secrets.token_hex(4)))
        try:
            return os.open(part, flags, 0o666), part
        except FileExistsError:
            continue
    raise IMAPError(f"cannot create a temporary file beside {dest}")  # pragma: no cover


# --- kept partials -------------------------------------------------------------------------


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
    """Remove partials unused for STALE_PARTIAL and orphaned `.part`s; returns how many (with
    `count_kept`: how many partials are left)."""
    now = time.time() if now is None else now
    removed = kept = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        if name.endswith(PARTIAL_SUFFIX):
            limit = STALE_PARTIAL
        elif name.endswith(".part"):
            limit = STALE_PART
        else:
            continue
        with contextlib.suppress(OSError):
            if now - entry.stat(follow_symlinks=False).st_mtime > limit:
                os.unlink(entry.path)
                removed += 1
            elif limit == STALE_PARTIAL:
                kept += 1
    return kept if count_kept else removed


def _claim(dest: Path) -> tuple[int, Path, KeptPartial] | None:
    """Take the largest kept partial of dest for this process: rename it to our own `.part`.

    The rename is the claim: two processes cannot both win it, on NFS or Lustre either, so a
    partial is never written by two at once. Returns None when there is none to take.
    """
    flags = os.O_WRONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    for kept in kept_partials(dest):
        part = dest.with_name(part_name(dest.name, secrets.token_hex(4)))
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


def _release(dest: Path, part: Path, etag: str | None, size: int) -> bool:
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


# --- shards --------------------------------------------------------------------------------


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """`K/N` (1 <= K <= N) -> (K, N); None for None. Raises UsageError otherwise."""
    if text is None or str(text).strip() == "":
        return None
    from imap_cli.core.errors import UsageError

    found = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", str(text))
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise UsageError(
            f"{text!r} is not a shard: use K/N with 1 <= K <= N, e.g. 2/8",
            "In a Slurm array started with --array=1-N: --shard "
            "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT.",
        )
    return int(found.group(1)), int(found.group(2))


def shard_of(key: str, count: int) -> int:
    """The shard (1..count) a key belongs to: a hash of the key, the same on every host."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Whether a key is in shard (K, N); everything is in shard None."""
    return shard is None or shard_of(key, shard[1]) == shard[0]


def _read_errors() -> tuple[type[BaseException], ...]:
    import requests
    import urllib3

    return (  # the first two are also _REQUEST_ERRORS
        urllib3.exceptions.HTTPError,
        requests.exceptions.RequestException,
        http.client.HTTPException,
        ConnectionError,
        TimeoutError,
    )


# What a read from a dropped or stalled connection raises (not a disk error: those fail the file).
_READ_ERRORS = _read_errors()
# What a request that failed outright raises (an unusable URL...). requests' errors subclass
# OSError, so they are told apart from disk errors before those are caught.
_REQUEST_ERRORS = _READ_ERRORS[:2]


class _Dropped(Exception):
    """The body stopped before its end: resume with Range."""


class _Restart(Exception):
    """The bytes so far cannot be trusted or continued: start the file again from zero."""


@dataclass
class _Body:
    """The state of one file's bytes across attempts."""

    fd: int
    offset: int = 0
    total: int | None = None
    md5_expected: str | None = None
    digest: Any = None
    validator: str | None = None
    flushed: int = 0
    started: bool = False
    etag: str | None = None  # the strong ETag of the object the bytes so far belong to
    kept: int = 0  # bytes taken over from an earlier run's partial
    path: Path | None = None  # the .part, to read the kept bytes back for the MD5

    def reset(self) -> int:
        """Back to zero bytes; returns how many were thrown away."""
        lost = self.offset
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.ftruncate(self.fd, 0)
        self.offset = self.flushed = self.kept = 0
        self.digest = hashlib.md5(usedforsecurity=False) if self.md5_expected else None
        return lost


# --- the run ----------------------------------------------------------------------------------


def resolver_count(jobs: int) -> int:
    """Threads asking the SDC for object URLs: enough to hide its latency, within the pool."""
    return max(4, min(2 * jobs, 32))


def _pool_size(sdc: SDCClient) -> int:
    """Connections the client keeps per host: more threads than this would churn them."""
    try:
        adapter = sdc.session.get_adapter(sdc.base_url)
    except Exception:  # a test double without adapters
        return 10
    return int(getattr(adapter, "_pool_maxsize", 10))


class _Run:
    """One call of download_files: what its workers share beyond the TransferRun."""

    def __init__(
        self,
        sdc: SDCClient,
        *,
        jobs: int,
        force: bool,
        verify: bool,
        dry_run: bool,
        emit: EventSink,
        results: list[FileResult | None],
        pending: int,
    ) -> None:
        self.sdc = sdc
        self.jobs = max(1, jobs)
        self.force = force
        self.verify = verify
        self.dry_run = dry_run
        self.emit = emit
        self.retries = sdc.retries
        # Settles each of the `pending` files once; cancel flag, live responses, Ctrl-C.
        self.run = TransferRun(results, pending, emit)
        self.cancel = self.run.cancel
        self.parts: set[Path] = set()
        # (key, bytes) of what this run kept for the next one, and the folders tidied.
        self.kept: list[tuple[str, int]] = []
        self._tidied: dict[Path, bool] = {}  # folder -> holds partials (after tidying)
        # A failure that is not about one file (the SDC unreachable or failing): the rest fail
        # fast with it instead of each paying for the retries.
        self.fatal: IMAPError | None = None

    # --- orchestration ---

    def execute(self, todo: list[Planned]) -> None:
        """Run every planned file through resolve -> transfer; returns when all are settled."""
        if not todo:
            return
        lookups = min(resolver_count(self.jobs), _pool_size(self.sdc))
        resolvers = self.run.pool(min(lookups, len(todo)), "imap-resolve")
        self.transfers = self.run.pool(min(self.jobs, len(todo)), "imap-transfer")
        # Resolvers may run this far ahead of the transfers, so URLs stay fresh and memory flat.
        self.slots = threading.Semaphore(self.jobs + lookups)
        for item in todo:
            resolvers.submit(lambda item=item: self._resolve_stage(item))
        try:
            # The grace covers only transfers holding a .part: lookups hold nothing.
            self.run.wait(grace=INTERRUPT_GRACE)
        except BaseException:
            with self.run.lock:
                parts = list(self.parts)
            for part in parts:
                # A worker still blocked somewhere: on POSIX the open file can go now.
                with contextlib.suppress(OSError):
                    part.unlink()
            raise
        finally:
            resolvers.stop()
            self.transfers.stop()

    def _finish(self, item: Planned, result: FileResult, event: TransferEvent) -> None:
        self.run.finish(item.index, result, event)

    def _fail(self, item: Planned, error: IMAPError) -> None:
        self._finish(
            item,
            FileResult(item.key, "failed", item.dest, error=error, reason=error.message),
            TransferEvent(Stage.FAILED, item.key, error=error, reason=error.message),
        )

    def _lookup(self, key: str) -> str:
        """object_url, noting an SDC that is down or failing as fatal for the rest of the run."""
        try:
            return object_url(self.sdc, key)
        except Unavailable as error:
            # Unreachable, TLS, 5xx or 429 after the client's retries: not about this file.
            # (A malformed answer, BadResponse, may be about this one file.)
            if not isinstance(error, BadResponse) and self.fatal is None:
                self.fatal = error
            raise

    def _storage(self, method: str, url: str, **options: Any) -> requests.Response:
        """SDCClient.storage, with request errors it lets through reported as network failures."""
        try:
            return self.sdc.storage(method, url, what=FETCH_WHAT, **options)
        except _REQUEST_ERRORS as exc:
            raise _network_failure(exc, url) from None

    # --- stage 1: where are the bytes? ---

    def _resolve_stage(self, item: Planned) -> None:
        if self.fatal is not None:
            self._fail(item, self.fatal)
            return
        while not self.slots.acquire(timeout=0.2):
            if self.cancel.is_set():
                self._fail(item, _interrupted())
                return
        handed_over = False
        try:
            if self.cancel.is_set():
                raise TransferCancelled
            if self.fatal is not None:
                raise self.fatal
            url = self._lookup(item.key)
            reason = ""
            if item.present and not self.force:
                reason = self._verify(item, url)
                if not reason:
                    self._finish(
                        item,
                        FileResult(
                            item.key, "skipped", item.dest, _size(item.dest), None, "verified"
                        ),
                        TransferEvent(Stage.SKIPPED, item.key, reason="verified"),
                    )
                    return
            elif item.present:
                reason = "forced"
            if self.dry_run:
                self._finish(
                    item,
                    FileResult(item.key, "would-download", item.dest, reason=reason),
                    TransferEvent(Stage.SKIPPED, item.key, reason=f"dry run: {reason or 'fetch'}"),
                )
                return
            self.transfers.submit(lambda: self._transfer_stage(item, url, reason))
            handed_over = True
        except IMAPError as error:
            self._fail(item, error)
        except TransferCancelled:
            self._fail(item, _interrupted())
        except Exception as exc:  # a bug must cost one file, not hang the run
            self._fail(item, _unexpected(exc))
        finally:
            if not handed_over:
                self.slots.release()

    def _verify(self, item: Planned, url: str) -> str:
        """Compare a present file with the object: '' when the same, else why to fetch again."""
        for refresh in range(2):
            response = self._storage("GET", url, headers={"Range": "bytes=0-0"}, stream=True)
            try:
                status = response.status_code
                if status == 403 and refresh == 0:
                    url = self._lookup(item.key)  # the link expired while queued
                    continue
                if status == 206:
                    found = _content_range(response)
                    total = found[1] if found else None
                elif status == 200:
                    total = _content_length(response)
                else:
                    raise self.sdc.http_error(response, FETCH_WHAT)
                etag = response.headers.get("ETag")
            finally:
                _close(response)
            break
        local = item.dest.stat().st_size
        if total is not None and total != local:
            return f"size differs: {local} bytes here, {total} at the SDC"
        expected = plain_md5(etag)
        if expected and file_md5(item.dest) != expected:
            return "checksum differs from the SDC's ETag"
        return ""

    # --- stage 2: the bytes ---

    def _transfer_stage(self, item: Planned, url: str, reason: str = "") -> None:
        try:
            if self.cancel.is_set():
                raise TransferCancelled
            size = self._fetch(item, url)
        except IMAPError as error:
            self._fail(item, error)
            return
        except TransferCancelled:
            self._fail(item, _interrupted())
            return
        except Exception as exc:
            self._fail(item, _unexpected(exc))
            return
        finally:
            self.slots.release()
        self._finish(
            item,
            FileResult(item.key, "downloaded", item.dest, size, reason=reason),
            TransferEvent(Stage.DONE, item.key, total=size),
        )

    def _fetch(self, item: Planned, url: str) -> int:
        """Stream one object to a .part, check it, fsync, and move it onto the final name.

        A partial kept by an earlier run is continued; when this one stops short, what
        arrived is kept for the next run (see the module's docstring).
        """
        folder = item.dest.parent
        with self.run.hold():  # from here until the .part is settled, Ctrl-C waits (a little)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                resumable = self._tidy(folder)
                claimed = None if self.force or not resumable else _claim(item.dest)
                if claimed is not None:
                    fd, part, kept = claimed
                    size = os.lseek(fd, 0, os.SEEK_END)
                    body = _Body(
                        fd, offset=size, etag=kept.etag, validator=kept.etag, kept=size, path=part
                    )
                else:
                    fd, part = _open_part(item.dest)
                    body = _Body(fd)
            except OSError as exc:
                raise IMAPError(
                    f"cannot write in {folder}: {exc.strerror or exc}",
                    "Check the data dir's permissions and free space.",
                ) from None
            with self.run.lock:
                self.parts.add(part)
            done = False
            try:
                try:
                    self._stream(item, url, body)
                    os.fsync(fd)
                finally:
                    self._settle_fd(body)
                    os.close(fd)
                if self.cancel.is_set():
                    raise TransferCancelled
                os.replace(part, item.dest)
                done = True
                remove_partials(item.dest)
                return body.offset
            except _REQUEST_ERRORS as exc:  # before OSError: requests' errors are OSErrors too
                raise _network_failure(exc, url) from None
            except OSError as exc:
                raise IMAPError(
                    f"cannot write {item.dest}: {exc.strerror or exc}",
                    "Check the data dir's permissions and free space.",
                ) from None
            except BaseException as exc:
                if not done and self._keep(item, part, body) and isinstance(exc, IMAPError):
                    exc.hint = (
                        f"{body.offset:,} bytes were kept: run the same command again to "
                        "continue this file."
                    )
                    exc.message += f" ({body.offset:,} bytes kept for the next run)"
                raise
            finally:
                with self.run.lock:
                    self.parts.discard(part)
                if not done:
                    with contextlib.suppress(OSError):
                        part.unlink()

    def _tidy(self, folder: Path) -> bool:
        """Once per folder and run: remove partials nobody will continue; then whether the
        folder holds any partial to continue (looking for each file's partials in a folder of
        thousands would cost a listing per file)."""
        with self.run.lock:
            if folder not in self._tidied:
                self._tidied[folder] = clean_stale(folder, count_kept=True) > 0
            return self._tidied[folder]

    @staticmethod
    def _settle_fd(body: _Body) -> None:
        """Cut the file to the bytes known good (a write cut short may have left a tail)."""
        with contextlib.suppress(OSError):
            os.ftruncate(body.fd, body.offset)

    def _keep(self, item: Planned, part: Path, body: _Body) -> bool:
        """Keep what arrived as a partial for the next run; True if something was kept."""
        if not body.offset or body.etag is None:
            return False
        if _release(item.dest, part, body.etag, body.offset):
            with self.run.lock:
                self.kept.append((item.key, body.offset))
            return True
        return False

    def _stream(self, item: Planned, url: str, body: _Body) -> None:
        """Copy the object into body.fd, resuming dropped connections.

        The retry budget counts attempts that brought no new byte: a transfer that keeps
        moving keeps going. Integrity failures restart the whole file, at most MAX_RESTARTS
        times.
        """
        stalls = refreshes = restarts = 0
        while True:
            if self.cancel.is_set():
                raise TransferCancelled
            headers = {}
            if body.offset:
                headers["Range"] = f"bytes={body.offset}-"
                if body.validator:
                    headers["If-Range"] = body.validator
            before = body.offset
            response = self._storage("GET", url, headers=headers, stream=True)
            try:
                with self.run.live(response):  # Ctrl-C shuts its socket; closed after
                    if response.status_code == 403 and refreshes < 2:
                        refreshes += 1  # a presigned URL that expired while it waited: ask again
                        url = self._lookup(item.key)
                        continue
                    self._take_response(item, response, body)
                    self._copy(item, response, body)
                    self._check_complete(body)
                    return
            except _Dropped as why:
                stalls = 0 if body.offset > before else stalls + 1
                if stalls > self.retries:
                    raise ConnectionFailed(
                        f"{FETCH_WHAT}: the connection kept dropping ({stalls} attempts in a "
                        f"row without progress, {body.offset} of {body.total or '?'} bytes): "
                        f"{why}",
                        "Retry later.",
                    ) from None
                self.emit(
                    TransferEvent(
                        Stage.RETRY, item.key, total=body.total, reason=f"resuming: {why}"
                    )
                )
                self.sdc.retry.wait(max(0, stalls - 1))
            except _Restart as why:
                restarts += 1
                if restarts > MAX_RESTARTS:
                    body.reset()  # nothing of it is worth keeping
                    raise IntegrityError(f"{FETCH_WHAT}: {why}") from None
                started = body.started
                lost = body.reset()
                self.emit(
                    TransferEvent(
                        Stage.RETRY,
                        item.key,
                        total=body.total,
                        advance=-lost if started else 0,
                        reason=str(why),
                    )
                )

    def _take_response(self, item: Planned, response: requests.Response, body: _Body) -> None:
        """Check the status and headers; set up (or restart) the body to match."""
        status = response.status_code
        if status == 416 and body.offset:
            if body.kept and not body.started:
                raise _Restart("the partial kept by an earlier run does not fit the object")
            raise IntegrityError(
                f"{FETCH_WHAT}: the storage host announced {body.total} bytes but has only "
                f"{body.offset}",
                "The SDC's copy may be changing or broken; retry later.",
            )
        if status not in (200, 206):
            raise self.sdc.http_error(response, FETCH_WHAT)
        if status == 206:
            found = _content_range(response)
            if body.kept and not body.started and found and found[0] == body.offset:
                self._continue_kept(item, response, body, found[1])
                return
            if body.offset and found and found[0] == body.offset and found[1] in (None, body.total):
                return  # the rest of the same object: append, keep hashing
            raise _Restart("the storage host answered the resume with a different range")
        if body.offset:
            # A 200 to a Range request: the object changed or ranges are unsupported.
            lost = body.reset()
            if body.started:
                self.emit(
                    TransferEvent(
                        Stage.RETRY,
                        item.key,
                        total=_content_length(response),
                        advance=-lost,
                        reason="the storage host sent the whole file again; restarting",
                    )
                )
        body.total = _content_length(response)
        self._take_validators(response, body)
        body.digest = hashlib.md5(usedforsecurity=False) if body.md5_expected else None
        if not body.started:
            body.started = True
            self.emit(TransferEvent(Stage.STARTED, item.key, total=body.total))

    @staticmethod
    def _take_validators(response: requests.Response, body: _Body) -> None:
        etag = response.headers.get("ETag")
        body.md5_expected = plain_md5(etag)
        body.validator = _strong_validator(response)
        body.etag = etag.strip() if etag and not etag.strip().startswith("W/") else None

    def _continue_kept(
        self, item: Planned, response: requests.Response, body: _Body, total: int | None
    ) -> None:
        """The first answer for a partial kept by an earlier run: carry on from its end."""
        body.total = total
        self._take_validators(response, body)
        if body.etag is None:
            body.etag = body.validator = None
            raise _Restart("the storage host's answer has no ETag to continue a partial with")
        if body.md5_expected:
            # The MD5 covers the whole object: hash the kept bytes first (about 1 s per GiB).
            digest = hashlib.md5(usedforsecurity=False)
            assert body.path is not None
            with open(body.path, "rb") as handle:
                left = body.offset
                while left and (chunk := handle.read(min(CHUNK, left))):
                    digest.update(chunk)
                    left -= len(chunk)
            body.digest = digest
        else:
            body.digest = None
        body.flushed = body.offset
        body.started = True
        self.emit(TransferEvent(Stage.STARTED, item.key, total=body.total))
        self.emit(
            TransferEvent(
                Stage.RETRY,
                item.key,
                total=body.total,
                advance=body.offset,
                reason=f"continuing from the {body.offset:,} bytes an earlier run kept",
            )
        )

    def _copy(self, item: Planned, response: requests.Response, body: _Body) -> None:
        """Move bytes from the socket to the file in big chunks, hashing when asked."""
        # read1 hands over whatever has arrived (up to CHUNK): as fast as read() on a fast
        # link (measured), and the bars move on a slow one. urllib3 1.26 lacks it.
        read = getattr(response.raw, "read1", None) or response.raw.read
        fd, digest, cancel, emit, key = body.fd, body.digest, self.cancel, self.emit, item.key
        while True:
            if cancel.is_set():
                raise TransferCancelled
            try:
                chunk = read(CHUNK, decode_content=False)
            except _READ_ERRORS as exc:
                if cancel.is_set():
                    raise TransferCancelled from None
                raise _Dropped(_short(exc)) from None
            if not chunk:
                break
            _write_all(fd, chunk)
            if digest is not None:
                digest.update(chunk)
            body.offset += len(chunk)
            if _start_writeback and body.offset - body.flushed >= WRITEBACK_EVERY:
                _start_writeback(fd, body.flushed, body.offset - body.flushed)
                body.flushed = body.offset
            emit(TransferEvent(Stage.PROGRESS, key, total=body.total, advance=len(chunk)))
        if cancel.is_set():
            raise TransferCancelled

    def _check_complete(self, body: _Body) -> None:
        if body.total is not None and body.offset < body.total:
            raise _Dropped(f"the body ended after {body.offset} of {body.total} bytes")
        if body.total is not None and body.offset > body.total:
            raise _Restart(f"the storage host sent {body.offset} bytes, not {body.total}")
        if body.digest is not None and body.digest.hexdigest() != body.md5_expected:
            raise _Restart(
                f"the checksum of the {body.offset} bytes received does not match the ETag"
            )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _interrupted() -> IMAPError:
    return IMAPError("interrupted")


def _network_failure(exc: Exception, url: str) -> ConnectionFailed:
    """A request to the object host that failed outright, naming the host only: the URL's
    query string holds the presigned signature."""
    host = urlsplit(url).netloc or "the storage host"
    return ConnectionFailed(
        f"{FETCH_WHAT}: network failure with {host} ({type(exc).__name__})",
        "The storage host the SDC points to could not be reached; retry later.",
    )


def _close(response: Any) -> None:
    with contextlib.suppress(Exception):
        response.close()


def _short(exc: BaseException) -> str:
    text = redact_urls(str(exc))
    found = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)", text)
    if found:
        return f"connection closed with {found.group(2)} bytes still to come"
    if "Read timed out" in text:
        return "read timed out"
    text = " ".join(text.split())
    return (text[:160] + "…") if len(text) > 160 else (text or type(exc).__name__)


def _unexpected(exc: Exception) -> IMAPError:
    return IMAPError(
        f"unexpected {type(exc).__name__}: {redact_urls(str(exc))}",
        "This is a bug in imap-sdc-cli; run again with --debug and report it.",
    )


# --- the public call -------------------------------------------------------------------------


def download_files(
    sdc: SDCClient,
    items: list[str],
    *,
    data_dir: Path,
    jobs: int,
    force: bool = False,
    verify: bool = False,
    on_event: EventSink = ignore_events,
    dry_run: bool = False,
    shard: tuple[int, int] | None = None,
) -> list[FileResult]:
    """Download files (SDC keys or filenames) into `<data_dir>/<key>`, `jobs` at a time.

    Returns one FileResult per distinct file, in input order; a file's failure is in its
    result, never raised. Raises InvalidNames (nothing fetched) for bad inputs, DataDirError
    for an unusable data dir, and KeyboardInterrupt after cleaning up when interrupted; its
    `kept` attribute lists (key, bytes) of the partials kept for the next run.
    An `on_event` that raises changes no result; it is not called again in this run (a
    KeyboardInterrupt from it stops the run). `shard` (K, N) takes only the files of shard
    K of N (a stable hash of the key): N hosts with K = 1..N share the work without overlap.
    """
    names = [name for name in parse_items(items) if in_shard(name.key, shard)]
    data_dir = Path(data_dir).expanduser()
    if not (dry_run and not data_dir.exists()):
        data_dir = ensure_data_dir(data_dir)
    planned = plan(names, data_dir)
    results: list[FileResult | None] = [None] * len(planned)
    emit = GuardedSink(on_event)
    for item in planned:
        emit(TransferEvent(Stage.PLANNED, item.key))
    todo = []
    for item in planned:
        if item.present and not force and not verify:
            results[item.index] = FileResult(
                item.key, "skipped", item.dest, _size(item.dest), reason="already present"
            )
            emit(TransferEvent(Stage.SKIPPED, item.key, reason="already present"))
        elif dry_run and not (item.present and verify and not force):
            reason = "forced" if item.present else ""
            results[item.index] = FileResult(item.key, "would-download", item.dest, reason=reason)
            emit(TransferEvent(Stage.SKIPPED, item.key, reason=f"dry run: {reason or 'fetch'}"))
        else:
            todo.append(item)
    run = _Run(
        sdc,
        jobs=jobs,
        force=force,
        verify=verify,
        dry_run=dry_run,
        emit=emit,
        results=results,
        pending=len(todo),
    )
    try:
        run.execute(todo)
    except KeyboardInterrupt as stop:
        with run.run.lock:
            stop.kept = list(run.kept)  # type: ignore[attr-defined]
        raise
    return [r for r in results if r is not None]
