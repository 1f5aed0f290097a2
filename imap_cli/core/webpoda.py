"""`webpoda`: L0 packet files made from LASP's PODA, versioned against the SDC.

The same files as the official client's `webpoda` (names, folders, bytes: APIDs concatenated
in the table's order, the midnight buffers, pointings for the repointing instruments, the next
minor version when the day changed), made differently:

- every APID of every day is asked for at once (bounded by `jobs`), each request with a
  timeout and retries; a body cut short is asked for again, never kept short;
- packets stream to `.part` files beside the destination; the day's file is assembled,
  fsynced and renamed into place only when every APID is complete;
- the SDC's latest version is compared without downloading it when its size or its ETag (an
  MD5) decides; an unchanged day leaves no file behind;
- failures are results: a failed day or upload is named, and the run as a whole says so.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from imap_cli.core import poda
from imap_cli.core.errors import IMAPError
from imap_cli.core.http import SDCClient
from imap_cli.core.transfer import failure
from imap_cli.core.webpoda_days import (
    MODES,
    Production,
    Span,
    WebpodaPlan,
    daily_spans,
    file_name,
    plan_webpoda,
    pointing_spans,
    production,
    received_times,
    repoint_table,
)
from imap_cli.core.workers import WorkerPool

# The plan and its days live in core.webpoda_days; named here too, as one place to import from.
__all__ = [
    "ACTIONS",
    "MODES",
    "DayResult",
    "Production",
    "Span",
    "WebpodaPlan",
    "WebpodaProgress",
    "WebpodaSummary",
    "daily_spans",
    "file_name",
    "make_files",
    "plan_webpoda",
    "poda_client",
    "pointing_spans",
    "production",
    "repoint_table",
    "run_webpoda",
]

ACTIONS = ("new", "changed", "unchanged", "empty", "failed")
_BLOCK = 1 << 20


@dataclass
class DayResult:
    """What happened to one day (or pointing)."""

    date: str
    repointing: int | None = None
    apids: dict[str, int] = field(default_factory=dict)  # APID -> packets
    packets: int = 0
    bytes: int = 0
    action: str = "failed"
    path: str | None = None  # the file written (or that would be)
    uploaded: bool | None = None  # None: no upload asked for, or nothing to upload
    production: str | None = None  # the SDC's latest file for the day
    detail: str = ""  # for people: what decided, a warning
    warning: bool = False
    error: IMAPError | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (the error as its message)."""
        return {
            "date": self.date,
            "repointing": self.repointing,
            "apids": self.apids,
            "packets": self.packets,
            "bytes": self.bytes,
            "action": self.action,
            "path": self.path,
            "uploaded": self.uploaded,
            "production": self.production,
            "detail": self.detail,
            "error": None if self.error is None else self.error.message,
        }


@dataclass
class WebpodaSummary:
    """The run: every day's result, in time order."""

    instrument: str
    mode: str
    dry_run: bool
    days: list[DayResult]

    @property
    def failed(self) -> list[DayResult]:
        """Days that failed, or whose upload did."""
        return [d for d in self.days if d.action == "failed" or d.uploaded is False]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "instrument": self.instrument,
            "query_mode": self.mode,
            "dry_run": self.dry_run,
            "days": [d.as_dict() for d in self.days],
            "failed": len(self.failed),
        }


@dataclass(frozen=True)
class WebpodaProgress:
    """Where a run is, for a progress display: plain data, sent from worker threads.

    `phase` is "finding" (asking which days have packets: `days` is None), "fetching" (the
    days' packets) or "uploading" (`uploading` files to the SDC). `received` counts the packet
    bytes of the answers that arrived whole or are arriving (a cut answer's bytes are taken
    back when it is asked for again). `current` names the days (or pointings) in flight, as
    in the file names: 20251001, 20251001-repoint00012.
    """

    phase: str
    days: int | None
    done: int = 0
    failed: int = 0
    received: int = 0
    current: tuple[str, ...] = ()
    uploading: int = 0

    def headline(self, noun: str = "days") -> str:
        """Where the run is, in words: `Fetching days 2/3, 1 failed` (`noun`: days or
        pointings)."""
        if self.phase == "finding":
            return f"Finding the {noun} with packets"
        if self.phase == "uploading":
            text = f"Uploading {self.uploading} file{'' if self.uploading == 1 else 's'} to the SDC"
        else:
            text = f"Fetching {noun} {self.done}/{self.days}"
        return text + (f", {self.failed} failed" if self.failed else "")


class _Tracker:
    """Counts a run's progress and sends a WebpodaProgress on each change (under a lock, so
    the snapshots arrive in order: the callback must be quick and must not raise)."""

    def __init__(self, report: Callable[[WebpodaProgress], None] | None) -> None:
        self.report = report
        self.lock = threading.Lock()
        self.now = WebpodaProgress("finding", None)
        self.spans: dict[str, None] = {}  # in flight, in the order they started
        self.over = False  # fetching has ended: stragglers of a cancelled run are not news

    def _change(self, **changes: Any) -> None:
        # callers hold the lock
        self.now = replace(self.now, **changes)
        if self.report is not None:
            self.report(self.now)

    def start(self) -> None:
        """The run begins: still finding its days."""
        if self.report is not None:
            with self.lock:
                self._change()

    def planned(self, spans: int) -> None:
        """The days are known."""
        if self.report is not None:
            with self.lock:
                self._change(phase="fetching", days=spans)

    def started(self, span: Span) -> None:
        """A span's requests are on their way."""
        if self.report is not None:
            with self.lock:
                self.spans[span.name_date] = None
                self._change(current=tuple(self.spans))

    def received(self, size: int) -> None:
        """`size` more packet bytes (negative: taken back)."""
        if self.report is not None and size:
            with self.lock:
                if not self.over:
                    self._change(received=self.now.received + size)

    def finished(self, span: Span, failed: bool) -> None:
        """A span is done (made, unchanged, empty or failed)."""
        if self.report is not None:
            with self.lock:
                self.spans.pop(span.name_date, None)
                self._change(
                    done=self.now.done + 1,
                    failed=self.now.failed + failed,
                    current=tuple(self.spans),
                )

    def fetched(self) -> None:
        """No more packets will be counted (the run's fetches are over or cancelled)."""
        with self.lock:
            self.over = True

    def uploading(self, files: int) -> None:
        """The new and changed files are going to the SDC."""
        if self.report is not None:
            with self.lock:
                self._change(phase="uploading", current=(), uploading=files)


# --- one span: fetch, assemble, decide -----------------------------------------------------------


@dataclass
class _Part:
    handle: IO[bytes]  # an unnamed temporary file: nothing is left behind, even after a kill
    size: int = 0
    packets: int = 0


def _fetch_apid(
    client: poda.PodaClient,
    url: str,
    folder: Path | None,
    cancel: threading.Event,
    on_bytes: Callable[[int], None] | None = None,
) -> _Part:
    if cancel.is_set():
        raise KeyboardInterrupt
    # closed by the span's assembly (or below); no `with`: it outlives this call
    handle = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115
    try:
        size, packets = client.fetch_to(url, handle, on_bytes)
    except BaseException:
        handle.close()
        raise
    return _Part(handle, size, packets)


class _Run:
    """One run's shared state: clients, pool, where parts go, and the parts to clean up."""

    def __init__(
        self,
        sdc: SDCClient,
        client: poda.PodaClient,
        plan: WebpodaPlan,
        data_dir: Path,
        jobs: int,
        dry_run: bool,
        tracker: _Tracker | None = None,
    ) -> None:
        self.sdc, self.client, self.plan = sdc, client, plan
        self.tracker = tracker or _Tracker(None)
        self.data_dir, self.dry_run = data_dir, dry_run
        self.cancel = threading.Event()
        self.pool = WorkerPool(max(1, jobs), "imap-webpoda", cancel=self.cancel)
        self.scratch = Path(tempfile.mkdtemp(prefix="imap-webpoda-")) if dry_run else None
        self.parts: set[Path] = set()
        self.lock = threading.Lock()

    def folder(self, span: Span) -> Path:
        """Where the span's parts go: beside the final file (the rename stays on one disk)."""
        if self.scratch is not None:
            return self.scratch
        from imap_cli.core.download.datadir import destination
        from imap_cli.core.naming import parse

        key = parse(file_name(self.plan.instrument, span, 1)).key
        folder = destination(self.data_dir, key).parent
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def part(self, folder: Path, label: str) -> Path:
        """A fresh, unique `.part` path in folder."""
        from imap_cli.core.download.datadir import open_part

        fd, path = open_part(folder / label)  # created exclusively, mode 0666 less the umask
        os.close(fd)
        with self.lock:
            self.parts.add(path)
        return path

    def drop(self, path: Path) -> None:
        """Remove a part (done with it)."""
        path.unlink(missing_ok=True)
        with self.lock:
            self.parts.discard(path)

    def submit(self, span: Span) -> tuple[list[tuple[int, Future]], Future]:
        """Start the span's APID fetches and its SDC lookup."""
        folder = None if self.scratch is not None else self.folder(span)
        # the SDC's answer first: it decides what the span's bytes become once they are in
        lookup = self.pool.submit(production, self.sdc, self.plan.instrument, span)
        self.tracker.started(span)
        counted = self.tracker.received if self.tracker.report is not None else None
        fetches = []
        for apid in self.plan.apids:
            url = poda.packets_url(self.client.url, self.plan.sid, apid, span.start, span.end)
            future = self.pool.submit(_fetch_apid, self.client, url, folder, self.cancel, counted)
            fetches.append((apid, future))
        return fetches, lookup

    def close(self) -> None:
        """Stop the pool; remove every part left (a failure or Ctrl-C keeps nothing)."""
        self.tracker.fetched()
        self.cancel.set()
        self.pool.stop(drop=True)
        for path in list(self.parts):
            with contextlib.suppress(OSError):
                path.unlink()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def _assemble(parts: list[_Part], target: Path) -> tuple[str, str]:
    """Concatenate the parts in APID order into target, fsynced: (md5, sha256)."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    with open(target, "wb") as out:
        for part in parts:
            part.handle.seek(0)
            while block := part.handle.read(_BLOCK):
                out.write(block)
                md5.update(block)
                sha.update(block)
            part.handle.close()
        out.flush()
        os.fsync(out.fileno())
    return md5.hexdigest(), sha.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _same_as_production(
    run: _Run, prod: Production, size: int, md5: str, sha: str
) -> tuple[bool, str, bool]:
    """(changed, why, warning) for a span the SDC has a file of."""
    assert prod.key is not None
    if prod.size is not None and size < prod.size:
        return (
            False,
            f"smaller than production ({size:,} bytes, {prod.key.rsplit('/', 1)[-1]} has "
            f"{prod.size:,}): kept as it is",
            True,
        )
    if prod.size is not None and size > prod.size:
        return True, f"{size:,} bytes, production {prod.size:,}", False
    if prod.md5 is not None:
        if prod.md5 == md5:
            return False, "same size and MD5 as production", False
        return True, "same size, different MD5", False
    return _compare_bytes(run, prod, sha)


def _compare_bytes(run: _Run, prod: Production, sha: str) -> tuple[bool, str, bool]:
    """Neither size nor ETag decided: the production file's bytes, local or downloaded."""
    from imap_cli.core.download.datadir import destination
    from imap_cli.core.download.pipeline import download_files

    assert prod.key is not None
    local = destination(run.data_dir, prod.key)
    if not (local.is_file() and local.stat().st_size == prod.size):
        # a dry run writes nothing in the data dir: its download goes to its scratch folder
        into = run.scratch or run.data_dir
        (result,) = download_files(run.sdc, [prod.key], data_dir=into, jobs=1)
        if result.error is not None:
            raise result.error
        local = destination(into, prod.key)
    changed = _file_sha256(local) != sha
    return changed, ("different bytes" if changed else "same bytes") + " as production", False


def _finish_span(run: _Run, span: Span, fetches: list, lookup: Future) -> DayResult:
    result = DayResult(date=span.day.isoformat(), repointing=span.repointing)
    parts: list[_Part] = []
    problem: BaseException | None = None
    for apid, future in fetches:
        try:
            part = future.result()
        except BaseException as exc:  # wait for the others all the same: their files close
            problem = problem or exc
            continue
        parts.append(part)
        result.apids[str(apid)] = part.packets
        result.packets += part.packets
        result.bytes += part.size
    if problem is not None:
        for part in parts:
            part.handle.close()
        raise problem
    if result.bytes == 0:
        for part in parts:
            part.handle.close()
        result.action, result.detail = "empty", "no packets"
        return result
    prod: Production = lookup.result()
    result.production = prod.key
    name = file_name(run.plan.instrument, span, prod.minor + 1 if prod.key else 1)
    target = run.part(run.folder(span), name)
    md5, sha = _assemble(parts, target)
    if prod.key is None:
        result.action, result.detail = "new", "the SDC has no L0 file for it"
    else:
        changed, result.detail, result.warning = _same_as_production(
            run, prod, result.bytes, md5, sha
        )
        result.action = "changed" if changed else "unchanged"
    if result.action == "unchanged":
        run.drop(target)
        return result
    from imap_cli.core.download.datadir import destination
    from imap_cli.core.naming import parse

    final = destination(run.data_dir, parse(name).key)
    result.path = str(final)
    if run.dry_run:
        run.drop(target)
    else:
        os.replace(target, final)
        with run.lock:
            run.parts.discard(target)
    return result


def run_webpoda(
    sdc: SDCClient,
    client: poda.PodaClient,
    plan: WebpodaPlan,
    *,
    data_dir: Path,
    jobs: int = 8,
    dry_run: bool = False,
    upload: bool = False,
    on_day: Callable[[DayResult], None] | None = None,
    on_progress: Callable[[WebpodaProgress], None] | None = None,
) -> WebpodaSummary:
    """Make the plan's L0 files (or, with dry_run, say what would be made) and upload the new
    and changed ones when asked. Failures of one day are in its result; a failure to find the
    days at all (PODA refused, the repoint table missing) raises.

    `on_day` hears of each day as it is done (from this thread); `on_progress` of every step
    (days known, bytes arriving, a day done: a WebpodaProgress, from worker threads too)."""
    from imap_cli.core.download.datadir import ensure_data_dir

    data_dir = ensure_data_dir(data_dir)
    tracker = _Tracker(on_progress)
    run = _Run(sdc, client, plan, data_dir, jobs, dry_run, tracker)
    days: list[DayResult] = []
    tracker.start()
    try:
        # the repoint table is fetched while PODA says what it received
        table = run.pool.submit(repoint_table, sdc, data_dir) if plan.by_pointing else None
        received = received_times(client, plan, run.pool) if plan.mode == "ert" else None
        if table is not None:
            spans = pointing_spans(plan, table.result(), received)
        else:
            spans = daily_spans(plan, received)
        tracker.planned(len(spans))
        # A few spans in flight (enough to keep `jobs` requests busy): each APID's answer
        # holds a temporary file open until its span is assembled.
        ahead = 1 + -(-2 * max(1, jobs) // len(plan.apids))
        waiting = iter(spans)
        started: collections.deque = collections.deque()
        while True:
            while len(started) < ahead and (span := next(waiting, None)) is not None:
                started.append((span, run.submit(span)))
            if not started:
                break
            span, (fetches, lookup) = started.popleft()
            try:
                result = _finish_span(run, span, fetches, lookup)
            except IMAPError as error:
                result = _failed_span(span, error)
            except Exception as exc:  # a bug or a disk error costs one day, not the run
                result = _failed_span(span, failure(exc))
            days.append(result)
            tracker.finished(span, result.action == "failed")
            if on_day is not None and not (upload and result.path and not dry_run):
                on_day(result)
    finally:
        run.close()
    if upload and not dry_run:
        _upload(sdc, days, jobs, on_day, tracker)
    return WebpodaSummary(plan.instrument, plan.mode, dry_run, days)


def _failed_span(span: Span, error: IMAPError) -> DayResult:
    result = DayResult(date=span.day.isoformat(), repointing=span.repointing, error=error)
    result.detail = error.message
    return result


def _upload(
    sdc: SDCClient,
    days: list[DayResult],
    jobs: int,
    on_day: Callable[[DayResult], None] | None,
    tracker: _Tracker,
) -> None:
    """Upload the new and changed files through the checked upload path."""
    from imap_cli.core.upload import upload_files

    todo = [d for d in days if d.path and d.action in ("new", "changed")]
    if todo:
        tracker.uploading(len(todo))
        results = upload_files(sdc, [Path(d.path) for d in todo if d.path], jobs=jobs)
        by_name = {Path(r.path).name: r for r in results if r.path is not None}
        for day in todo:
            outcome = by_name.get(Path(day.path or "").name)
            day.uploaded = outcome is not None and outcome.ok
            if outcome is not None and outcome.error is not None:
                day.error = outcome.error
                day.detail = f"upload failed: {outcome.error.message}"
    if on_day is not None:
        for day in todo:
            on_day(day)


def poda_client(settings: Any, *, jobs: int | None = None) -> poda.PodaClient:
    """A PodaClient for resolved settings: webpoda-url, webpoda-token, timeout, retries."""
    return poda.PodaClient(
        settings.webpoda_url,
        settings.webpoda_token,
        timeout=settings.timeout,
        retries=settings.retries,
        jobs=jobs or settings.jobs,
        ca_bundle=settings.ca_bundle,
    )


def make_files(
    sdc: SDCClient,
    settings: Any,
    plan: WebpodaPlan,
    *,
    jobs: int,
    dry_run: bool = False,
    upload: bool = False,
    on_day: Callable[[DayResult], None] | None = None,
    on_retry: Callable[[str], None] | None = None,
    on_progress: Callable[[WebpodaProgress], None] | None = None,
) -> WebpodaSummary:
    """Open PODA with `settings`' credentials and run `plan` against `sdc` (the one way the
    command and the Python function make the day files). The callbacks: see run_webpoda."""
    with poda_client(settings, jobs=jobs) as client:
        if on_retry is not None:
            client.retry.on_retry = on_retry
        return run_webpoda(
            sdc,
            client,
            plan,
            data_dir=settings.data_dir,
            jobs=jobs,
            dry_run=dry_run,
            upload=upload,
            on_day=on_day,
            on_progress=on_progress,
        )
