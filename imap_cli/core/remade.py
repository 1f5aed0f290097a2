"""Did a reprocess finish, and what was not re-made?

After a reprocess request (core.reprocess), the SDC's jobs for that instrument (level and
descriptor) and date range start some time later; a re-made file is ingested again. So a
request is done when its jobs have ended, and complete when every latest file in the range has
an ingestion date at or after the request (to the second: ingestion dates have no fraction).
The jobs are followed with core.follow; this module says which jobs belong to a request and
which files are "not re-made".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imap_cli.core.reprocess import ReprocessRequest


@dataclass
class RemadeCheck:
    """The latest files in a request's range, and those ingested before `since`."""

    since: dt.datetime
    files: list[dict] = field(default_factory=list)
    not_remade: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The check as plain data."""
        from imap_cli.core.moments import format_moment

        return {
            "since": format_moment(self.since),
            "files": len(self.files),
            "not_remade": [
                {"file_path": r.get("file_path"), "ingestion_date": r.get("ingestion_date")}
                for r in self.not_remade
            ],
        }


def job_filters(request: ReprocessRequest) -> dict[str, str]:
    """The /processing-jobs filters of a request's jobs (the date range is kept apart)."""
    filters = {"instrument": request.instrument}
    if request.data_level is not None and request.descriptor is not None:
        filters.update(data_level=request.data_level, descriptor=request.descriptor)
    return filters


def in_range(request: ReprocessRequest) -> Callable[[dict], bool]:
    """Whether a job's day (its start_date, ISO or YYYYMMDD) is in the request's range."""

    def keep(row: dict) -> bool:
        day = str(row.get("start_date") or "").replace("-", "")[:8]
        return request.start_date <= day <= request.end_date

    return keep


def check_remade(client: Any, request: ReprocessRequest, since: dt.datetime) -> RemadeCheck:
    """The latest science files of the request's product(s) starting in its range, and those
    whose ingestion is still older than `since` (floored to the second)."""
    from imap_cli.core.moments import floor_second, ingestion_time
    from imap_cli.core.query import fetch_result, plan_query

    plan = plan_query(
        table="science",
        instrument=request.instrument,
        data_level=request.data_level,
        descriptor=request.descriptor,
        start_date=request.start_date,
        end_date=request.end_date,
        version="latest",
    )
    rows = fetch_result(client, plan).rows
    low = floor_second(since)
    old = []
    for row in rows:
        moment = ingestion_time(row)
        if moment is None or moment < low:
            old.append(row)
    return RemadeCheck(since=since, files=rows, not_remade=old)
