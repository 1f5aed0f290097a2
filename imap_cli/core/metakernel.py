"""Metakernels: ask the SDC which kernels cover a time range, fetch them, write a `.tm`.

`GET {base}/metakernel?list_files=true[&start_time&end_time&file_types&require_coverage]`
answers a JSON list of bare kernel file names in load order (404 `No files found.` when
nothing matches; 422 with `{category: [[start_et, end_et], ...]}` when coverage was required
and is incomplete). The kernels are downloaded into the data dir with the download machinery,
and the `.tm` lists their absolute local paths. The kernel pool keeps strings of at most 80
characters, so longer paths are cut into pieces of 79 that end with `+`, SPICE's continuation
mark for KERNELS_TO_LOAD.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imap_cli.core.errors import (
    BadResponse,
    IMAPError,
    NotFound,
    UsageError,
    option,
    printable,
    terminal,
)
from imap_cli.core.filters import check_member, compact, ordered_range, parse_date
from imap_cli.core.spice_time import spice_time_range, tdb_seconds_past_j2000

# Kernel types a metakernel can load: not the csv tables (spin, repoint, thruster) and not
# other metakernels.
NOT_LOADABLE = frozenset({"spin", "repoint", "thruster", "metakernel"})
PIECE = 79  # characters of a path per string in the .tm; the 80th is the `+`
_J2000 = dt.datetime(2000, 1, 1, 12, 0, 0)


def kernel_types() -> tuple[str, ...]:
    """The kernel types that /metakernel's file_types can select."""
    from imap_cli.core.vocabulary import SPICE_TYPES

    return tuple(t for t in SPICE_TYPES if t not in NOT_LOADABLE)


class CoverageGaps(IMAPError):
    """require_coverage: the SDC's kernels leave parts of the range uncovered (its 422)."""

    default_hint = (
        f"Drop {option('require_coverage')} to get the kernels there are, or narrow the dates."
    )

    def __init__(self, gaps: dict[str, list[tuple[float, float]]]) -> None:
        self.gaps = gaps
        spans = [(category, span) for category, v in gaps.items() for span in v]
        texts: dict[str, list[str]] = {}
        for category, (start, end) in spans[:6]:
            texts.setdefault(category, []).append(f"{utc_text(start)} to {utc_text(end)}")
        parts = [f"{printable(category)} {', '.join(t)}" for category, t in texts.items()]
        more = f" (and {len(spans) - 6} more)" if len(spans) > 6 else ""
        super().__init__(
            "the SDC's kernels do not cover the whole range; gaps: " + "; ".join(parts) + more
        )


@dataclass(frozen=True)
class MetakernelRequest:
    """A checked request: the query string for /metakernel."""

    params: tuple[tuple[str, str], ...]
    start: dt.date | None
    end: dt.date | None


@dataclass
class Metakernel:
    """A written (or, in a dry run, planned) metakernel."""

    names: list[str]  # bare kernel names, in load order
    keys: list[str]  # their SDC keys
    paths: list[Path]  # local paths, in load order
    text: str  # the .tm
    results: list[Any]  # the downloads' FileResults
    output: Path | None = None


def utc_from_et(et: float) -> dt.datetime:
    """The UTC moment (naive) of TDB seconds past J2000, to well under a second."""
    guess = _J2000 + dt.timedelta(seconds=et - 69.184)
    offset = tdb_seconds_past_j2000(guess) - (guess - _J2000).total_seconds()
    return _J2000 + dt.timedelta(seconds=et - offset)


def utc_text(et: Any) -> str:
    """`YYYY-MM-DD HH:MM:SS` UTC for an ET, or the value as given if it is not a number."""
    try:
        moment = utc_from_et(float(et))
    except (TypeError, ValueError, OverflowError):
        return printable(str(et))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def plan_metakernel(
    *,
    start_date: Any = None,
    end_date: Any = None,
    types: Iterable[str] | None = None,
    require_coverage: bool = False,
) -> MetakernelRequest:
    """Check dates and kernel types; raises UsageError before any I/O."""
    start = parse_date(start_date, "start_date") if start_date not in (None, "") else None
    end = parse_date(end_date, "end_date") if end_date not in (None, "") else None
    ordered_range("start_date", "end_date", {"start_date": start, "end_date": end})
    chosen: list[str] = []
    for value in types or ():
        for part in str(value).split(","):
            if not part.strip():
                continue
            if part.strip().lower() in NOT_LOADABLE:
                raise UsageError(
                    f"{part.strip()!r} files are not kernels a metakernel loads",
                    "Get spin, repoint and small-forces tables with "
                    + terminal("spice-tables", "query(table='spice', type='spin')")
                    + ".",
                    field="types",
                    value=part.strip(),
                )
            kind = check_member(
                "types", part, kernel_types(), "attitude_history", name_choices=False
            )
            if kind not in chosen:
                chosen.append(kind)
    # Whole UTC days, as ephemeris seconds: the SDC reads a bare YYYYMMDD as that day's
    # midnight, which would leave the end day out.
    start_time, end_time = spice_time_range(start, end)
    given = {"start_time": start_time, "end_time": end_time, "file_types": ",".join(chosen)}
    params = [(name, str(value)) for name, value in given.items() if value not in (None, "")]
    params.append(("list_files", "true"))
    if require_coverage:
        params.append(("require_coverage", "true"))
    return MetakernelRequest(tuple(params), start, end)


def kernel_names(client: Any, request: MetakernelRequest) -> list[str]:
    """The SDC's kernels for the request, bare names in load order."""
    response = client.api(
        "GET",
        client.api_url("metakernel"),
        params=list(request.params),
        what="metakernel",
        ok=(200, 404, 422),
    )
    if response.status_code == 404:
        text = response.text.strip()
        if "no files found" not in text.lower():
            raise client.http_error(response, "metakernel")
        raise NotFound(
            "metakernel: the SDC has no kernels for this range and these types",
            "Check the dates, or what there is with "
            + terminal("spice-query", "query(table='spice', start_date=D)")
            + ".",
            status=404,
        )
    try:
        data = response.json()
    except ValueError:
        raise BadResponse(
            f"metakernel: the SDC answered {response.status_code} with a body that is not JSON"
        ) from None
    if response.status_code == 422:
        raise CoverageGaps(_gaps(data))
    if not isinstance(data, list) or not all(isinstance(n, str) for n in data):
        raise BadResponse("metakernel: the SDC's answer is not a list of kernel names")
    return data


def _gaps(data: Any) -> dict[str, list[tuple[float, float]]]:
    if not isinstance(data, dict):
        raise BadResponse("metakernel: the SDC's 422 does not list coverage gaps")
    gaps: dict[str, list[tuple[float, float]]] = {}
    for category, spans in data.items():
        items = spans if isinstance(spans, list) else []
        gaps[str(category)] = [
            (s[0], s[1]) for s in items if isinstance(s, (list, tuple)) and len(s) == 2
        ]
    return gaps


def kernel_keys(names: Sequence[str]) -> list[str]:
    """The SDC key of each bare kernel name (its SPICE family gives the folder)."""
    from imap_cli.core.naming import parse

    keys = []
    for name in names:
        base = name.rpartition("/")[2]
        try:
            keys.append(parse(base).key)
        except IMAPError as error:
            raise BadResponse(
                f"metakernel: the SDC listed {printable(name)!r}, which is not a SPICE kernel "
                f"name ({error.template})"
            ) from None
    return keys


def _pieces(path: str) -> list[str]:
    """A path as .tm strings: pieces of PIECE characters, each but the last ending with +."""
    if len(path) <= PIECE + 1:
        return [path]
    cuts = [path[i : i + PIECE] for i in range(0, len(path), PIECE)]
    return [c + "+" for c in cuts[:-1]] + [cuts[-1]]


def render(paths: Sequence[str | os.PathLike], comment: str = "") -> str:
    """The text of a metakernel that loads `paths` in order."""
    lines = ["KPL/MK", ""]
    if comment:
        lines += [comment, ""]
    lines += ["\\begindata", "", "KERNELS_TO_LOAD = ("]
    for path in paths:
        # SPICE doubles a quote inside a string; the continuation joins the values as read.
        pieces = _pieces(os.fspath(path))
        lines += ["    '{}'".format(piece.replace("'", "''")) for piece in pieces]
    lines += [")", "", "\\begintext", ""]
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> Path:
    """Write `text` to `path` via a temporary file in the same folder and os.replace."""
    path = Path(path).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path.resolve()


def describe(request: MetakernelRequest) -> str:
    """A comment for the .tm: what was asked for."""
    days = " to ".join(compact(d) for d in (request.start, request.end) if d is not None)
    types = dict(request.params).get("file_types", "all kernel types")
    when = f"covering {days}" if days else "for all dates"
    return f"Written by imap-cli: IMAP SDC kernels {when} ({types})."


def build(
    client: Any,
    request: MetakernelRequest,
    *,
    data_dir: Path,
    jobs: int = 8,
    output: Path | None = None,
    force: bool = False,
    dry_run: bool = False,
    on_event: Any = None,
) -> Metakernel:
    """Ask the SDC, download the missing kernels, render the .tm (and write it to `output`).

    Nothing is written at `output` unless every kernel is present locally: a metakernel
    naming a missing file would fail in furnsh. `dry_run` downloads and writes nothing.
    """
    from imap_cli.core.download.datadir import destination
    from imap_cli.core.download.pipeline import download_files
    from imap_cli.core.transfer import ignore_events

    names = kernel_names(client, request)
    keys = kernel_keys(names)
    data_dir = Path(data_dir).expanduser()
    results: list[Any] = []
    if not dry_run and keys:
        results = download_files(
            client,
            keys,
            data_dir=data_dir,
            jobs=jobs,
            force=force,
            on_event=on_event or ignore_events,
        )
    paths = [destination(data_dir, key).resolve() for key in keys]
    text = render(paths, describe(request))
    written = None
    if output is not None and not dry_run and all(r.error is None for r in results):
        written = write_atomically(Path(output), text)
    return Metakernel(names, keys, paths, text, results, written)
