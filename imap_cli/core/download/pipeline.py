"""Many downloads in parallel: plan each file (fetch or skip), resolve, fetch, report events.

The pipeline has two stages joined by a bounded hand-off:

* resolvers (a small pool of threads) ask the SDC for each file's object URL
  (`GET /download/<key>`, a 302 we do not follow) and, with `verify`, compare a file already
  present with the object's size and ETag;
* transfer workers (`jobs` threads) fetch the bytes (core.download.fetch).

With many small files the SDC round trip (tens to hundreds of ms) dominates, so resolvers run
ahead of the transfers and a transfer slot never waits for one. All threads share the one
connection pool of the SDCClient. Threads are daemons and watch a cancel flag, so Ctrl-C
returns at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from imap_cli.core.download.datadir import (
    Planned,
    destination,
    ensure_data_dir,
    file_size,
    plan,
)
from imap_cli.core.download.fetch import Fetcher
from imap_cli.core.errors import BadResponse, IMAPError, InvalidName, Unavailable
from imap_cli.core.naming import IMAPName, parse_key
from imap_cli.core.objects import object_url
from imap_cli.core.retry import TransferCancelled
from imap_cli.core.shard import in_shard
from imap_cli.core.transfer import (
    CompactResults,
    EventSink,
    FileResult,
    GuardedSink,
    Stage,
    TransferEvent,
    TransferRun,
    failure,
    ignore_events,
)

if TYPE_CHECKING:
    from imap_cli.core.http import SDCClient
    from imap_cli.core.workers import WorkerPool

# How long Ctrl-C waits for transfers to remove their .part before removing it for them.
INTERRUPT_GRACE = 3.0


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


def parse_keys(items: Iterable[str]) -> list[str]:
    """parse_items' SDC keys only: no name object kept per file (a run may have 100,000)."""
    keys: dict[str, None] = {}
    problems: list[tuple[str, str]] = []
    for item in items:
        text = str(item).strip()
        try:
            key = parse_key(text).key
        except InvalidName as exc:
            problems.append((text, exc.message))
            continue
        keys.setdefault(text if text == key else key, None)  # one string, not two alike
    if problems:
        raise InvalidNames(problems)
    return list(keys)


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


def _would_download(item: Planned, reason: str) -> tuple[FileResult, TransferEvent]:
    """A dry run's result and event for a file it would fetch."""
    return (
        FileResult(item.key, "would-download", item.dest, reason=reason),
        TransferEvent(Stage.SKIPPED, item.key, reason=f"dry run: {reason or 'fetch'}"),
    )


class _Run:
    """One call of download_files: what its workers share beyond the TransferRun."""

    def __init__(
        self, sdc: SDCClient, run: TransferRun, *, jobs: int, force: bool, dry_run: bool
    ) -> None:
        self.sdc = sdc
        self.jobs = max(1, jobs)
        self.force = force
        self.dry_run = dry_run
        # Settles each pending file once; cancel flag, live responses, Ctrl-C.
        self.run = run
        self.cancel = run.cancel
        self.fetcher = Fetcher(sdc, run, run.emit, self._lookup, force=force)
        # A failure that is not about one file (the SDC unreachable or failing): the rest fail
        # fast with it instead of each paying for the retries.
        self.fatal: IMAPError | None = None

    def execute(self, todo: list[Planned]) -> None:
        """Run every planned file through resolve -> transfer; returns when all are settled."""
        if not todo:
            return
        lookups = min(resolver_count(self.jobs), _pool_size(self.sdc))
        resolvers = self.run.pool(min(lookups, len(todo)), "imap-resolve")
        self.transfers = self.run.pool(min(self.jobs, len(todo)), "imap-transfer")
        # Resolvers may run this far ahead of the transfers, so URLs stay fresh and memory flat:
        # a feeder hands files over as slots free up (not 100,000 queued calls at once).
        self.slots = threading.Semaphore(self.jobs + lookups)
        threading.Thread(
            target=self._feed, args=(todo, resolvers), name="imap-feed", daemon=True
        ).start()
        try:
            # The grace covers only transfers holding a .part: lookups hold nothing.
            self.run.wait(grace=INTERRUPT_GRACE)
        except BaseException:
            with self.run.lock:
                parts = list(self.fetcher.parts)
            for part in parts:
                # A worker still blocked somewhere: on POSIX the open file can go now.
                with contextlib.suppress(OSError):
                    part.unlink()
            raise
        finally:
            resolvers.stop()
            self.transfers.stop()

    def _feed(self, todo: list[Planned], resolvers: WorkerPool) -> None:
        """Hand each file to the resolvers once a slot is free; stop at a cancel."""
        for item in todo:
            while not self.slots.acquire(timeout=0.2):
                if self.cancel.is_set():
                    return
            if self.cancel.is_set():
                self.slots.release()
                return
            resolvers.submit(self._resolve_stage, item)

    def _finish(self, item: Planned, result: FileResult, event: TransferEvent) -> None:
        self.run.finish(item.index, result, event)

    def _fail(self, item: Planned, error: IMAPError) -> None:
        self._finish(
            item,
            # No path: nothing is there to point at (a .part is not the file).
            FileResult(item.key, "failed", None, error=error, reason=error.message),
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

    def _resolve_stage(self, item: Planned) -> None:
        """Ask for the object's URL (and verify a present copy); holds a slot from _feed."""
        handed_over = False
        try:
            if self.cancel.is_set():
                raise TransferCancelled
            if self.fatal is not None:
                raise self.fatal
            url = self._lookup(item.key)
            reason = ""
            if item.present and not self.force:
                reason = self.fetcher.verify(item, url)
                if not reason:
                    self._finish(
                        item,
                        FileResult(
                            item.key, "skipped", item.dest, file_size(item.dest), None, "verified"
                        ),
                        TransferEvent(Stage.SKIPPED, item.key, reason="verified"),
                    )
                    return
            elif item.present:
                reason = "forced"
            if self.dry_run:
                self._finish(item, *_would_download(item, reason))
                return
            self.transfers.submit(lambda: self._transfer_stage(item, url, reason))
            handed_over = True
        except Exception as exc:  # a bug must cost one file, not hang the run
            self._fail(item, failure(exc))
        finally:
            if not handed_over:
                self.slots.release()

    def _transfer_stage(self, item: Planned, url: str, reason: str = "") -> None:
        try:
            if self.cancel.is_set():
                raise TransferCancelled
            size = self.fetcher.fetch(item, url)
        except Exception as exc:
            self._fail(item, failure(exc))
            return
        finally:
            self.slots.release()
        self._finish(
            item,
            FileResult(
                item.key,
                "downloaded",
                item.dest,
                size,
                reason=reason,
                resumed=self.fetcher.resumed.pop(item.key, 0),
            ),
            TransferEvent(Stage.DONE, item.key, total=size),
        )


def _key_in(data_dir: Path, item: str) -> str:
    """The SDC key of an absolute path inside the data dir (what a download prints, so
    `imap download ... | imap download -` works); any other item as given."""
    import os

    if not os.path.isabs(item):
        return item
    for root in {data_dir.absolute(), data_dir.resolve()}:
        try:
            relative = Path(item).relative_to(root)
        except ValueError:
            continue
        if relative.parts and relative.parts[0] == "imap":
            return relative.as_posix()
    return item


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
    compact: bool = False,
) -> Sequence[FileResult]:
    """Download files (SDC keys or filenames) into `<data_dir>/<key>`, `jobs` at a time.

    Returns one FileResult per distinct file, in input order (a list; with `compact`, a
    CompactResults that holds a few bytes per file, for runs of 100,000 files); a file's
    failure is in its result, never raised. Raises InvalidNames (nothing fetched) for bad
    inputs, DataDirError for an unusable data dir, and KeyboardInterrupt after cleaning up when
    interrupted; its `kept` attribute lists (key, bytes) of the partials kept for the next run.
    An `on_event` that raises changes no result; it is not called again in this run (a
    KeyboardInterrupt from it stops the run). `shard` (K, N) takes only the files of shard
    K of N (a stable hash of the key): N hosts with K = 1..N share the work without overlap.
    """
    data_dir = Path(data_dir).expanduser()
    items = [_key_in(data_dir, item) for item in items]
    keys = [key for key in parse_keys(items) if in_shard(key, shard)]
    if not (dry_run and not data_dir.exists()):
        data_dir = ensure_data_dir(data_dir)
    planned = list(plan(keys, data_dir))
    results = CompactResults(keys, lambda key: destination(data_dir, key))
    emit = GuardedSink(on_event)
    for item in planned:
        emit(TransferEvent(Stage.PLANNED, item.key))
    todo = []
    for item in planned:
        if item.present and not force and not verify:
            dest = item.dest
            settled = (
                FileResult(item.key, "skipped", dest, file_size(dest), reason="already present"),
                TransferEvent(Stage.SKIPPED, item.key, reason="already present"),
            )
        elif dry_run and not (item.present and verify and not force):
            settled = _would_download(item, "forced" if item.present else "")
        else:
            todo.append(item)
            continue
        results.settle(item.index, settled[0])
        emit(settled[1])
    del planned
    run = _Run(sdc, TransferRun(results, len(todo), emit), jobs=jobs, force=force, dry_run=dry_run)
    try:
        run.execute(todo)
    except KeyboardInterrupt as stop:
        with run.run.lock:
            stop.kept = list(run.fetcher.kept)  # type: ignore[attr-defined]
        raise
    return results if compact else list(results)
