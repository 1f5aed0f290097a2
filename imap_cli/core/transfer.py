"""What downloads and uploads share.

* what they report: progress events while they run, one result per file;
* what they read: the list of names or paths behind `-`;
* how they run: `TransferRun`, worker threads (core.workers) that settle each file exactly once,
  stop at a cancel flag (core.retry), and let Ctrl-C return at once (a thread blocked on a
  stalled host is never waited for, and the sockets under streaming responses are shut down so
  their reads return).
"""

from __future__ import annotations

import array
import contextlib
import enum
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imap_cli.core.errors import IMAPError, add_note, terminal
from imap_cli.core.retry import TransferCancelled
from imap_cli.core.workers import WorkerPool


class Stage(str, enum.Enum):
    """The life of one file in a transfer."""

    PLANNED = "planned"  # known, not started (total may be None)
    STARTED = "started"  # bytes about to flow; total known when the server said so
    PROGRESS = "progress"  # `advance` more bytes moved
    RETRY = "retry"  # a dropped connection; resuming (or restarting: `advance` may be negative)
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class TransferEvent:
    """One thing that happened to one file; emitted from worker threads."""

    stage: Stage
    key: str  # the SDC key: the file's identity everywhere
    total: int | None = None  # bytes expected, when known
    advance: int = 0  # bytes moved since the last event (PROGRESS, RETRY)
    error: IMAPError | None = None  # FAILED
    reason: str = ""  # SKIPPED / RETRY, for people


@dataclass(frozen=True)
class FileResult:
    """How one file's transfer ended."""

    key: str
    status: str  # "downloaded", "uploaded", "skipped", "failed", "would-download", ...
    path: Path | None = None
    size: int = 0
    error: IMAPError | None = None
    reason: str = ""
    resumed: int = 0  # bytes an earlier run kept, continued from rather than fetched again

    @property
    def ok(self) -> bool:
        """Not failed."""
        return self.error is None


EventSink = Callable[[TransferEvent], None]

# How many failures a TransferError's message names; its notes name every one.
_NAMED_FAILURES = 3


class TransferError(IMAPError):
    """Some files of a run failed, after every file was tried.

    `results` holds every file's FileResult in input order, `failures` the failed ones;
    `outcome` is what the call would have returned (set by the caller), so the files that did
    arrive are at hand. The message names the first few failures, a note names each one.
    """

    def __init__(self, verb: str, results: Sequence[FileResult], outcome: Any = None) -> None:
        self.results = list(results)
        self.failures = [r for r in self.results if r.error is not None]
        named = "; ".join(
            f"{r.key.rpartition('/')[2]}: {r.error.template}"
            for r in self.failures[:_NAMED_FAILURES]
            if r.error is not None
        )
        more = len(self.failures) - _NAMED_FAILURES
        named += f"; and {more} more" if more > 0 else ""
        errors = [r.error for r in self.failures if r.error is not None]
        same = {type(e) for e in errors}
        kinds = {e.kind for e in errors}
        # One cause for every failure (the SDC down, a refused key): its own advice fits.
        hint = errors[0].hint_template if len(same) == 1 and errors else ""
        super().__init__(
            f"{len(self.failures)} of {len(self.results)} files failed to {verb}: {named}",
            hint or "The files that arrived are kept; retry the failed ones.",
            kind=kinds.pop() if len(kinds) == 1 else None,
        )
        self.outcome = outcome
        for result in self.failures:
            if result.error is not None:
                add_note(self, f"{result.key}: {result.error.message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its state, not its arguments: a process pool sends it to the parent.
        return (_restore_error, (type(self), self.args, dict(self.__dict__)))


def _restore_error(cls: type[IMAPError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class CompactResults(Sequence[FileResult]):
    """One result per file of a run, in input order, in a few bytes per file.

    A run of 100,000 files must not hold 100,000 result objects with their paths: a result
    that says only (status, reason, size) is kept as a status byte, a reason code and a size,
    and its FileResult (path from `path_of(key)`) made again when asked for. Failures and
    anything unusual are kept whole. `settle` records a file once, as TransferRun needs.
    """

    _MAX_CODES = 255

    def __init__(self, keys: Sequence[str], path_of: Callable[[str], Path | None]) -> None:
        self._keys = keys
        self._path_of = path_of
        self._codes = bytearray(len(keys))  # 0: not settled; else 1 + index into _kinds
        self._sizes = array.array("q", bytes(8 * len(keys)))
        self._kinds: list[tuple[str, str]] = []  # (status, reason)
        self._kind_of: dict[tuple[str, str], int] = {}
        self._whole: dict[int, FileResult] = {}

    def settle(self, index: int, result: FileResult) -> bool:
        """Record file `index`'s result; False (and nothing changed) if it had one."""
        if self._codes[index] or index in self._whole:
            return False
        key = self._keys[index]
        kind = (result.status, result.reason)
        code = self._kind_of.get(kind)
        if code is None and len(self._kinds) < self._MAX_CODES:
            code = self._kind_of[kind] = len(self._kinds)
            self._kinds.append(kind)
        plain = result.error is None and result.key == key and code is not None
        plain = plain and not result.resumed  # what an earlier run kept is told in the summary
        if plain and result.path == self._path_of(key):
            self._codes[index] = code + 1  # type: ignore[operator]
            self._sizes[index] = result.size
        else:
            self._whole[index] = result
        return True

    def settled(self, index: int) -> bool:
        """Whether file `index` has its result."""
        return bool(self._codes[index]) or index in self._whole

    def __len__(self) -> int:
        return len(self._keys)

    def _get(self, index: int) -> FileResult:
        whole = self._whole.get(index)
        if whole is not None:
            return whole
        code = self._codes[index]
        if not code:
            raise LookupError(f"file {index} has no result yet")
        status, reason = self._kinds[code - 1]
        key = self._keys[index]
        return FileResult(key, status, self._path_of(key), self._sizes[index], None, reason)

    def __getitem__(self, index):  # type: ignore[override]  # an int or a slice, as a list
        if isinstance(index, slice):
            return [self._get(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._get(index)

    def __iter__(self) -> Iterator[FileResult]:
        return (self._get(i) for i in range(len(self)) if self.settled(i))


def ignore_events(event: TransferEvent) -> None:
    """The default sink: library callers that want no progress."""


def expand_items(items: Iterable[str], stdin: Iterable[str], *, paths: bool = False) -> list[str]:
    """The command's arguments with `-` replaced by the names on stdin, read once.

    Stdin may hold any output of `imap query` (core.listing); `paths`: local paths (upload).
    """
    from imap_cli.core.listing import read_listing

    out: list[str] = []
    read_stdin = False
    for item in items:
        if item == "-":
            if not read_stdin:
                out.extend(read_listing(stdin, paths=paths))
                read_stdin = True
        else:
            out.append(item)
    return out


# A URL's query string (a presigned URL's signature lives there): never shown to anyone.
_QUERY = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#'\"<>]*)\?[^\s#'\"<>]*")


def redact_urls(text: str) -> str:
    """`text` with every URL's query string replaced by `?…`."""
    return _QUERY.sub(r"\1?…", text)


def failure(exc: Exception) -> IMAPError:
    """What a file fails with when its work raised `exc`: an IMAPError as it is, "interrupted"
    when the run was cancelled, and for anything else (a bug) how to report it."""
    if isinstance(exc, IMAPError):
        return exc
    if isinstance(exc, TransferCancelled):
        return IMAPError("interrupted")
    return IMAPError(
        f"unexpected {type(exc).__name__}: {redact_urls(str(exc))}",
        f"This is a bug in imap-sdc-cli; run again with {terminal('debug', 'IMAP_DEBUG=1')} "
        "and report it.",
    )


class GuardedSink:
    """An EventSink that never raises into a transfer.

    A progress handler's failure (stderr closed under a pipe, a bug in a callback) must not
    change a file's result or kill a worker: the first exception is kept in `error`, the sink
    is not called again in this run, and the transfers go on. KeyboardInterrupt and SystemExit
    pass through: they stop the run.
    """

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self.error: Exception | None = None
        self._lock = threading.Lock()

    def __call__(self, event: TransferEvent) -> None:
        """Pass the event on, unless the sink has failed before."""
        if self.error is not None:
            return
        try:
            self.sink(event)
        except Exception as exc:
            with self._lock:
                first = self.error is None
                if first:
                    self.error = exc
            if first:
                _log_sink_failure(exc)


def _log_sink_failure(exc: Exception) -> None:
    import logging

    with contextlib.suppress(Exception):  # logging to a closed stderr must not raise either
        logging.getLogger("imap_cli").warning(
            "the progress handler raised %s: %s; no more progress events in this run",
            type(exc).__name__,
            exc,
        )


def abort_response(response: Any) -> None:
    """Shut the socket under a streaming response so a read blocked on it returns now."""
    import socket

    with contextlib.suppress(Exception):
        raw = response.raw
        conn = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)


class TransferRun:
    """The shared state of one run of many files.

    Workers call `finish` once per file (a second call for the same file changes nothing), so
    a file is counted exactly once whatever its event sink does; `wait` returns when every file
    is settled. On Ctrl-C in `wait` (or a KeyboardInterrupt raised in a worker, e.g. by an event
    sink) the run is cancelled: the flag is set, live responses have their sockets shut, and
    `wait` gives the workers that `hold()` something to clean up (a `.part`) a short grace,
    then re-raises. Nothing else is waited for.
    """

    def __init__(
        self, results: list[FileResult | None] | CompactResults, pending: int, emit: EventSink
    ) -> None:
        self.results = results
        self.emit = emit
        self.cancel = threading.Event()
        self.lock = threading.Lock()
        self._changed = threading.Condition(self.lock)
        self._pending = pending
        self._holding = 0
        self._responses: set[Any] = set()
        self._escaped: BaseException | None = None
        self._wake = threading.Event()
        if pending <= 0:
            self._wake.set()

    def pool(self, size: int, name: str) -> WorkerPool:
        """Daemon threads for this run; a task's uncaught exception ends the run, not the thread."""
        return WorkerPool(size, name, self._escape, self.cancel)

    def _escape(self, exc: BaseException) -> None:
        # KeyboardInterrupt from a sink, or a bug outside every per-file handler: `wait`
        # re-raises it in the caller's thread rather than leave the caller waiting forever.
        with self.lock:
            if self._escaped is None:
                self._escaped = exc
            self.cancel.set()  # the run is over: no worker starts another file
        self._wake.set()

    def finish(self, index: int, result: FileResult, event: TransferEvent | None) -> None:
        """Record file `index`'s result and announce it, once; later calls change nothing."""
        with self.lock:
            if isinstance(self.results, CompactResults):
                if not self.results.settle(index, result):
                    return
            elif self.results[index] is not None:
                return
            else:
                self.results[index] = result
        try:
            if event is not None and not self.cancel.is_set():  # after Ctrl-C nobody listens
                self.emit(event)
        finally:
            with self.lock:
                self._pending -= 1
                if self._pending <= 0:
                    self._wake.set()

    def wait(self, grace: float = 3.0) -> None:
        """Return when every file is settled; on Ctrl-C cancel the run and re-raise."""
        try:
            # Polled rather than a plain wait(): on Windows only a timed wait sees Ctrl-C.
            while not self._wake.wait(0.25):
                pass
            if self._escaped is not None:
                raise self._escaped
        except BaseException:
            self.interrupt(grace)
            raise

    def interrupt(self, grace: float = 3.0) -> None:
        """Stop every worker, unblock their reads, and give cleanups up to `grace` seconds."""
        with self.lock:
            self.cancel.set()
            responses = list(self._responses)
        for response in responses:
            abort_response(response)
        with self._changed:
            self._changed.wait_for(lambda: self._holding == 0, timeout=grace)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Mark a stretch that leaves something to clean up (a `.part`) until it ends.

        Ctrl-C waits (up to the grace) for these only. Raises TransferCancelled instead of
        starting one after the run was cancelled.
        """
        with self.lock:
            if self.cancel.is_set():
                raise TransferCancelled
            self._holding += 1
        try:
            yield
        finally:
            with self._changed:
                self._holding -= 1
                if not self._holding:
                    self._changed.notify_all()

    @contextlib.contextmanager
    def live(self, response: Any) -> Iterator[Any]:
        """Track a response while its body is read, so Ctrl-C can shut its socket; close it after.

        Raises TransferCancelled (closing the response) when the run was cancelled already.
        """
        with self.lock:
            cancelled = self.cancel.is_set()
            if not cancelled:
                self._responses.add(response)
        try:
            if cancelled:
                raise TransferCancelled
            yield response
        finally:
            with self.lock:
                self._responses.discard(response)
            with contextlib.suppress(Exception):
                response.close()
