"""The SDC's operations routes for `imap serve`: reprocess, release,
processing jobs and logs, metakernels.

- reprocess: queued in memory and answered at once; like the SDC, nothing is checked. Its jobs
  then run in emulation (server/emulation.py): listed by /processing-jobs, re-making files.
- release: reads the manifest from the archive (imap/release/<inst>/<name>) and flags the
  latest version of each matching series released (see Catalogue.mark_released).
- processing jobs and logs: read from ROOT/.imap-serve/jobs.json (`{"jobs": [...], "logs":
  {stream: text}}`), which `imap serve --demo` writes; an archive without it has no jobs.
- metakernel: the latest version of each kernel covering the range, in load order.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imap_cli.core.schema import JOB_FILTERS
from imap_cli.server import spice
from imap_cli.server.answer import Answer, crash, json_answer
from imap_cli.server.catalogue import Catalogue

JOBS_FILE = (".imap-serve", "jobs.json")
RELEASE_TYPES = ["release", "unrelease", "early-release"]
RELEASE_PARAMETERS = ["release_type", "manifest_file"]
MAX_JOBS = 500
MAX_QUEUED = 1000  # reprocess requests remembered (the oldest go first)
MAX_PARAMETERS = 16  # of one reprocess request, each value cut to MAX_VALUE_CHARS
MAX_VALUE_CHARS = 256
DEDUP_SECONDS = 300.0  # the SDC's FIFO queue drops an identical request inside this window
# Load order of the kernel types in a metakernel: time and frames first, attitude last.
KERNEL_ORDER = (
    "leapseconds",
    "spacecraft_clock",
    "planetary_constants",
    "earth_attitude",
    "imap_frames",
    "science_frames",
    "planetary_ephemeris",
    "lagrange_point",
    "ephemeris_launch",
    "ephemeris_long",
    "ephemeris_90days",
    "ephemeris_nominal",
    "ephemeris_predicted",
    "ephemeris_reconstructed",
    "attitude_predict",
    "attitude_history",
    "pointing_attitude",
    "lo_pivot_attitude",
)
# --require-coverage checks these categories (of the types selected).
COVERAGE = {
    "attitude": ("attitude_predict", "attitude_history"),
    "ephemeris": tuple(t for t in KERNEL_ORDER if t.startswith("ephemeris_")),
}


@dataclass
class Operations:
    """State of the operations routes of one server."""

    catalogue: Catalogue
    emulator: Any = None  # server.emulation.JobEmulator: the jobs of reprocess requests
    reprocess_requests: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=MAX_QUEUED)
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reprocess(self, params: dict[str, str] | None) -> Answer:
        """Queue the request as the SDC does: unchecked; an identical recent one is dropped."""
        # Kept in memory: bounded in number, names and length whatever a client sends.
        request = {
            name[:MAX_VALUE_CHARS]: value[:MAX_VALUE_CHARS]
            for name, value in list((params or {}).items())[:MAX_PARAMETERS]
        }
        now = time.monotonic()
        with self._lock:
            duplicate = any(
                r["params"] == request and now - r["at"] < DEDUP_SECONDS
                for r in self.reprocess_requests
            )
            reprocess_id = str(uuid.uuid4())
            self.reprocess_requests.append(
                {"params": request, "at": now, "id": reprocess_id, "dropped": duplicate}
            )
        if self.emulator is not None and not duplicate:
            self.emulator.queue(request)
        return json_answer(200, {"message": "Reprocess job queued", "reprocess_id": reprocess_id})

    def tick(self) -> None:
        """Move the emulated jobs on (before a query: re-made files show new ingestion dates
        whether or not anyone reads the jobs)."""
        if self.emulator is not None:
            self.emulator.rows(polled=False)

    def release(self, params: dict[str, str] | None) -> Answer:
        """GET /api-key/release: check the parameters in the SDC's order, then release."""
        params = dict(params or {})
        release_type = params.get("release_type")
        if release_type is None:
            return crash()
        if release_type not in RELEASE_TYPES:
            return json_answer(
                400,
                f"'{release_type}' is not a valid release_type. Valid options are: {RELEASE_TYPES}",
            )
        for name in params:
            if name not in RELEASE_PARAMETERS:
                return json_answer(
                    400,
                    f"'{name}' is not a valid query parameter. Valid query parameters are: "
                    f"{RELEASE_PARAMETERS}",
                )
        manifest = params.get("manifest_file")
        if release_type == "release" and not manifest:
            return json_answer(
                400, "Missing required query parameter 'manifest_file' for release operation."
            )
        if release_type != "release":
            return Answer(501, f"Release type '{release_type}' is not supported yet.", "text/plain")
        try:
            keys = self._release_keys(str(manifest))
        except (ValueError, OSError):
            return crash()
        self.catalogue.mark_released(keys)
        name = str(manifest).rsplit("/", 1)[-1]
        return json_answer(200, f"Successfully released data per specification in {name}")

    def _release_keys(self, manifest: str) -> list[str]:
        """The keys a manifest releases; ValueError where the SDC's lambda would fail."""
        from imap_cli.core.naming import parse

        name = manifest.rsplit("/", 1)[-1]
        from imap_cli.core.errors import IMAPError

        try:
            parsed = parse(name)
        except IMAPError as error:
            raise ValueError(name) from error
        if parsed.kind != "release" or not parsed.end_date:
            raise ValueError(name)
        entry = self.catalogue.get(parsed.key)
        if entry is None:
            raise ValueError(f"{parsed.key} is not in the archive")
        text = entry.path.read_text(encoding="utf-8")
        first, last = parsed.start_date, parsed.end_date
        keys: list[str] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#") or line.startswith("instrument,"):
                continue
            fields = [f.strip() for f in line.split(",")]
            if len(fields) != 4:
                raise ValueError(line)
            instrument, data_type, descriptor, flag = fields
            if flag.lower() != "true":
                continue
            keys += self._latest(instrument, data_type, descriptor, first, last)
        return keys

    def _latest(self, instrument: str, data_type: str, descriptor: str, first: str, last: str):
        tables = []
        if data_type != "ancillary":
            tables.append("science")
        if data_type in ("all", "ancillary"):
            tables.append("ancillary")
        keys = []
        for table in tables:
            where = ["tbl = ?", "instrument = ?", "start_date >= ?", "start_date <= ?"]
            args: list[Any] = [table, instrument, first, last]
            if table == "science" and data_type != "all":
                where.append("data_level = ?")
                args.append(data_type)
            if descriptor.lower() != "all":
                where.append("descriptor = ?")
                args.append(descriptor)
            order = "major DESC, minor DESC" if table == "science" else "version DESC"
            rows = self.catalogue.rows(
                "SELECT key FROM (SELECT key, rank() OVER (PARTITION BY instrument, data_level, "
                f"descriptor, start_date, repointing ORDER BY {order}) AS n FROM files "
                f"WHERE {' AND '.join(where)}) WHERE n = 1",
                args,
            )
            keys += [k for (k,) in rows]
        return keys

    def _jobs_file(self) -> dict[str, Any]:
        path = self.catalogue.root.joinpath(*JOBS_FILE)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"jobs": [], "logs": {}}
        return data if isinstance(data, dict) else {"jobs": [], "logs": {}}

    def jobs(self, params: dict[str, str] | None) -> Answer:
        """GET /processing-jobs: exact-match filters, newest first, at most 500."""
        params = dict(params or {})
        for name in params:
            if name not in JOB_FILTERS:
                return json_answer(400, {"error": f"Invalid parameter: {name}"})
        if "start_date" in params:
            try:
                day = dt.datetime.strptime(params["start_date"], "%Y%m%d").date().isoformat()
            except ValueError:
                return json_answer(
                    400, {"error": "Invalid date format for start_date. Expected YYYYMMDD."}
                )
            params["start_date"] = day
        every = list(self._jobs_file().get("jobs", []))
        if self.emulator is not None:
            every += self.emulator.rows()
        rows = [job for job in every if _job_matches(job, params)]
        rows.sort(key=lambda j: str(j.get("started_at") or ""), reverse=True)
        return json_answer(200, rows[:MAX_JOBS])

    def logs(self, stream: str) -> Answer:
        """GET /processing-logs/<stream>: the log as text; 500 {"error"} if unknown."""
        logs = self._jobs_file().get("logs", {})
        text = logs.get(stream) if isinstance(logs, dict) else None
        if text is None and self.emulator is not None:
            text = self.emulator.logs().get(stream)
        if not isinstance(text, str):
            return json_answer(
                500,
                {
                    "error": f"Could not fetch logs for id [{stream}]: An error occurred "
                    "(ResourceNotFoundException) when calling the GetLogEvents operation: "
                    "The specified log stream does not exist."
                },
            )
        return Answer(200, text, "text/plain; charset=utf-8")

    def metakernel(self, params: dict[str, str] | None) -> Answer:
        """GET /metakernel: the kernels covering the range, as a list or a .tm."""
        params = dict(params or {})
        try:
            start = _et(params.get("start_time"), spice.ALWAYS[0])
            end = _et(params.get("end_time"), spice.ALWAYS[1])
        except ValueError:
            return crash()
        wanted = [t.strip().lower() for t in params.get("file_types", "").split(",") if t.strip()]
        types = [t for t in KERNEL_ORDER if not wanted or t in wanted]
        chosen = self._kernels(types, start, end)
        if params.get("require_coverage", "").lower() == "true":
            gaps = _gaps(chosen, types, start, end)
            if gaps:
                return json_answer(422, gaps)
        names = [name for name, *_ in chosen]
        if params.get("list_files", "").lower() == "true":
            if not names:
                return Answer(404, "No files found.", "text/plain")
            return json_answer(200, names)
        base = params.get("spice_path", "").rstrip("/")
        paths = [f"{base}/{key.split('/', 2)[2]}" if base else key for _, key, *_ in chosen]
        return Answer(200, _tm_text(paths), "text/plain")

    def _kernels(self, types: list[str], start: float, end: float) -> list[tuple]:
        if not types:
            return []
        marks = ", ".join("?" for _ in types)
        rows = self.catalogue.rows(
            "SELECT name, key, kernel_type, file_root, kversion, min_et, max_et FROM files "
            f"WHERE tbl = 'spice' AND kernel_type IN ({marks}) AND max_et >= ? AND min_et <= ?",
            [*types, start, end],
        )
        newest: dict[str, int] = {}
        for _name, _key, _type, root, version, *_ in rows:
            newest[root] = max(newest.get(root, -1), version if version is not None else -1)
        kept = [r for r in rows if (r[4] if r[4] is not None else -1) == newest[r[3]]]
        return sorted(kept, key=lambda r: (KERNEL_ORDER.index(r[2]), r[5], r[0]))


def _job_matches(job: dict[str, Any], params: dict[str, str]) -> bool:
    for name, value in params.items():
        cell = job.get(name)
        if name == "start_date":
            if not str(cell or "").startswith(value):
                return False
        elif cell is None or str(cell) != value:
            return False
    return True


def _et(value: str | None, default: dt.datetime) -> float:
    """TDB seconds past J2000 from YYYYMMDD (that day's midnight UTC) or a number."""
    if value is None or value == "":
        return spice.tdb_seconds(default)
    if len(value) == 8 and value.isdigit():
        day = dt.datetime.strptime(value, "%Y%m%d").replace(tzinfo=dt.timezone.utc)
        return spice.tdb_seconds(day)
    return float(value)


def _gaps(chosen: list[tuple], types: list[str], start: float, end: float) -> dict[str, list]:
    gaps: dict[str, list] = {}
    for category, members in COVERAGE.items():
        if not any(t in types for t in members):
            continue
        spans = sorted((r[5], r[6]) for r in chosen if r[2] in members)
        holes = []
        cursor = start
        for low, high in spans:
            if low > cursor:
                holes.append([cursor, min(low, end)])
            cursor = max(cursor, high)
            if cursor >= end:
                break
        if cursor < end:
            holes.append([cursor, end])
        if holes:
            gaps[category] = holes
    return gaps


def _tm_text(paths: list[str]) -> str:
    lines = ["\\begindata", "", "KERNELS_TO_LOAD = ("]
    for path in paths:
        pieces = [path[i : i + 79] for i in range(0, len(path), 79)] or [""]
        lines += [f"    '{p}+'" for p in pieces[:-1]] + [f"    '{pieces[-1]}'"]
    lines += [")", "", "\\begintext", ""]
    return "\n".join(lines)


def write_jobs(root: Path, jobs: list[dict[str, Any]], logs: dict[str, str]) -> Path:
    """Write ROOT/.imap-serve/jobs.json (used by the demo)."""
    path = Path(root).joinpath(*JOBS_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"jobs": jobs, "logs": logs}, indent=1), encoding="utf-8")
    return path
