"""`imap jobs --wait` against the independent fake of the SDC's operations routes.

The fake's job list changes at each `/processing-jobs` request (a script of states), so a
wait is driven by its polls, with a poll interval of 0: nothing sleeps, nothing depends on
the clock but the jobs' own start times.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from realistic_ops import OpsSDC, _OpsHandler

UTC = dt.timezone.utc


def job(day: str, status: str, *, started: str, level: str = "l1b") -> dict:
    stream = f"mag-{level}-processing/default/{day}{level}"
    return {
        "job_command": f"imap_cli --instrument mag --data-level {level} --start-date {day}",
        "status": status,
        "instrument": "mag",
        "data_level": level,
        "descriptor": "norm-mago",
        "start_date": f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00",
        "major_version": 1,
        "minor_version": 2,
        "repointing": None,
        "dependency_hash": "abc",
        "job_definition": f"ProcessingJob-mag-{level}",
        "job_log_stream_id": stream,
        "container_image": None,
        "container_image_digest": None,
        "started_at": started,
        "stopped_at": None if status == "INPROGRESS" else started,
    }


class _Scripted(_OpsHandler):
    def _processing_jobs(self, seen, rest) -> None:
        fake: ScriptedSDC = self.server.fake
        with fake.lock:
            if fake.script:
                fake.jobs = fake.script.pop(0)
            fake.polls += 1
        super()._processing_jobs(seen, rest)


class ScriptedSDC(OpsSDC):
    """OpsSDC whose job list is the next state of `script` at each jobs request."""

    api_handler = _Scripted

    def __init__(self) -> None:
        super().__init__()
        self.script: list[list[dict]] = []
        self.polls = 0


@pytest.fixture
def fake() -> Iterator[ScriptedSDC]:
    with ScriptedSDC() as sdc:
        yield sdc
    assert sdc.server_errors == []


@pytest.fixture
def run(imap, fake: ScriptedSDC, tmp_path: Path):
    return imap.against(fake.api_url, data_dir=tmp_path / "data")


OLD = "2025-10-01T08:00:00+00:00"  # before any wait of these tests


def later() -> str:
    """A start time after the wait began (a job the wait did not see running at first)."""
    return (dt.datetime.now(UTC) + dt.timedelta(minutes=5)).isoformat()


def test_wait_until_all_succeeded(run, fake: ScriptedSDC) -> None:
    new = later()
    fake.script = [
        [job("20251001", "INPROGRESS", started=OLD), job("20251002", "FAILED", started=OLD)],
        [job("20251001", "INPROGRESS", started=OLD), job("20251003", "INPROGRESS", started=new)],
        [job("20251001", "SUCCEEDED", started=OLD), job("20251003", "INPROGRESS", started=new)],
        [job("20251001", "SUCCEEDED", started=OLD), job("20251003", "SUCCEEDED", started=new)],
    ]
    code, out, err = run("jobs", "--wait", "-i", "mag", "--interval", "0", "-o", "json")
    assert code == 0, err
    assert fake.polls == 4
    rows = json.loads(out)
    # the old failure was over before the wait: not followed; the one started later is
    assert sorted((r["start_date"][:10], r["status"]) for r in rows) == [
        ("2025-10-01", "SUCCEEDED"),
        ("2025-10-03", "SUCCEEDED"),
    ]
    assert "2 jobs ended: 2 succeeded, 0 failed" in err
    assert all(s.query == {"instrument": "mag"} for s in fake.seen if "jobs" in s.path)


def test_a_failed_job_is_listed_with_its_log(run, fake: ScriptedSDC) -> None:
    fake.script = [
        [job("20251001", "INPROGRESS", started=OLD), job("20251002", "INPROGRESS", started=OLD)],
        [job("20251001", "FAILED", started=OLD), job("20251002", "SUCCEEDED", started=OLD)],
    ]
    code, out, err = run("jobs", "--wait", "--interval", "0", "-o", "csv")
    assert code == 1
    assert out.count("\n") == 3  # header + two jobs
    assert "Error: failed: mag l1b norm-mago 2025-10-01 v001.0002" in err
    assert "Hint: Its log: imap jobs logs mag-l1b-processing/default/20251001l1b" in err
    assert "20251002" not in err.split("ended")[0]  # the one that succeeded is not an error
    assert "2 jobs ended: 1 succeeded, 1 failed" in err


def test_timeout_names_the_jobs_still_running(run, fake: ScriptedSDC) -> None:
    fake.jobs = [
        job("20251001", "INPROGRESS", started=OLD),
        job("20251002", "SUCCEEDED", started=OLD),
    ]
    code, out, err = run("jobs", "--wait", "--timeout", "0", "--interval", "0", "-o", "json")
    assert code == 3
    assert fake.polls == 1
    assert "Warning: still running: mag l1b norm-mago 2025-10-01 v001.0002" in err
    assert "timed out waiting for the jobs (1 still running)" in err
    assert [r["status"] for r in json.loads(out)] == ["INPROGRESS"]


def test_nothing_running_is_done_at_once(run, fake: ScriptedSDC) -> None:
    fake.jobs = [job("20251002", "FAILED", started=OLD)]
    code, out, err = run("jobs", "--wait", "--interval", "0")
    assert code == 0
    assert out == ""
    assert "No matching job is in progress." in err
    # --since follows the jobs started since then, over or not
    code, _, err = run("jobs", "--wait", "--interval", "0", "--since", "2025-10-01T09:00:00+02:00")
    assert code == 1
    assert "failed: mag l1b norm-mago 2025-10-02" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--timeout", "5"], "--timeout goes with --wait"),
        (["--wait", "--since", "soon"], "not a valid --since time"),
        (["--wait", "--timeout", "-1"], "-1"),
    ],
)
def test_wait_option_mistakes(run, fake: ScriptedSDC, args: list[str], words: str) -> None:
    code, _, err = run("jobs", *args)
    assert code == 2
    assert words in err
    assert fake.polls == 0
