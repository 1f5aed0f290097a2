"""server.emulation: the life cycle of a reprocess request's jobs, on a clock of the test's."""

from __future__ import annotations

from pathlib import Path

import pytest

from imap_cli.server.catalogue import Catalogue
from imap_cli.server.demo import build_demo
from imap_cli.server.emulation import JobEmulator

REQUEST = {
    "start_date": "20251001",
    "end_date": "20251003",
    "instrument": "mag",
    "data_level": "l1a",
    "descriptor": "norm-mago",
    "reprocessing": "True",
}


@pytest.fixture
def catalogue(tmp_path: Path) -> Catalogue:
    root = tmp_path / "archive"
    build_demo(root)
    cat = Catalogue(root, store=tmp_path / "catalogue.sqlite")
    cat.update()
    return cat


def ingestion(cat: Catalogue, key: str) -> str:
    return cat.rows("SELECT ingestion_text FROM files WHERE key = ?", (key,))[0][0]


def test_stages_follow_the_delay_and_remake_the_files(catalogue: Catalogue) -> None:
    now = [2_000_000_000.0]  # 2033-05-18 03:33:20 UTC
    emulator = JobEmulator(catalogue, delay=10, failures=("*_20251002_*",), clock=lambda: now[0])
    assert emulator.queue(REQUEST) == 3  # the latest file of each of the three days
    assert emulator.rows() == []  # queued: the SDC lists jobs once they start
    now[0] += 10
    rows = emulator.rows()
    assert [r["status"] for r in rows] == ["INPROGRESS"] * 3
    assert {r["started_at"] for r in rows} == {"2033-05-18T03:33:30+00:00"}
    keys = [k for (k,) in catalogue.rows("SELECT key FROM files WHERE name LIKE ?", ("%mago%",))]
    before = {k: ingestion(catalogue, k) for k in keys}
    now[0] += 10
    rows = emulator.rows()
    by_day = {r["start_date"][:10]: r["status"] for r in rows}
    assert by_day == {"2025-10-01": "SUCCEEDED", "2025-10-02": "FAILED", "2025-10-03": "SUCCEEDED"}
    changed = {k for k in keys if ingestion(catalogue, k) != before[k]}
    assert changed and all("_20251002_" not in k for k in changed)
    assert all(ingestion(catalogue, k) == "20330518 03:33:40" for k in changed)
    assert {Path(k).name[23:31] for k in changed} == {"20251001", "20251003"}
    logs = emulator.logs()
    failed = next(r for r in rows if r["status"] == "FAILED")
    assert "emulated failure" in logs[failed["job_log_stream_id"]]


def test_polls_drive_the_stages(catalogue: Catalogue) -> None:
    emulator = JobEmulator(catalogue, polls=2, clock=lambda: 2_000_000_000.0)
    emulator.queue(REQUEST)
    seen = [[r["status"] for r in emulator.rows()] for _ in range(4)]
    assert seen == [[], ["INPROGRESS"] * 3, ["INPROGRESS"] * 3, ["SUCCEEDED"] * 3]
    assert emulator.rows(polled=False)  # a query's look moves nothing on


@pytest.mark.parametrize(
    "dropped",
    [
        {"start_date": "20251001", "end_date": "20251003"},  # no instrument
        {**REQUEST, "descriptor": ""},  # a level without a descriptor
        {**REQUEST, "start_date": "2025-10-01"},  # not a day the scheduler reads
    ],
)
def test_requests_the_scheduler_drops_make_no_job(catalogue: Catalogue, dropped: dict) -> None:
    assert JobEmulator(catalogue).queue(dropped) == 0
