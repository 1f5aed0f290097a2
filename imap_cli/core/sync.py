"""Sync: bring the data dir up to date with a query, asking the SDC only for what is new.

A sync runs the query (core.query) limited to files ingested since the last successful sync of
the same filters and URL, less a day: the SDC compares ingestion dates by day, and a file
appears in its catalogue some time after its ingestion time. What is not here yet is fetched
by core.download. The watermark (when that query was sent) is recorded only when every file is
present, so a file that failed is asked for again next time.

The state is one small JSON file per filter set, URL and shard, in `<data dir>/.imap-sync/`, so
a shared data dir shares it. It is written atomically (temp file, fsync, rename); two syncs of
the same filters at once merge what they learnt: the later watermark, the union of the files
each brought in. Pruning superseded files deletes only files in that list.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imap_cli.core.errors import IMAPError, InvalidName, UsageError, option
from imap_cli.core.filters import compact, parse_date
from imap_cli.core.naming import IMAPName, parse_key, version_sort_key
from imap_cli.core.query import FILTERS, plan_query, run_query
from imap_cli.core.records import latest_records, record_keys
from imap_cli.core.shard import in_shard
from imap_cli.core.transfer import EventSink, FileResult, ignore_events

if TYPE_CHECKING:
    from imap_cli.core.http import SDCClient

STATE_FOLDER = ".imap-sync"
STATE_VERSION = 1
# The SDC keeps ingestion dates by day, and indexes a file after its ingestion time: ask again
# for the day before the last sync, so a file indexed late is not missed.
OVERLAP = dt.timedelta(days=1)


class SyncStateError(UsageError):
    """The state file of a filter set cannot be read."""


@dataclass
class Superseded:
    """A local file for which the SDC has a newer version."""

    path: Path
    key: str
    newer: str  # the newest version's file name


class Joined(Sequence[FileResult]):
    """Results kept in several sequences (a few whole ones, then a download's CompactResults),
    read as one, so nothing is copied into a list of one object per file."""

    def __init__(self, *parts: Sequence[FileResult]) -> None:
        self._parts = parts

    def __len__(self) -> int:
        return sum(len(part) for part in self._parts)

    def __iter__(self) -> Iterator[FileResult]:
        for part in self._parts:
            yield from part

    def __getitem__(self, index):  # type: ignore[override]  # an int or a slice, as a list
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        for part in self._parts:
            if 0 <= index < len(part):
                return part[index]
            index -= len(part)
        raise IndexError(index)


@dataclass
class SyncSummary:
    """What one sync did (or, with dry_run, would do).

    `results` holds one result per file in a few bytes each (a sync may bring 100,000 files):
    read them by iterating; the counts and the failures are kept apart, from one pass.
    """

    results: Sequence[FileResult]
    watermark: str | None  # the recorded watermark after this run (ISO 8601, UTC)
    since: str | None  # the ingestion day asked from (YYYYMMDD); None: everything
    state_path: Path
    dry_run: bool = False
    superseded_files: list[Superseded] = field(default_factory=list)
    pruned: list[Path] = field(default_factory=list)
    advanced: bool = False  # the watermark moved on (every file is here)
    new_count: int = field(init=False, default=0)
    skipped_count: int = field(init=False, default=0)
    failed: list[FileResult] = field(init=False, default_factory=list)  # whole, with errors
    brought: list[str] = field(init=False, default_factory=list)  # keys downloaded now

    def __post_init__(self) -> None:
        # One pass: each result is rebuilt (with its path) as it is read.
        wanted = "would-download" if self.dry_run else "downloaded"
        for result in self.results:
            if not result.ok:
                self.failed.append(result)
            elif result.status == wanted:
                self.new_count += 1
            elif result.status == "skipped":
                self.skipped_count += 1
            if result.status == "downloaded":
                self.brought.append(result.key)

    def iter_new(self) -> Iterator[FileResult]:
        """Files downloaded by this run (with dry_run: those that would be), one at a time."""
        wanted = "would-download" if self.dry_run else "downloaded"
        return (r for r in self.results if r.status == wanted)

    @property
    def new(self) -> list[FileResult]:
        """Files downloaded by this run (with dry_run: those that would be)."""
        return list(self.iter_new())

    @property
    def skipped(self) -> list[FileResult]:
        """Files already here."""
        return [r for r in self.results if r.status == "skipped"]

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain data (for json output and `imap_cli.sync()`)."""
        return {
            "new": self.new_count,
            "skipped": self.skipped_count,
            "failed": len(self.failed),
            "superseded": len(self.superseded_files),
            "files": [str(r.path) for r in self.iter_new() if r.path is not None],
            "watermark": self.watermark,
            "since": self.since,
            "dry_run": self.dry_run,
            "failures": [{"key": r.key, "reason": r.reason} for r in self.failed],
            "superseded_files": [
                {"path": str(s.path), "newer": s.newer} for s in self.superseded_files
            ],
            "pruned": [str(p) for p in self.pruned],
            "state": str(self.state_path),
        }


def filter_identity(filters: Mapping[str, Any]) -> dict[str, str]:
    """The filters that define a filter set, normalised: no empty values, text, sorted."""
    out = {}
    for name in FILTERS:  # every query filter: unset ones leave the identity alone
        value = filters.get(name)
        if value is False:  # an unset switch (highest_level) leaves the identity alone
            continue
        if value is not None and str(value).strip() != "":
            out[name] = str(value).strip().lower() if name != "filename" else str(value).strip()
    out.setdefault("table", "science")
    return dict(sorted(out.items()))


def state_path(
    data_dir: Path,
    url: str,
    filters: Mapping[str, Any],
    shard: Any = None,
    latest_only: bool = False,
) -> Path:
    """Where the state of this filter set, URL, shard and version choice lives."""
    identity: dict[str, Any] = {"url": url.rstrip("/"), "filters": filter_identity(filters)}
    if shard is not None:
        identity["shard"] = f"{shard[0]}/{shard[1]}"
    if latest_only:
        # A latest-only run skips older versions; its watermark must not stop a later
        # full run of the same filters from asking for them.
        identity["latest_only"] = True
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
    return Path(data_dir) / STATE_FOLDER / f"{digest}.json"


def read_state(path: Path) -> dict[str, Any] | None:
    """The state at path, None if there is none; SyncStateError if it is damaged.

    While another sync is writing it (see merge_state), its claimed copy is read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if path.name.endswith(".claim"):
            return None
        for claim in path.parent.glob(f"{path.name}.*.claim") if path.parent.is_dir() else ():
            with contextlib.suppress(FileNotFoundError):
                return read_state(claim)
        return None
    except OSError as exc:
        raise SyncStateError(
            f"cannot read the sync state {path}: {exc.strerror or exc}",
            "Check the data dir's permissions.",
        ) from None
    try:
        state = json.loads(text)
        problem = _state_problem(state)
    except ValueError as exc:
        problem = f"not valid JSON ({exc.__class__.__name__})"
    if problem:
        raise SyncStateError(
            f"the sync state {path} is damaged: {problem}",
            f"Run again with {option('since', 'YYYYMMDD')} to say where to start (a new state "
            "is then written), or delete that file to sync everything that matches again.",
        )
    return state


def _state_problem(state: Any) -> str:
    if not isinstance(state, dict):
        return "not a JSON object"
    watermark = state.get("watermark")
    if watermark is not None:
        try:
            parse_watermark(watermark)
        except (TypeError, ValueError):
            return f"the watermark {str(watermark)[:40]!r} is not a time"
    files = state.get("files", [])
    if not isinstance(files, list) or not all(isinstance(k, str) for k in files):
        return "'files' is not a list of SDC keys"
    return ""


def parse_watermark(text: Any) -> dt.datetime:
    """An ISO 8601 UTC time, as written by format_watermark."""
    moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def format_watermark(moment: dt.datetime) -> str:
    """`2026-11-29T17:02:03Z`."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a unique temp file beside it, fsync, rename over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    data = json.dumps(state, indent=1, sort_keys=True).encode() + b"\n"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(temp, flags, 0o666)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise IMAPError(
            f"cannot write the sync state {path}: {exc.strerror or exc}",
            "Check the data dir's permissions and free space.",
        ) from None


# A claim older than this belongs to a sync that died between taking the state and putting
# it back: its content is adopted. A live claim is held for milliseconds.
CLAIM_STALE = 30.0


def merge_state(
    path: Path,
    base: dict[str, Any],
    *,
    watermark: str | None,
    added: Iterable[str],
    removed: Iterable[str] = (),
) -> dict[str, Any]:
    """Record this run in the state, merged with whatever another sync wrote meanwhile.

    The later watermark wins and the file lists are united. Lost updates are prevented without
    file locks (they lie on NFS and Lustre): a writer takes the state by renaming it to a name
    of its own (rename is atomic there too), merges, and puts the result back; a writer that
    finds it taken waits, bounded, and a claim left by a sync that died is adopted.
    """
    added, removed = set(added), set(removed)
    mine = path.with_name(f"{path.name}.{secrets.token_hex(6)}.claim")
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + CLAIM_STALE + 5
    delay = 0.002
    folded: dict[str, Any] = {}  # what syncs that died had taken, adopted once
    while True:
        held = _take(path, mine)
        for stale in _stale_claims(path, mine):
            folded = _union(folded, _read_claimed(stale))
            with contextlib.suppress(OSError):
                stale.unlink()
        current = _union(_read_claimed(mine), folded) if held else folded
        if held or not _claims(path, mine) or time.monotonic() > deadline:
            files = (set(current.get("files", [])) | set(base.get("files", [])) | added) - removed
            state = {
                **base,
                "version": STATE_VERSION,
                "watermark": _latest(current.get("watermark"), base.get("watermark"), watermark),
                "updated": format_watermark(_now()),
                "files": sorted(files),
            }
            if held:
                write_state(path, state)  # the state is ours: nobody else writes it now
                with contextlib.suppress(OSError):
                    mine.unlink()
                return state
            if _create_state(path, state):  # there was none: create it, exclusively
                return state
            continue  # another sync created it meanwhile: take that one
        time.sleep(delay)  # another sync holds the state for a moment
        delay = min(0.05, delay * 2)


def _take(path: Path, claim: Path) -> bool:
    try:
        os.rename(path, claim)
    except FileNotFoundError:
        return False
    # A rename keeps the old mtime: without this a live claim on a day-old state looks stale.
    with contextlib.suppress(OSError):
        os.utime(claim)
    return True


def _claims(path: Path, mine: Path) -> list[Path]:
    return [c for c in path.parent.glob(f"{path.name}.*.claim") if c != mine]


def _stale_claims(path: Path, mine: Path) -> list[Path]:
    """Claims left by syncs that died, each taken under a name of ours (so adopted once)."""
    adopted = []
    now = time.time()
    for claim in _claims(path, mine):
        with contextlib.suppress(OSError):
            info = claim.stat()  # a rename sets ctime, before _take's touch sets mtime
            if now - max(info.st_mtime, info.st_ctime) > CLAIM_STALE:
                target = mine.with_name(f"{mine.name}.{secrets.token_hex(4)}.adopted")
                os.rename(claim, target)
                adopted.append(target)
    return adopted


def _read_claimed(claim: Path) -> dict[str, Any]:
    try:
        return read_state(claim) or {}
    except SyncStateError:
        return {}  # damaged: replaced by this run's view


def _union(one: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    return {
        "files": sorted(set(one.get("files", [])) | set(other.get("files", []))),
        "watermark": _latest(one.get("watermark"), other.get("watermark")),
    }


def _latest(*marks: str | None) -> str | None:
    """The latest of the watermarks given (None: there are none)."""
    return max((m for m in marks if m), key=_mark_order, default=None)


def _create_state(path: Path, state: dict[str, Any]) -> bool:
    """Create the state file only if there is none (False: another sync was first)."""
    temp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.new")
    write_state(temp, state)
    try:
        os.link(temp, path)  # fails if path exists: an exclusive create, NFS included
    except FileExistsError:
        return False
    except OSError:
        os.replace(temp, path)  # a file system without hard links
        return True
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    return True


def _usable(keys: list[str], shard: tuple[int, int] | None) -> tuple[list[str], list[FileResult]]:
    """The keys core.naming accepts, and a failed result for each it refuses: one odd row in
    the SDC's answer must not stop the rest of a sync (its watermark then stays, as for any
    failure)."""
    good, bad = [], []
    for key in keys:
        try:
            parse_key(key)
        except InvalidName as exc:
            if in_shard(key, shard):
                bad.append(FileResult(key, "failed", error=exc, reason=exc.message))
        else:
            good.append(key)
    return good, bad


def _mark_order(mark: str) -> dt.datetime:
    try:
        return parse_watermark(mark)
    except (TypeError, ValueError):
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def series_of(name: IMAPName) -> tuple[str, str]:
    """Files of one series differ only in their version: (folder, name without version)."""
    stem = name.name.replace(name.version, "", 1) if name.version else name.name
    return name.folder, stem


def find_superseded(
    data_dir: Path, sdc_keys: Iterable[str], local_keys: Iterable[str]
) -> list[Superseded]:
    """Local files of a series for which a newer version is known (in the SDC's answer or here).

    The local files considered are `local_keys` (those this filter set brought in) and, in the
    folders of `sdc_keys`, the files of the same series.
    """
    from imap_cli.core.download.datadir import destination

    # Per series only its newest version's rank and name, and keys (strings) rather than
    # parsed names: a sync may cover 100,000 files, and a parsed name takes ~800 bytes.
    newest: dict[tuple[str, str], tuple[tuple, str]] = {}

    def note(name: IMAPName) -> None:
        series = series_of(name)
        rank = version_sort_key(name)
        best = newest.get(series)
        if best is None or rank > best[0]:
            newest[series] = (rank, name.name)

    def parsed(key: str) -> IMAPName | None:
        try:
            return parse_key(key)
        except InvalidName:
            return None

    folders: set[str] = set()
    for key in sdc_keys:
        if (name := parsed(key)) is not None:
            note(name)
            folders.add(name.folder)
    wanted = set(newest)
    candidates = {name.key for key in local_keys if (name := parsed(key)) is not None}
    for folder in folders:
        try:
            entries = os.listdir(destination(data_dir, folder))
        except (OSError, IMAPError):
            continue
        for entry in entries:
            if entry.endswith((".part", ".partial", ".tmp")):
                continue
            name = parsed(f"{folder}/{entry}")
            if name is not None and series_of(name) in wanted:
                candidates.add(name.key)
    present = []
    for key in candidates:
        name = parse_key(key)
        if destination(data_dir, key).is_file():
            present.append(key)
            note(name)
    out = []
    for key in sorted(present):
        name = parse_key(key)
        rank, newer = newest[series_of(name)]
        if rank > version_sort_key(name):
            out.append(Superseded(destination(data_dir, key), key, newer))
    return out


def parse_since(value: Any) -> dt.date:
    """`since`: a day (YYYYMMDD or YYYY-MM-DD)."""
    return parse_date(value, "since date")


def sync(
    sdc: SDCClient,
    *,
    data_dir: Path,
    filters: Mapping[str, Any],
    jobs: int = 8,
    since: Any = None,
    dry_run: bool = False,
    latest_only: bool = False,
    prune_superseded: bool = False,
    shard: tuple[int, int] | None = None,
    on_event: EventSink = ignore_events,
) -> SyncSummary:
    """Bring data_dir up to date with the query `filters` (imap_cli.query's keyword names).

    Raises what a query raises (bad filters: UsageError; SDC down: Unavailable ...), and
    SyncStateError when the state is damaged and `since` was not given. A file's failure is
    in the results, and keeps the watermark where it was.
    """
    from imap_cli.core.download.datadir import ensure_data_dir

    filters = {k: v for k, v in filters.items() if v is not None and str(v).strip() != ""}
    plan_query(**filters)  # every value checked before anything is read or sent
    data_dir = Path(data_dir).expanduser()
    if not dry_run:
        data_dir = ensure_data_dir(data_dir)
    url = str(getattr(sdc.settings, "url", sdc.base_url))
    path = state_path(data_dir, url, filters, shard, latest_only)
    state, start_day = _starting_point(path, since)
    sent_at = _now()
    rows, table = _new_rows(sdc, filters, start_day, latest_only)
    keys, rejected = _usable(record_keys(rows, table), shard)
    del rows  # a record a file: only the keys are needed from here on
    results = _fetch(sdc, keys, rejected, data_dir, jobs, on_event, dry_run, shard)
    base = {
        "url": url,
        "filters": filter_identity(filters),
        "shard": f"{shard[0]}/{shard[1]}" if shard else None,
        "files": state.get("files", []),
        "watermark": state.get("watermark"),
    }
    summary = SyncSummary(
        results=results,
        watermark=state.get("watermark"),
        since=compact(start_day) if start_day else None,
        state_path=path,
        dry_run=dry_run,
    )
    brought = summary.brought
    mine = set(base["files"]) | set(brought)
    superseded = find_superseded(data_dir, keys, mine) if data_dir.exists() else []
    summary.superseded_files = superseded
    if dry_run:
        return summary
    pruned = _prune(superseded, mine) if prune_superseded else []
    complete = not summary.failed
    written = merge_state(
        path,
        base,
        watermark=format_watermark(sent_at) if complete else None,
        added=brought,
        removed=[p.key for p in pruned],
    )
    summary.watermark = written.get("watermark")
    summary.advanced = complete
    summary.pruned = [p.path for p in pruned]
    summary.superseded_files = [s for s in superseded if s not in pruned]
    return summary


def _fetch(
    sdc: SDCClient,
    keys: list[str],
    rejected: list[FileResult],
    data_dir: Path,
    jobs: int,
    on_event: EventSink,
    dry_run: bool,
    shard: tuple[int, int] | None,
) -> Joined:
    """Download what is missing: the results in a few bytes a file (CompactResults), not a
    result object each, since a sync may bring 100,000 files; the rejected rows first."""
    from imap_cli.core.download.pipeline import download_files

    fetched = download_files(
        sdc,
        keys,
        data_dir=data_dir,
        jobs=jobs,
        on_event=on_event,
        dry_run=dry_run,
        shard=shard,
        compact=True,
    )
    return Joined(rejected, fetched)


def _starting_point(path: Path, since: Any) -> tuple[dict[str, Any], dt.date | None]:
    """The filter set's state, and the ingestion day to ask from (None: from the start)."""
    if since is not None:
        start_day = parse_since(since)
        try:
            state = read_state(path) or {}
        except SyncStateError:
            state = {}  # --since is how a damaged state is got past
        return state, start_day
    state = read_state(path) or {}
    mark = state.get("watermark")
    return state, (parse_watermark(mark) - OVERLAP).date() if mark else None


def _new_rows(
    sdc: SDCClient, filters: Mapping[str, Any], start_day: dt.date | None, latest_only: bool
) -> tuple[list[dict], str]:
    """The query's rows ingested from `start_day` on, and the table they come from."""
    asked = dict(filters)
    user_start = filters.get("ingestion_start_date")
    if start_day is not None and (user_start is None or parse_since(user_start) < start_day):
        asked["ingestion_start_date"] = compact(start_day)
    table = str(asked.get("table") or "science").lower()
    if latest_only and table == "spice":
        asked["version"] = "latest"  # /spice-query resolves it per kernel
    end = filters.get("ingestion_end_date")
    if end is not None and start_day is not None and parse_since(end) < start_day:
        return [], table  # the window is closed: nothing can be new
    rows = run_query(sdc, **asked)
    if latest_only and table != "spice":
        rows = latest_records(rows)
    return rows, table


def _prune(superseded: list[Superseded], mine: set[str]) -> list[Superseded]:
    """Delete the superseded files this filter set brought in; returns those deleted."""
    pruned = []
    for item in superseded:
        # Only ours, and only once the newer version is here: when it failed (or belongs
        # to another shard) the older one is still the only copy.
        if item.key in mine and item.path.with_name(item.newer).is_file():
            with contextlib.suppress(FileNotFoundError):
                item.path.unlink()
            pruned.append(item)
    return pruned
