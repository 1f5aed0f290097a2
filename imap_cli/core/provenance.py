"""Where a file came from: the Parents a CDF names, and whether they are still the SDC's best.

Every IMAP CDF lists its inputs in the global attribute `Parents`. `trace` reads them (the
attributes only, never the data), classifies each name with the naming rules, sees which are
in the data dir, and asks the SDC about all of them at once: the parents are grouped by
product (science: instrument, level, descriptor; ancillary: instrument, descriptor; SPICE:
kernel type) and by runs of nearby dates, and each group is one query, so thousands of files
cost a few queries, not one per parent. From the answers: is each parent in the SDC, and is
a newer version there (superseded)? A parent that is a predicted SPICE kernel is flagged too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imap_cli.core.cdf import UnreadableFile, parents_of
from imap_cli.core.errors import BadRequest, InvalidName, UsageError
from imap_cli.core.naming import IMAPName, parse, parse_key, version_sort_key
from imap_cli.core.records import record_name
from imap_cli.core.transfer import EventSink, FileResult, ignore_events

# Dates of one product further apart than this go to separate queries: a query over a long
# empty stretch would bring back files nobody asked about.
GAP_DAYS = 31
# Kernel types whose kernels are predictions, not reconstructions.
PREDICTED_TYPES = frozenset({"attitude_predict", "ephemeris_predicted"})
# Files that may name parents (the others are packets, kernels, tables).
CAN_HAVE_PARENTS = ("cdf",)


@dataclass
class Parent:
    """One name in a file's Parents, and what is known about it."""

    name: str
    key: str | None = None  # None: not an IMAP name
    kind: str | None = None
    path: Path | None = None  # where it is in the data dir, when it is there
    in_sdc: bool | None = None  # None: not asked (not an IMAP name, or a kind never queried)
    newer: str | None = None  # the SDC's newer version of it, when there is one
    predicted: bool = False
    problem: str | None = None  # why the name is not an IMAP name
    parsed: IMAPName | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "kind": self.kind,
            "local": self.path is not None,
            "path": None if self.path is None else str(self.path),
            "in_sdc": self.in_sdc,
            "newer": self.newer,
            "predicted": self.predicted,
        }


@dataclass
class FileParents:
    """A file and its parents; `depth` 0 for a file asked about, 1 for its parents, ..."""

    file: str
    name: str
    parents: list[Parent]
    depth: int = 0

    @property
    def superseded(self) -> list[Parent]:
        return [p for p in self.parents if p.newer is not None]

    @property
    def predicted(self) -> list[Parent]:
        return [p for p in self.parents if p.predicted]

    @property
    def missing(self) -> list[Parent]:
        return [p for p in self.parents if p.in_sdc is False and p.newer is None]

    @property
    def status(self) -> str:
        """ "missing" (an input the SDC does not have), "stale" (an input superseded by a
        newer version, or a predicted kernel) or "ok"."""
        if self.missing:
            return "missing"
        if self.superseded or self.predicted:
            return "stale"
        return "ok"

    def as_dict(self) -> dict[str, Any]:
        """The file and its parents, as JSON can hold them."""
        return {
            "file": self.file,
            "depth": self.depth,
            "parents": [p.as_dict() for p in self.parents],
        }

    def as_check(self) -> dict[str, Any]:
        """The audit of the file: its status and the parents that made it so."""
        return {
            "file": self.file,
            "status": self.status,
            "superseded": [{"parent": p.name, "newer": p.newer} for p in self.superseded],
            "predicted": [p.name for p in self.predicted],
            "missing": [p.name for p in self.missing],
        }


@dataclass
class Provenance:
    """What `trace` found: the files read (given ones first), the files that could not be
    read, the downloads made, and the number of SDC queries sent."""

    files: list[FileParents] = field(default_factory=list)
    unreadable: list[UnreadableFile] = field(default_factory=list)
    downloads: list[FileResult] = field(default_factory=list)
    queries: int = 0

    @property
    def given(self) -> list[FileParents]:
        return [f for f in self.files if f.depth == 0]


@dataclass(frozen=True)
class Located:
    """A file asked about: a local file, or an SDC key to fetch into the data dir."""

    item: str
    path: Path
    key: str | None = None  # set when the file is (or will be) at its place in the data dir

    @property
    def present(self) -> bool:
        return self.path.is_file()


def locate(items: Iterable[str], data_dir: Path) -> list[Located]:
    """Each item as a local file: a path that exists, or an IMAP name or SDC key, placed in
    the data dir (where it may not be yet). Raises InvalidName for anything else."""
    from imap_cli.core.download.datadir import destination

    found = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_file():
            found.append(Located(item, path))
            continue
        if path.is_dir():
            raise UnreadableFile(
                f"{item} is a folder; give files (a shell pattern such as {item}/**/*.cdf "
                "names them)",
                field="path",
                value=item,
            )
        try:
            name = parse_key(item)
        except InvalidName as bad:
            reason = bad.template.removeprefix(f"{item!r}: ")
            bad.template = f"{item!r}: no such file, and {reason}"
            raise
        found.append(Located(item, destination(Path(data_dir).expanduser(), name.key), name.key))
    return found


def _classify(name: str, root: str | None) -> Parent:
    try:
        parsed = parse(name)
    except InvalidName as bad:
        return Parent(name, problem=bad.message)
    parent = Parent(name, parsed.key, parsed.kind, predicted=is_predicted(parsed), parsed=parsed)
    if root is not None:
        # A parsed name's key is safe (no `..`, no separators in its parts), so a plain join
        # stays inside the data dir; pathlib would cost more than the rest of the audit.
        where = os.path.join(root, *parsed.key.split("/"))
        if os.path.isfile(where):
            parent.path = Path(where)
    return parent


def is_predicted(name: IMAPName) -> bool:
    """A predicted SPICE kernel: its type says so, or `pred` is in its name."""
    return name.kind == "spice" and (
        name.spice_type in PREDICTED_TYPES or "pred" in name.name.lower()
    )


def read_parents(
    paths: Sequence[Path], data_dir: Path | None, depth: int = 0
) -> tuple[list[FileParents], list[UnreadableFile]]:
    """Each file's Parents (attributes only), classified and looked for in `data_dir`."""
    cache: dict[str, Parent] = {}
    files, unreadable = [], []
    root = None if data_dir is None else os.path.abspath(data_dir)
    for path in paths:
        try:
            names = parents_of(Path(path))
        except UnreadableFile as bad:
            unreadable.append(bad)
            continue
        parents = []
        for name in names:
            if name not in cache:
                cache[name] = _classify(name, root)
            parents.append(cache[name])
        files.append(FileParents(str(path), Path(path).name, parents, depth))
    return files, unreadable


# ---------------------------------------------------------------------------------------
# The SDC's view, in a few grouped queries


@dataclass(frozen=True)
class Group:
    """One query: a table, the filters of a product, and a date range."""

    table: str
    filters: tuple[tuple[str, str], ...]
    start: str | None
    end: str | None

    def query(self) -> dict[str, Any]:
        out: dict[str, Any] = {"table": self.table, **dict(self.filters)}
        if self.start:
            out["start_date"] = self.start
        if self.end:
            out["end_date"] = self.end
        return out


def _product(name: IMAPName) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    if name.kind == "science":
        return "science", (
            ("instrument", name.instrument or ""),
            ("data_level", name.data_level or ""),
            ("descriptor", name.descriptor or ""),
        )
    if name.kind == "ancillary":
        return "ancillary", (
            ("instrument", name.instrument or ""),
            ("descriptor", name.descriptor or ""),
        )
    if name.kind == "spice" and name.spice_type:
        return "spice", (("type", name.spice_type),)
    return None


def _day(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def plan_groups(names: Iterable[IMAPName]) -> dict[Group, list[IMAPName]]:
    """The queries that answer for `names`: one per product and run of nearby dates."""
    products: dict[tuple[str, tuple], list[IMAPName]] = {}
    for name in names:
        product = _product(name)
        if product is not None:
            products.setdefault(product, []).append(name)
    groups: dict[Group, list[IMAPName]] = {}
    for (table, filters), members in products.items():
        if table == "spice":
            groups.update(_spice_groups(filters, members))
            continue
        dated = sorted(members, key=lambda n: n.start_date or "")
        run: list[IMAPName] = []
        for name in dated:
            if run and (_day(name.start_date) - _day(run[-1].start_date)).days > GAP_DAYS:
                groups[_science_group(table, filters, run)] = run
                run = []
            run.append(name)
        if run:
            groups[_science_group(table, filters, run)] = run
    return groups


def _science_group(table: str, filters: tuple, run: list[IMAPName]) -> Group:
    return Group(table, filters, run[0].start_date, run[-1].start_date)


def _spice_groups(filters: tuple, members: list[IMAPName]) -> dict[Group, list[IMAPName]]:
    # /spice-query keeps kernels overlapping the time range; a kernel with no dates in its
    # name (naif0012.tls) needs the whole type.
    if any(not (n.start_date and n.end_date) for n in members):
        return {Group("spice", filters, None, None): members}
    start = min(n.start_date for n in members if n.start_date)
    end = max(n.end_date for n in members if n.end_date)
    return {Group("spice", filters, start, end): members}


def _series(name: IMAPName) -> tuple[str, str]:
    stem = name.name.replace(name.version, "", 1) if name.version else name.name
    return name.folder, stem


@dataclass
class SDCView:
    """What the SDC holds of the names asked about: the names it has, and per series its
    newest version; `asked` holds the names whose group was queried."""

    have: set[str] = field(default_factory=set)
    newest: dict[tuple[str, str], IMAPName] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)
    queries: int = 0

    def note(self, name: IMAPName) -> None:
        self.have.add(name.name)
        series = _series(name)
        best = self.newest.get(series)
        if best is None or version_sort_key(name) > version_sort_key(best):
            self.newest[series] = name

    def judge(self, parent: Parent) -> None:
        """Fill in `parent.in_sdc` and `parent.newer` from the answers."""
        if parent.parsed is None or parent.name not in self.asked:
            return
        name = parent.parsed
        best = self.newest.get(_series(name))
        if best is not None and version_sort_key(best) > version_sort_key(name):
            parent.newer = best.name
        # A plain query brings back only the newest major version of a series, so an older
        # major's absence from the answer says nothing about whether the SDC still has it.
        parent.in_sdc = True if name.name in self.have else (None if parent.newer else False)


def lookup(
    client: Any,
    names: Iterable[str | IMAPName],
    *,
    jobs: int = 4,
    run_query: Callable[..., list[dict]] | None = None,
) -> SDCView:
    """Ask the SDC about `names` (IMAP file names, or names parsed already) in grouped
    queries, `jobs` at a time."""
    from imap_cli.core.query import run_query as default_query
    from imap_cli.core.workers import WorkerPool

    ask = run_query or default_query
    parsed: dict[str, IMAPName] = {}
    for item in names:
        if isinstance(item, IMAPName):
            parsed.setdefault(item.name, item)
        elif item not in parsed:
            with contextlib.suppress(InvalidName):
                parsed[item] = parse(item)
    groups = plan_groups(parsed.values())
    view = SDCView()
    if not groups:
        return view
    pool = WorkerPool(min(jobs, len(groups)), "parents-lookup")
    try:
        futures = {
            group: pool.submit(functools.partial(ask, client, **group.query())) for group in groups
        }
        for group, future in futures.items():
            try:
                rows = future.result()
            except (UsageError, BadRequest):
                # a kind of file this SDC cannot be asked about (a kernel type it lacks): its
                # names stay unknown; an SDC that cannot be reached still stops the audit
                view.queries += 1
                continue
            view.queries += 1
            view.asked.update(n.name for n in groups[group])
            for row in rows:
                with contextlib.suppress(InvalidName, KeyError, TypeError):
                    view.note(parse(record_name(row)))
    finally:
        pool.stop(drop=True)
    return view


# ---------------------------------------------------------------------------------------
# The walk


def trace(
    client: Any,
    paths: Sequence[Path],
    *,
    data_dir: Path,
    download: bool = False,
    recursive: bool = False,
    jobs: int = 8,
    on_event: EventSink = ignore_events,
) -> Provenance:
    """Read the Parents of `paths`, ask the SDC about them, and (with `download`) fetch the
    ones not in the data dir; with `recursive`, do the same for the parents' parents, down
    to files that name none (level 0 packets, kernels), each file once."""
    data_dir = Path(data_dir).expanduser()
    result = Provenance()
    seen = {Path(p).name for p in paths}
    frontier: list[Path] = list(paths)
    depth = 0
    while frontier:
        files, unreadable = read_parents(frontier, data_dir, depth)
        result.files += files
        result.unreadable += unreadable
        parents = _distinct(p for f in files for p in f.parents)
        view = lookup(client, [p.parsed for p in parents if p.parsed], jobs=jobs)
        result.queries += view.queries
        for parent in parents:
            view.judge(parent)
        if download:
            result.downloads += _fetch(client, parents, data_dir, jobs, on_event)
        if not recursive:
            break
        frontier = []
        for parent in parents:
            if parent.name in seen or parent.path is None:
                continue
            seen.add(parent.name)
            if parent.name.rsplit(".", 1)[-1] in CAN_HAVE_PARENTS:
                frontier.append(parent.path)
        depth += 1
    return result


def _distinct(parents: Iterable[Parent]) -> list[Parent]:
    out: dict[int, Parent] = {}
    for parent in parents:
        out.setdefault(id(parent), parent)
    return list(out.values())


def _fetch(
    client: Any, parents: list[Parent], data_dir: Path, jobs: int, on_event: EventSink
) -> list[FileResult]:
    """Download the parents that are in the SDC and not in the data dir; note their paths."""
    from imap_cli.core.download.pipeline import download_files

    wanted = {p.key: p for p in parents if p.path is None and p.key and p.in_sdc is not False}
    if not wanted:
        return []
    results = download_files(client, list(wanted), data_dir=data_dir, jobs=jobs, on_event=on_event)
    for result in results:
        parent = wanted.get(result.key)
        if parent is not None and result.ok and result.path is not None:
            parent.path = result.path
    return list(results)
