"""Waiting for processing jobs at the terminal: the progress line, the report, the exit code.

Shared by `imap jobs --wait` and `imap reprocess --wait`; the waiting itself is core.follow.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from imap_cli.cli.options import State
    from imap_cli.cli.output import Output
    from imap_cli.core.follow import WaitPolicy, WaitResult

WAIT_PANEL = "Waiting"

Timeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        min=0,
        help="With --wait: stop waiting after this long; exit 3, naming the jobs still running.",
        show_default=False,
        rich_help_panel=WAIT_PANEL,
    ),
]
Interval = Annotated[
    float,
    typer.Option(
        "--interval",
        metavar="SECONDS",
        min=0,
        help="With --wait: the first pause between polls; it grows 1.5x a poll, up to 120 s.",
        rich_help_panel=WAIT_PANEL,
    ),
]


def job_label(row: dict) -> str:
    """`mag l1b norm-mago 2025-10-01 v001.0002` (what a person recognises a job by)."""
    parts = [str(row.get(k) or "?") for k in ("instrument", "data_level", "descriptor")]
    day = str(row.get("start_date") or "")[:10]
    if day:
        parts.append(day)
    if row.get("repointing") is not None:
        parts.append(f"repoint{int(row['repointing']):05d}")
    major, minor = row.get("major_version"), row.get("minor_version")
    if isinstance(major, int) and isinstance(minor, int):
        parts.append(f"v{major:03d}.{minor:04d}")
    return " ".join(parts)


class WaitLine:
    """A one-line status on a terminal (stderr), updated at each poll; nothing when piped."""

    def __init__(self, output: Output, what: str) -> None:
        self.output = output
        self.what = what
        self.live = bool(output.streams.stderr_tty) and not output.quiet
        self._status: Any = None

    def __call__(self, result: WaitResult) -> None:
        if not self.live:
            return
        text = self.text(result)
        if self._status is None:
            self._status = self.output.console.status(text)
            self._status.start()
        else:
            self._status.update(text)

    def text(self, result: WaitResult) -> str:
        """`Waiting for 3 jobs: 1 running, 2 succeeded, 0 failed; next check in 15 s`."""
        if not result.jobs:
            head = f"Waiting for {self.what} to start"
        else:
            count = len(result.jobs)
            head = (
                f"Waiting for {count} job{'s' if count != 1 else ''}: "
                f"{len(result.running)} running, {len(result.succeeded)} succeeded, "
                f"{len(result.failed)} failed"
            )
        if result.next_poll is not None:
            head += f"; next check in {result.next_poll:.0f} s"
        return head

    def stop(self) -> None:
        if self._status is not None:
            with contextlib.suppress(BrokenPipeError):
                self._status.stop()
            self._status = None


@contextlib.contextmanager
def wait_line(output: Output, what: str) -> Iterator[WaitLine]:
    """A WaitLine, stopped however the wait ends."""
    line = WaitLine(output, what)
    try:
        yield line
    finally:
        line.stop()


def follow(
    run: State,
    client: Any,
    filters: dict[str, Any],
    policy: WaitPolicy,
    *,
    what: str = "the jobs",
    started_after: dt.datetime | None = None,
    follow_running: bool = True,
    keep: Callable[[dict], bool] | None = None,
) -> WaitResult:
    """Poll the jobs matching `filters` (and `keep`) until none followed runs (core.follow)."""
    from imap_cli.core.follow import wait_for_jobs
    from imap_cli.core.jobs import list_jobs

    def poll() -> list[dict]:
        rows = list_jobs(client, **filters)
        return [r for r in rows if keep is None or keep(r)]

    with wait_line(run.output, what) as line:
        return wait_for_jobs(
            poll,
            policy,
            started_after=started_after,
            follow_running=follow_running,
            on_poll=line,
        )


def report(output: Output, result: WaitResult, *, none_text: str, not_started: str = "") -> int:
    """Say how the wait ended (stderr): failed jobs with their logs, jobs still running on a
    timeout. The exit code: 0 all succeeded, 1 any failed, 3 timed out."""
    from imap_cli.cli.errors import ExitCode

    for job in result.failed:
        stream = job.get("job_log_stream_id")
        output.error(
            f"failed: {job_label(job)}",
            hint=f"Its log: imap jobs logs {stream}" if stream else "It has no log stream yet.",
        )
    if result.timed_out:
        for job in result.running:
            output.warn(f"still running: {job_label(job)}")
        waited = f"{len(result.running)} still running" if result.jobs else "no job started"
        hint = (
            "Wait longer with a larger --timeout, or look again later with "
            "`imap jobs --status running`."
        )
        output.error(
            f"timed out waiting for the jobs ({waited})",
            hint=not_started if not result.jobs and not_started else hint,
        )
        return ExitCode.TIMED_OUT
    if not result.jobs:
        output.note(none_text)
        return ExitCode.OK
    count = len(result.jobs)
    summary = (
        f"{count} job{'s' if count != 1 else ''} ended: {len(result.succeeded)} succeeded, "
        f"{len(result.failed)} failed"
    )
    if result.failed:
        output.note(summary)
        return ExitCode.PARTIAL
    output.success(summary)
    return ExitCode.OK


def policy_for(interval: float, timeout: float | None, **more: Any) -> WaitPolicy:
    """The wait policy of the flags."""
    from imap_cli.core.follow import DEFAULT_MAX_INTERVAL, WaitPolicy

    top = max(DEFAULT_MAX_INTERVAL, interval)
    return WaitPolicy(interval=interval, max_interval=top, timeout=timeout, **more)
