"""What the API's modules share: the types of their parameters, the logger, and how they
check `jobs` and name a failed file."""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from imap_cli.core import settings as _settings

log = logging.getLogger("imap_cli")


DateLike = str | dt.date
"""A date: ``"20251001"``, ``"2025-10-01"`` or a ``datetime.date``."""
MomentLike = str | dt.datetime | dt.date
"""A moment: an ISO date or date-time (UTC unless it has an offset), a datetime (naive: UTC) or
a date."""
PathLike = str | os.PathLike
"""A local path: a str or a ``pathlib.Path``."""
DownloadItems = Any
"""What download functions take: an SDC key, a file name, a local path, a query record (dict),
a pandas DataFrame (its file_path column) or Series, or an iterable of those."""


def _check_jobs(jobs: int | None, default: int) -> int:
    """`jobs` checked as the jobs setting is (1..64), everywhere a call takes it."""
    if jobs is None:
        return default
    return int(_settings.check_value("jobs", jobs))


def _named(error: Exception, key: str) -> Exception:
    """`error` with the file it is about in its message (a per-file error may not say)."""
    from imap_cli.core.errors import IMAPError

    name = key.rpartition("/")[2]
    if isinstance(error, IMAPError) and name not in error.template:
        error.message = f"{name}: {error.template}"
        error.args = (error.message,)
    return error
