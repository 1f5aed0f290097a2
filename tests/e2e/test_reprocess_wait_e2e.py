"""`imap reprocess --wait` and `--check --since` against `imap serve`'s job emulation.

The server moves each emulated job one stage per `/processing-jobs` answer (job_polls=1) and
the client polls with an interval of 0: the whole life cycle (queued, in progress, succeeded or
failed, files re-made) runs without sleeping or reading the clock.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from imap_cli.server import RunningServer, start_server

KEY = "K"
RANGE = ["-s", "20251001", "-e", "20251003", "-i", "mag", "-l", "l1a", "-d", "norm-mago"]
UTC = dt.timezone.utc


def serve(root: Path, **options) -> RunningServer:
    return start_server(root, api_key=KEY, rescan_interval=0, log=sys.stderr, **options)


@pytest.fixture
def emulated(demo_root: Path) -> Iterator[RunningServer]:
    with serve(demo_root, job_polls=1) as server:
        yield server


def runner(imap, server: RunningServer, tmp_path: Path):
    return imap.against(server.url, data_dir=tmp_path / "data", key=KEY)


def latest(run) -> dict[str, str]:
    code, out, _ = run("query", "-i", "mag", "-l", "l1a", "-d", "norm-mago", "-s", "20251001",
                       "-e", "20251003", "--version", "latest", "-o", "json")  # fmt: skip
    assert code == 0
    return {r["file_path"]: r["ingestion_date"] for r in json.loads(out)}


def test_wait_until_every_file_is_remade(imap, emulated, tmp_path: Path) -> None:
    run = runner(imap, emulated, tmp_path)
    before = latest(run)
    assert len(before) == 3 and all(v.startswith("2025") for v in before.values())
    code, out, err = run("reprocess", *RANGE, "--yes", "--wait", "--interval", "0")
    assert code == 0, err
    assert "3 jobs ended: 3 succeeded, 0 failed" in err
    assert "All 3 latest files in the range were re-made since" in err
    assert len(out.split()) == 1  # the reprocess id only: nothing is left old
    after = latest(run)
    assert after.keys() == before.keys()
    assert all(after[k] > before[k] for k in after)  # ingested again
    # The jobs the request made, as `imap jobs` lists them
    code, out, _ = run("jobs", "-i", "mag", "-l", "l1a", "--status", "succeeded", "-o", "json")
    remade = [j for j in json.loads(out) if j["started_at"] >= "2026"]
    assert sorted(j["start_date"][:10] for j in remade) == [
        "2025-10-01",
        "2025-10-02",
        "2025-10-03",
    ]
    # --check later, from the request's time: still complete; from a later time: all old
    sent = min(after.values())
    since = f"{sent[:4]}-{sent[4:6]}-{sent[6:8]}T{sent[9:]}Z"
    code, out, err = run("reprocess", "--check", "--since", since, *RANGE)
    assert code == 0 and out == "", err
    future = (dt.datetime.now(UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    code, out, err = run("reprocess", "--check", "--since", future, *RANGE)
    assert code == 1
    assert sorted(out.split()) == sorted(after)
    assert "3 of 3 latest files in the range not re-made" in err


def test_one_file_left_old(imap, demo_root: Path, tmp_path: Path) -> None:
    with serve(demo_root, job_polls=1, job_failures=("*_20251002_*",)) as server:
        run = runner(imap, server, tmp_path)
        before = latest(run)
        code, out, err = run("reprocess", *RANGE, "--yes", "--wait", "--interval", "0")
        assert code == 1
        old = [k for k in before if "_20251002_" in k]
        assert out.split()[1:] == old  # after the reprocess id: the file not re-made
        assert "Error: failed: mag l1a norm-mago 2025-10-02" in err
        assert "3 jobs ended: 2 succeeded, 1 failed" in err
        assert "1 of 3 latest files in the range not re-made" in err
        stream = err.split("imap jobs logs ")[1].split()[0]
        code, log, _ = run("jobs", "logs", stream)
        assert code == 0 and "emulated failure" in log
        assert latest(run)[old[0]] == before[old[0]]  # left as it was


def test_timeout_before_any_job_starts(imap, demo_root: Path, tmp_path: Path) -> None:
    with serve(demo_root, job_polls=50) as server:  # jobs stay queued
        run = runner(imap, server, tmp_path)
        code, out, err = run(
            "reprocess", *RANGE, "--yes", "--wait", "--interval", "0", "--timeout", "0"
        )
        assert code == 3
        assert "timed out waiting for the jobs (no job started)" in err
        assert len(out.split()) == 4  # the id, then the three files not re-made yet


def test_emulated_jobs_run_on_time(imap, demo_root: Path, tmp_path: Path) -> None:
    """job_delay 0 (no polls): done at the next look; a query alone re-makes the files."""
    with serve(demo_root, job_delay=0) as server:
        run = runner(imap, server, tmp_path)
        before = latest(run)
        code, _, err = run("reprocess", *RANGE, "--yes")
        assert code == 0, err
        assert all(new > before[k] for k, new in latest(run).items())


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--since", "2025-10-01"], "--since goes with --check"),
        (["--check"], "--check needs --since"),
        (["--check", "--since", "later"], "not a valid --since time"),
        (["--check", "--since", "2025-10-01", "--dry-run"], "drop --dry-run"),
        (["--timeout", "3", "--yes"], "--timeout goes with --wait"),
    ],
)
def test_option_mistakes(imap, emulated, tmp_path: Path, args: list[str], words: str) -> None:
    run = runner(imap, emulated, tmp_path)
    code, out, err = run("reprocess", *RANGE, *args)
    assert code == 2 and out == ""
    assert words in err
    assert not emulated.operations.reprocess_requests  # nothing was sent


def test_python_wait_and_check(imap, demo_root: Path, tmp_path: Path) -> None:
    import imap_cli

    with serve(demo_root, job_polls=1, job_failures=("*_20251003_*",)) as server:
        runner(imap, server, tmp_path)  # the environment points the Python API at it
        sent = dt.datetime.now(UTC).replace(microsecond=0)
        with imap_cli.Client(api_key=KEY) as client:
            client.reprocess(
                start_date="20251001",
                end_date="20251003",
                instrument="mag",
                data_level="l1a",
                descriptor="norm-mago",
            )
            waited = client.wait_jobs(instrument="mag", since=sent, interval=0)
            checked = client.reprocess_check(
                start_date="20251001",
                end_date="20251003",
                instrument="mag",
                data_level="l1a",
                descriptor="norm-mago",
                since=sent,
            )
        assert (waited["succeeded"], waited["failed"], waited["timed_out"]) == (2, 1, False)
        assert checked["files"] == 3
        assert [Path(r["file_path"]).name[23:31] for r in checked["not_remade"]] == ["20251003"]
        timed = imap_cli.wait_jobs(instrument="mag", since="2020-01-01", timeout=0, interval=0)
        assert timed["timed_out"] is False and timed["failed"] >= 1  # all over: nothing runs
