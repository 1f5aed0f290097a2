"""Following processing jobs until they end (`jobs(wait=...)`, reprocess and wait).

The SDC has no job ids and no queue view: `/processing-jobs` lists jobs once they start,
newest first. A wait follows the matching jobs that are in progress when it starts, and
those that start after it began (or after `started_after`), polling with backoff until none
of them is in progress, or until the timeout. A job is known by its product, day and start
time (its log stream may appear only once it runs).

The pause between polls starts at `interval` seconds and grows by `factor` up to
`max_interval`; the clock and the pause are parameters, so tests drive a wait without
sleeping.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imap_cli.core.errors import UsageError, option

UTC = dt.timezone.utc
DEFAULT_INTERVAL = 15.0
DEFAULT_MAX_INTERVAL = 120.0
DEFAULT_FACTOR = 1.5


@dataclass(frozen=True)
class WaitPolicy:
    """How often to poll and for how long (None: no time limit)."""

    interval: float = DEFAULT_INTERVAL
    max_interval: float = DEFAULT_MAX_INTERVAL
    factor: float = DEFAULT_FACTOR
    timeout: float | None = None
    # Wait until at least this many jobs have been seen (a reprocess's jobs start later).
    min_jobs: int = 0
    # Once nothing runs, look this many more times before believing it (a scheduler starts
    # the next job a moment after the last one ended).
    settle_polls: int = 0

    def __post_init__(self) -> None:
        for name in ("interval", "max_interval"):
            if getattr(self, name) < 0:
                raise UsageError(
                    f"the poll {name.replace('_', ' ')} cannot be negative",
                    f"For example: {option('interval', '15')}",
                    field=name,
                    value=getattr(self, name),
                )
        if self.timeout is not None and self.timeout < 0:
            raise UsageError(
                "the timeout cannot be negative",
                f"For example: {option('timeout', '3600')} (seconds)",
                field="timeout",
                value=self.timeout,
            )


@dataclass
class WaitResult:
    """The followed jobs (the latest row of each, newest first) and how the wait ended."""

    jobs: list[dict] = field(default_factory=list)
    timed_out: bool = False
    polls: int = 0
    next_poll: float | None = None  # seconds until the next poll (while waiting)

    def _with(self, status: str) -> list[dict]:
        return [job for job in self.jobs if job.get("status") == status]

    @property
    def running(self) -> list[dict]:
        """Jobs still in progress."""
        return self._with("INPROGRESS")

    @property
    def failed(self) -> list[dict]:
        """Jobs that failed."""
        return self._with("FAILED")

    @property
    def succeeded(self) -> list[dict]:
        """Jobs that succeeded."""
        return self._with("SUCCEEDED")

    def as_dict(self) -> dict[str, Any]:
        """The result as plain data."""
        return {
            "jobs": self.jobs,
            "running": len(self.running),
            "succeeded": len(self.succeeded),
            "failed": len(self.failed),
            "timed_out": self.timed_out,
        }


def job_identity(row: Mapping[str, Any]) -> tuple:
    """What tells one job from another: its product, day, repointing and start time."""
    names = ("instrument", "data_level", "descriptor", "start_date", "repointing")
    return (*(row.get(name) for name in names), str(row.get("started_at") or ""))


def started_time(row: Mapping[str, Any]) -> dt.datetime | None:
    """A job's started_at as an aware UTC datetime (no zone: UTC); None if it has none."""
    text = row.get("started_at")
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def wait_for_jobs(
    poll: Callable[[], list[dict]],
    policy: WaitPolicy,
    *,
    started_after: dt.datetime | None = None,
    follow_running: bool = True,
    on_poll: Callable[[WaitResult], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC),
) -> WaitResult:
    """Poll (`poll()` returns the matching job rows) until no followed job is in progress.

    Followed: the jobs in progress at the first poll (unless not `follow_running`), and every
    job started at or after the wait began (or `started_after`, when given). `on_poll` sees
    each poll's result.
    """
    began = now().replace(microsecond=0)
    since = started_after if started_after is not None else began
    deadline = None if policy.timeout is None else clock() + policy.timeout
    followed: dict[tuple, dict] = {}
    result = WaitResult()
    interval = policy.interval
    quiet = 0
    while True:
        rows = poll()
        result.polls += 1
        for row in rows:
            identity = job_identity(row)
            started = started_time(row)
            fresh = started is not None and started >= since
            first_running = (
                follow_running and result.polls == 1 and row.get("status") == "INPROGRESS"
            )
            if identity in followed or fresh or first_running:
                followed[identity] = row
        result.jobs = sorted(
            followed.values(), key=lambda r: str(r.get("started_at") or "~"), reverse=True
        )
        settled = len(followed) >= policy.min_jobs and not result.running
        quiet = quiet + 1 if settled else 0
        if settled and quiet > policy.settle_polls:
            result.next_poll = None
            break
        if deadline is not None and clock() >= deadline:
            result.timed_out = True
            result.next_poll = None
            break
        pause = interval if deadline is None else max(0.0, min(interval, deadline - clock()))
        result.next_poll = pause
        if on_poll is not None:
            on_poll(result)
        sleep(pause)
        interval = min(policy.max_interval, interval * policy.factor)
    if on_poll is not None:
        on_poll(result)
    return result
