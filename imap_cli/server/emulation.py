"""The job life cycle of a reprocess request, emulated by `imap serve`.

A queued request makes one job per latest file of its instrument (level and descriptor, when
given) starting in its date range. Each job is queued (not listed: the SDC lists jobs once they
start), then INPROGRESS, then SUCCEEDED, one stage per `delay` seconds; a SUCCEEDED job re-makes
its file: the file's ingestion date (its mtime) becomes the time it finished. A job whose file
name matches one of `failures` (fnmatch patterns) ends FAILED and leaves its file as it was.

With `polls` > 0, a stage lasts that many `/processing-jobs` answers instead of a time, so a
test can watch a job run without a clock. Stages advance only when the jobs are read (lazily),
so an idle server does no work.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imap_cli.server.catalogue import Catalogue

UTC = dt.timezone.utc
MAX_EMULATED = 2000  # jobs remembered; a request over a huge range makes at most this many
QUEUED, RUNNING, DONE = 0, 1, 2


@dataclass
class _Job:
    key: str
    name: str
    instrument: str
    data_level: str
    descriptor: str
    start_date: str  # YYYYMMDD
    repointing: int | None
    major: int
    minor: int
    queued_at: float
    fails: bool
    stage: int = QUEUED
    polls: int = 0
    started_at: dt.datetime | None = None
    stopped_at: dt.datetime | None = None
    stream: str = ""

    def row(self) -> dict[str, Any]:
        status = {RUNNING: "INPROGRESS", DONE: "FAILED" if self.fails else "SUCCEEDED"}
        day = self.start_date
        return {
            "job_command": (
                f"imap_cli --instrument {self.instrument} --data-level {self.data_level} "
                f"--descriptor {self.descriptor} --start-date {day} "
                f"--version v{self.major:03d}.{self.minor:04d} --upload-to-sdc"
            ),
            "status": status[self.stage],
            "instrument": self.instrument,
            "data_level": self.data_level,
            "descriptor": self.descriptor,
            "start_date": f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00",
            "major_version": self.major,
            "minor_version": self.minor,
            "repointing": self.repointing,
            "dependency_hash": self.stream[-16:],
            "job_definition": f"ProcessingJob-{self.instrument}-{self.data_level}",
            "job_log_stream_id": self.stream,
            "container_image": None if self.stage == RUNNING else f"imap-{self.instrument}:latest",
            "container_image_digest": None
            if self.stage == RUNNING
            else f"sha256:{hashlib.sha256(self.stream.encode()).hexdigest()}",
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
        }

    def log(self) -> str:
        assert self.started_at is not None
        lines = [f"{self.started_at:%Y-%m-%dT%H:%M:%S} INFO Reprocessing {self.name}"]
        if self.stage == DONE and self.stopped_at is not None:
            when = f"{self.stopped_at:%Y-%m-%dT%H:%M:%S}"
            if self.fails:
                lines += [
                    f"{when} ERROR Processing failed: emulated failure for {self.name}",
                    f"{when} ERROR Processing failed with exit code 1",
                ]
            else:
                lines += [f"{when} INFO Re-made {self.name}", f"{when} INFO Processing complete"]
        return "\n".join(lines)


@dataclass
class JobEmulator:
    """The emulated jobs of one server (see the module's doc)."""

    catalogue: Catalogue
    delay: float = 2.0
    polls: int = 0
    failures: tuple[str, ...] = ()
    clock: Callable[[], float] = time.time
    _jobs: list[_Job] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def queue(self, params: Mapping[str, str]) -> int:
        """Make the jobs of one reprocess request; how many. A request the SDC's scheduler
        would drop (no instrument, only one of level and descriptor, bad dates) makes none."""
        instrument = params.get("instrument")
        level, descriptor = params.get("data_level"), params.get("descriptor")
        first, last = params.get("start_date", ""), params.get("end_date", "")
        if not instrument or bool(level) != bool(descriptor):
            return 0
        if not (len(first) == len(last) == 8 and first.isdigit() and last.isdigit()):
            return 0
        where = ["tbl = 'science'", "instrument = ?", "start_date >= ?", "start_date <= ?"]
        args: list[Any] = [instrument, first, last]
        if level:
            where += ["data_level = ?", "descriptor = ?"]
            args += [level, descriptor]
        found = self.catalogue.rows(
            "SELECT key, name, data_level, descriptor, start_date, repointing, major, minor "
            "FROM (SELECT *, rank() OVER (PARTITION BY instrument, data_level, descriptor, "
            "start_date, repointing ORDER BY major DESC, minor DESC) AS n FROM files "
            f"WHERE {' AND '.join(where)}) WHERE n = 1 ORDER BY key",
            args,
        )
        now = self.clock()
        made = []
        for key, name, lvl, desc, day, repointing, major, minor in found:
            fails = any(fnmatch.fnmatchcase(name, pattern) for pattern in self.failures)
            made.append(
                _Job(
                    key,
                    name,
                    instrument,
                    lvl,
                    desc,
                    day,
                    repointing,
                    major or 0,
                    minor or 0,
                    now,
                    fails,
                )
            )
        with self._lock:
            self._jobs = (self._jobs + made)[-MAX_EMULATED:]
        return len(made)

    def rows(self, *, polled: bool = True) -> list[dict[str, Any]]:
        """The started jobs' records, after moving each on (`polled`: a jobs request)."""
        with self._lock:
            for job in self._jobs:
                self._advance(job, polled)
            return [job.row() for job in self._jobs if job.stage >= RUNNING]

    def logs(self) -> dict[str, str]:
        """The started jobs' logs, by stream."""
        with self._lock:
            return {job.stream: job.log() for job in self._jobs if job.stage >= RUNNING}

    def _advance(self, job: _Job, polled: bool) -> None:
        if job.stage == DONE:
            return
        if self.polls > 0:
            job.polls += polled
            due = min(DONE, job.polls // self.polls)
        elif self.delay <= 0:
            due = DONE
        else:
            due = min(DONE, int((self.clock() - job.queued_at) / self.delay))
        while job.stage < due:
            job.stage += 1
            moment = dt.datetime.fromtimestamp(int(self.clock()), UTC)
            if job.stage == RUNNING:
                job.started_at = moment
                seed = hashlib.sha256(f"{job.key}{job.queued_at}".encode()).hexdigest()
                job.stream = f"{job.instrument}-{job.data_level}-processing/default/{seed[:32]}"
            else:
                job.stopped_at = moment
                if not job.fails:
                    self._remake(job)

    def _remake(self, job: _Job) -> None:
        """The file's ingestion date becomes now (its mtime; the catalogue row follows)."""
        path = self.catalogue.root.joinpath(*job.key.split("/"))
        now_ns = int(self.clock()) * 1_000_000_000
        try:
            os.utime(path, ns=(now_ns, now_ns))
            size = path.stat().st_size
        except OSError:
            return  # removed meanwhile: nothing to re-make
        self.catalogue.update_stat(job.key, size, now_ns)
