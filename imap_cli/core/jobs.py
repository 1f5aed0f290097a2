"""The SDC's processing jobs (`GET {base}/processing-jobs`) and their logs
(`GET {base}/processing-logs/<stream>`).

The SDC answers at most 500 jobs, newest first. A job has no id of its own: its log is found
by its `job_log_stream_id`. An unknown stream is the lambda's 500 `{"error": ...}`, a final
answer, so that route is not retried on 500.
"""

from __future__ import annotations

import json
from typing import Any

from imap_cli.core.errors import BadResponse, NotFound, UsageError, terminal
from imap_cli.core.filters import check_member, check_product, compact, parse_date
from imap_cli.core.records import check_records
from imap_cli.core.retry import RETRY_STATUSES

STATUSES: tuple[str, ...] = ("FAILED", "INPROGRESS", "SUCCEEDED")
# Spellings people type for INPROGRESS.
_STATUS_ALIASES = {
    "running": "INPROGRESS",
    "in-progress": "INPROGRESS",
    "in_progress": "INPROGRESS",
}
# The order /processing-jobs filters are sent in (any column is a filter on the SDC).
FILTERS: tuple[str, ...] = ("status", "instrument", "data_level", "descriptor", "start_date")
LOG_HINT = f"Take the stream from {terminal('log-stream', 'a job record: job_log_stream_id')}."


def status_words() -> tuple[str, ...]:
    """What a person may type for a status (check_status takes any case of these)."""
    return tuple(sorted({s.lower() for s in STATUSES} | {"running"}))


def check_status(value: Any) -> str:
    """INPROGRESS, SUCCEEDED or FAILED, from any case (and `running`, `in-progress`)."""
    text = str(value).strip()
    alias = _STATUS_ALIASES.get(text.lower())
    if alias:
        return alias
    valid = tuple(s.lower() for s in STATUSES)
    return check_member("status", text, valid, "failed", name_choices=False).upper()


def plan_jobs(**filters: Any) -> list[tuple[str, str]]:
    """Check the filters; the query string for /processing-jobs. UsageError before any I/O."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise UsageError(
            f"unknown job filter {', '.join(map(repr, unknown))}; valid: {', '.join(FILTERS)}"
        )
    given = {k: v for k, v in filters.items() if v not in (None, "")}
    values = check_product(given)
    if "status" in given:
        values["status"] = check_status(given["status"])
    if "start_date" in given:
        values["start_date"] = compact(parse_date(given["start_date"], "start_date"))
    return [(name, values[name]) for name in FILTERS if name in values]


def _newest_first(rows: list[dict]) -> list[dict]:
    # The SDC already sorts; sorting again keeps older revisions and other servers honest.
    # A job that has not started yet (no started_at) is the newest of all.
    def started(row: dict) -> str:
        value = row.get("started_at")
        return value if isinstance(value, str) else "~"

    return sorted(rows, key=started, reverse=True)


def list_jobs(client: Any, **filters: Any) -> list[dict]:
    """The SDC's processing jobs matching the filters, newest first (at most 500)."""
    params = plan_jobs(**filters)
    data = client.get_json(client.api_url("processing-jobs"), params=params, what="jobs")
    return _newest_first(check_records(data, "jobs"))


def check_stream(stream: Any) -> str:
    """A log stream id: non-empty, printable, no spaces (its slashes are part of it)."""
    text = str(stream).strip()
    if not text or any(c.isspace() or not c.isprintable() for c in text) or ".." in text:
        raise UsageError(f"{stream!r} is not a log stream id", LOG_HINT)
    return text


def job_logs(client: Any, stream: Any) -> str:
    """The log of one job, as plain text (its lines joined with newlines)."""
    stream = check_stream(stream)
    response = client.api(
        "GET",
        client.api_url("processing-logs", stream.lstrip("/")),
        what="job logs",
        ok=(200, 500),
        retry_statuses=RETRY_STATUSES - {500},
    )
    if response.status_code == 500:
        error = _lambda_error(response.text)
        if error is None:  # the gateway's own 500: the SDC is failing
            raise client.http_error(response, "job logs")
        raise NotFound(f"job logs: no log for {stream}: {error}", LOG_HINT, status=500)
    body = response.content
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadResponse(f"job logs: the log of {stream} is not UTF-8 text") from None


def _lambda_error(text: str) -> str | None:
    """The lambda's `{"error": "..."}` message, or None for any other 500 body."""
    from imap_cli.core.errors import printable

    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return printable(" ".join(data["error"].split()))[:300]
    return None
