"""One object's fetch: stream it into a unique `.part` beside its place, check size and MD5,
fsync, `os.replace` onto the final name. A dropped connection resumes with `Range` + `If-Range`;
what arrived when it stops short is kept for the next run (core.download.partials)."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imap_cli.core.download.datadir import Planned, open_part, part_path
from imap_cli.core.download.partials import (
    claim,
    clean_stale,
    etag_tag,
    release,
    remove_partials,
)
from imap_cli.core.errors import ConnectionFailed, IMAPError, IntegrityError, SDCError
from imap_cli.core.objects import (
    CHUNK,
    REQUEST_ERRORS,
    content_length,
    content_range,
    file_md5,
    network_failure,
    plain_md5,
    probe,
    strong_etag,
)
from imap_cli.core.retry import TransferCancelled
from imap_cli.core.transfer import EventSink, Stage, TransferEvent, TransferRun, redact_urls

if TYPE_CHECKING:
    import requests

    from imap_cli.core.http import SDCClient

# Start writeback of what was written every this many bytes, so the final fsync is short.
WRITEBACK_EVERY = 8 << 20
# Labels in error messages: the same for every file, so one outage reads as one error.
FETCH_WHAT = "download"
# Whole-file restarts (bad checksum, odd range) before giving up: each costs the full size.
MAX_RESTARTS = 2


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


# What a read from a dropped or stalled connection raises (not a disk error: those fail the file).
READ_ERRORS = (*REQUEST_ERRORS, http.client.HTTPException, ConnectionError, TimeoutError)


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
    path: Path | None = None  # the .part (renamed when its ETag is known)
    tag: str | None = None  # the ETag tag in the .part's name

    def reset(self) -> int:
        """Back to zero bytes; returns how many were thrown away."""
        lost = self.offset
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.ftruncate(self.fd, 0)
        self.offset = self.flushed = self.kept = 0
        self.digest = hashlib.md5(usedforsecurity=False) if self.md5_expected else None
        return lost


class Fetcher:
    """Fetches objects one at a time per worker, for one download run.

    What the run's workers share: the `.part`s being written (removed on Ctrl-C), what was kept
    for the next run, and the folders tidied. `lookup(key)` asks the SDC for an object URL
    again, when a presigned one expired.
    """

    def __init__(
        self,
        sdc: SDCClient,
        run: TransferRun,
        emit: EventSink,
        lookup: Callable[[str], str],
        *,
        force: bool,
    ) -> None:
        self.sdc = sdc
        self.run = run
        self.cancel = run.cancel
        self.emit = emit
        self.lookup = lookup
        self.force = force
        self.parts: set[Path] = set()
        # (key, bytes) of what this run kept for the next one, and the folders tidied.
        self.kept: list[tuple[str, int]] = []
        # key -> bytes an earlier run kept that this one continued from (not fetched again)
        self.resumed: dict[str, int] = {}
        self._tidied: dict[Path, bool] = {}  # folder -> holds partials (after tidying)

    def storage(self, method: str, url: str, **options: Any) -> requests.Response:
        """SDCClient.storage, with request errors it lets through reported as network failures."""
        try:
            return self.sdc.storage(method, url, what=FETCH_WHAT, **options)
        except REQUEST_ERRORS as exc:
            raise network_failure(exc, url, FETCH_WHAT) from None

    def verify(self, item: Planned, url: str) -> str:
        """Compare a present file with the object: '' when the same, else why to fetch again."""
        for refresh in range(2):
            try:
                found = probe(self.sdc, url, what=FETCH_WHAT)
            except REQUEST_ERRORS as exc:
                raise network_failure(exc, url, FETCH_WHAT) from None
            except SDCError as error:
                if error.status == 403 and refresh == 0:
                    url = self.lookup(item.key)  # the link expired while queued
                    continue
                raise
            break
        local = item.dest.stat().st_size
        if found.size is not None and found.size != local:
            return f"size differs: {local} bytes here, {found.size} at the SDC"
        expected = plain_md5(found.etag)
        if expected and file_md5(item.dest) != expected:
            return "checksum differs from the SDC's ETag"
        return ""

    def fetch(self, item: Planned, url: str) -> int:
        """Stream one object to a .part, check it, fsync, and move it onto the final name.

        A partial kept by an earlier run is continued; when this one stops short, what
        arrived is kept for the next run (see the module's docstring).
        """
        folder = item.dest.parent
        with self.run.hold():  # from here until the .part is settled, Ctrl-C waits (a little)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                resumable = self._tidy(folder)
                claimed = None if self.force or not resumable else claim(item.dest)
                if claimed is not None:
                    fd, part, kept = claimed
                    size = os.lseek(fd, 0, os.SEEK_END)
                    body = _Body(
                        fd, offset=size, etag=kept.etag, validator=kept.etag, kept=size, path=part
                    )
                else:
                    fd, part = open_part(item.dest)
                    body = _Body(fd, path=part)
            except OSError as exc:
                raise _write_error(f"in {folder}", exc) from None
            with self.run.lock:
                self.parts.add(part)
            done = False
            body.tag = etag_tag(body.etag)
            try:
                try:
                    self._stream(item, url, body)
                    os.fsync(fd)
                finally:
                    self._settle_fd(body)
                    os.close(fd)
                    part = body.path or part  # renamed once the object's ETag was known
                if self.cancel.is_set():
                    raise TransferCancelled
                os.replace(part, item.dest)
                done = True
                remove_partials(item.dest)
                return body.offset
            except REQUEST_ERRORS as exc:  # before OSError: requests' errors are OSErrors too
                raise network_failure(exc, url, FETCH_WHAT) from None
            except OSError as exc:
                raise _write_error(str(item.dest), exc) from None
            except BaseException as exc:
                if not done and self._keep(item, part, body) and isinstance(exc, IMAPError):
                    exc.hint = (
                        f"{body.offset:,} bytes were kept: run the same command again to "
                        "continue this file."
                    )
                    exc.template += f" ({body.offset:,} bytes kept for the next run)"
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
        if release(item.dest, part, body.etag, body.offset):
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
            response = self.storage("GET", url, headers=headers, stream=True)
            try:
                with self.run.live(response):  # Ctrl-C shuts its socket; closed after
                    if response.status_code == 403 and refreshes < 2:
                        refreshes += 1  # a presigned URL that expired while it waited: ask again
                        url = self.lookup(item.key)
                        continue
                    self._take_response(item, response, body)
                    self._label(item, body)
                    self._copy(item, response, body)
                    self._check_complete(body)
                    return
            except _Dropped as why:
                stalls = 0 if body.offset > before else stalls + 1
                if stalls > self.sdc.retries:
                    raise ConnectionFailed(
                        f"{FETCH_WHAT}: the connection kept dropping ({stalls} attempts in a "
                        f"row without progress, {body.offset} of {body.total or '?'} bytes): "
                        f"{why}",
                        "Retry later.",
                    ) from None
                self._retry(item.key, body.total, f"resuming: {why}")
                if body.path is not None:
                    with contextlib.suppress(OSError):
                        os.utime(body.path)  # alive: not to be taken for a dead process's
                self.sdc.retry.wait(max(0, stalls - 1))
            except _Restart as why:
                restarts += 1
                if restarts > MAX_RESTARTS:
                    body.reset()  # nothing of it is worth keeping
                    raise IntegrityError(f"{FETCH_WHAT}: {why}") from None
                started = body.started
                lost = body.reset()
                self._retry(item.key, body.total, str(why), -lost if started else 0)

    def _label(self, item: Planned, body: _Body) -> None:
        """Name the `.part` after the ETag its bytes belong to (before the first byte), so a
        run after a SIGKILL or a crash can continue it (core.download.partials)."""
        tag = etag_tag(body.etag)
        old = body.path
        if old is None or tag == body.tag:
            return
        new = part_path(item.dest, tag)
        try:
            os.rename(old, new)
        except OSError:
            return  # continuable only while it runs: a run after a crash removes it
        body.path, body.tag = new, tag
        with self.run.lock:
            self.parts.discard(old)
            self.parts.add(new)

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
            found = content_range(response)
            if body.kept and not body.started and found and found[0] == body.offset:
                self._continue_kept(item, response, body, found[1])
                return
            if body.offset and found and found[0] == body.offset and found[1] in (None, body.total):
                return  # the rest of the same object: append, keep hashing
            raise _Restart("the storage host answered the resume with a different range")
        if body.offset:
            # A 200 to a Range request: the object changed or ranges are unsupported.
            lost = body.reset()
            self.resumed.pop(item.key, None)  # fetched whole after all
            if body.started:
                reason = "the storage host sent the whole file again; restarting"
                self._retry(item.key, content_length(response), reason, -lost)
        body.total = content_length(response)
        self._take_validators(response, body)
        body.digest = hashlib.md5(usedforsecurity=False) if body.md5_expected else None
        if not body.started:
            body.started = True
            self.emit(TransferEvent(Stage.STARTED, item.key, total=body.total))

    @staticmethod
    def _take_validators(response: requests.Response, body: _Body) -> None:
        body.md5_expected = plain_md5(response.headers.get("ETag"))
        body.etag = strong_etag(response)
        # What If-Range may carry: a strong ETag, else Last-Modified.
        body.validator = body.etag or response.headers.get("Last-Modified")

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
        reason = f"continuing from the {body.offset:,} bytes an earlier run kept"
        self._retry(item.key, body.total, reason, body.offset)
        self.resumed[item.key] = body.offset

    def _retry(self, key: str, total: int | None, reason: str, advance: int = 0) -> None:
        """Tell the progress line the file goes on (`advance` corrects the bytes shown)."""
        self.emit(TransferEvent(Stage.RETRY, key, total=total, advance=advance, reason=reason))

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
            except READ_ERRORS as exc:
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


def _write_error(where: str, exc: OSError) -> IMAPError:
    return IMAPError(
        f"cannot write {where}: {exc.strerror or exc}",
        "Check the data dir's permissions and free space.",
    )


def _short(exc: BaseException) -> str:
    text = redact_urls(str(exc))
    found = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)", text)
    if found:
        return f"connection closed with {found.group(2)} bytes still to come"
    if "Read timed out" in text:
        return "read timed out"
    text = " ".join(text.split())
    return (text[:160] + "…") if len(text) > 160 else (text or type(exc).__name__)
