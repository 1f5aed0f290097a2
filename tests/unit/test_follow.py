"""core.follow: who is followed, the backoff between polls, the timeout (a fake clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from imap_cli.core.errors import UsageError
from imap_cli.core.follow import WaitPolicy, started_time, wait_for_jobs

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def row(day: str, status: str, started: str = "2026-01-01T11:00:00+00:00") -> dict:
    return {"instrument": "mag", "start_date": day, "status": status, "started_at": started}


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.t += seconds


def run(states: list[list[dict]], policy: WaitPolicy, **options):
    clock = Clock()
    polls = iter(states)
    last: list[list[dict]] = [[]]

    def poll() -> list[dict]:
        last[0] = next(polls, last[0])
        return last[0]

    result = wait_for_jobs(
        poll, policy, sleep=clock.sleep, clock=lambda: clock.t, now=lambda: NOW, **options
    )
    return result, clock


def test_backoff_grows_and_is_capped() -> None:
    running = [row("d1", "INPROGRESS")]
    states = [running] * 6 + [[row("d1", "SUCCEEDED")]]
    result, clock = run(states, WaitPolicy(interval=10, max_interval=30, factor=1.5))
    assert clock.pauses == [10, 15, 22.5, 30, 30, 30]
    assert result.polls == 7 and not result.timed_out
    assert [r["status"] for r in result.jobs] == ["SUCCEEDED"]


def test_timeout_cuts_the_last_pause() -> None:
    result, clock = run([[row("d1", "INPROGRESS")]], WaitPolicy(interval=10, timeout=20))
    assert result.timed_out
    assert clock.pauses == [10, 10]  # the second pause is what was left of the 20 s
    assert result.polls == 3
    assert len(result.running) == 1


def test_reprocess_follows_only_jobs_started_after_and_waits_for_the_first() -> None:
    after = NOW
    old_running = row("d0", "INPROGRESS", "2026-01-01T11:00:00+00:00")
    new = "2026-01-01T12:00:05+00:00"
    states = [
        [old_running],
        [old_running, row("d1", "INPROGRESS", new)],
        [old_running, row("d1", "SUCCEEDED", new)],
        [old_running, row("d1", "SUCCEEDED", new)],
    ]
    policy = WaitPolicy(interval=1, min_jobs=1, settle_polls=1)
    result, _ = run(states, policy, started_after=after, follow_running=False)
    assert result.polls == 4  # one more look once nothing ran
    assert [r["start_date"] for r in result.jobs] == ["d1"]


def test_started_time_reads_offsets_and_naive_times() -> None:
    assert started_time({"started_at": "2026-01-01T13:00:00+01:00"}) == NOW
    assert started_time({"started_at": "2026-01-01T12:00:00"}) == NOW
    assert started_time({"started_at": None}) is None


def test_negative_policy_values_are_refused() -> None:
    with pytest.raises(UsageError):
        WaitPolicy(interval=-1)
    with pytest.raises(UsageError):
        WaitPolicy(timeout=-5)
