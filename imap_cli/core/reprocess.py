"""Reprocessing requests: `POST {base}/api-key/reprocess` (or `/authorized/...`).

The SDC queues whatever it is sent and checks nothing; its scheduler later drops a request
without an instrument, or with only one of data level and descriptor. So every rule is
checked here, before anything is sent. There is no public route: without an API key or an
access token nothing is sent at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from imap_cli.core.errors import BadResponse, Refused, UsageError, option, terminal
from imap_cli.core.filters import (
    check_descriptor,
    check_member,
    compact,
    ordered_range,
    parse_date,
)


@dataclass(frozen=True)
class ReprocessRequest:
    """One checked reprocessing request."""

    start_date: str  # YYYYMMDD
    end_date: str
    instrument: str
    data_level: str | None = None
    descriptor: str | None = None

    @property
    def params(self) -> list[tuple[str, str]]:
        """The query string, in the official client's order, `reprocessing=True` last."""
        pairs = [("start_date", self.start_date), ("end_date", self.end_date)]
        pairs.append(("instrument", self.instrument))
        if self.data_level is not None and self.descriptor is not None:
            pairs += [("data_level", self.data_level), ("descriptor", self.descriptor)]
        pairs.append(("reprocessing", "True"))
        return pairs

    def describe(self) -> str:
        """One line for a person: what would be reprocessed."""
        what = self.instrument
        if self.data_level:
            what += f" {self.data_level} {self.descriptor}"
        return f"{what}, files starting {self.start_date} to {self.end_date}"


@dataclass(frozen=True)
class ReprocessAnswer:
    """What the SDC said: its message, and the request's id when it gives one."""

    message: str
    reprocess_id: str | None


def plan_reprocess(
    *,
    start_date: Any,
    end_date: Any,
    instrument: Any,
    data_level: Any = None,
    descriptor: Any = None,
) -> ReprocessRequest:
    """Check a request the way the SDC's scheduler will; raises UsageError, sends nothing."""
    from imap_cli.core.vocabulary import DATA_LEVELS, INSTRUMENTS

    dates = {"start_date": start_date, "end_date": end_date}
    missing = [option(name) for name, value in dates.items() if value in (None, "")]
    if missing:
        example = "reprocess(start_date='20251001', end_date='20251003', instrument='mag')"
        raise UsageError(
            f"reprocessing needs {' and '.join(missing)}",
            f"For example: {terminal('reprocess-example', example)}",
            field="start_date" if start_date in (None, "") else "end_date",
        )
    if instrument in (None, ""):
        raise UsageError(
            "reprocessing needs an instrument: the SDC drops requests without one",
            f"Add {option('instrument')}, e.g. {terminal('i-mag', repr('mag'))}.",
            field="instrument",
        )
    days = {name: parse_date(value, name) for name, value in dates.items()}
    ordered_range("start_date", "end_date", days)
    has_level = data_level not in (None, "")
    has_descriptor = descriptor not in (None, "")
    if has_level != has_descriptor:
        given, needed = ("data_level", "descriptor")[:: 1 if has_level else -1]
        both = terminal("reprocess-both", "data_level='l1a', descriptor='norm-mago'")
        raise UsageError(
            f"{option(given)} needs {option(needed)} too: the SDC drops requests with only one "
            "of them",
            f"Give both (e.g. {both}), or neither to reprocess every product of the instrument.",
            field=needed,
        )
    return ReprocessRequest(
        start_date=compact(days["start_date"]),
        end_date=compact(days["end_date"]),
        instrument=check_member("instrument", instrument, INSTRUMENTS, "mag", name_choices=False),
        data_level=check_member("data_level", data_level, DATA_LEVELS, "l1a", name_choices=False)
        if has_level
        else None,
        descriptor=check_descriptor(descriptor) if has_descriptor else None,
    )


def require_credential(client: Any, what: str = "reprocessing") -> None:
    """Refuse (exit 4) before sending when there is neither an API key nor a token."""
    if not client.credential_headers():
        raise Refused(
            f"{what} needs an API key or an access token; the SDC has no public route for it",
            f"Set your key with {terminal('set-api-key', 'api_key')} (or IMAP_API_KEY), or a "
            "token with IMAP_ACCESS_TOKEN.",
        )


def request_url(client: Any, request: ReprocessRequest) -> str:
    """The full URL that `reprocess` POSTs to (no body)."""
    return f"{client.api_url('reprocess')}?{urlencode(request.params)}"


def reprocess(client: Any, request: ReprocessRequest) -> ReprocessAnswer:
    """Send the request (POST, parameters in the query string, no body)."""
    require_credential(client)
    response = client.api(
        "POST", client.api_url("reprocess"), params=request.params, what="reprocess"
    )
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        found = data.get("reprocess_id")
        message = data.get("message")
        return ReprocessAnswer(
            str(message) if message else "Reprocess job queued",
            str(found) if found else None,
        )
    if isinstance(data, str):  # not the documented shape, but a plain acknowledgement
        return ReprocessAnswer(data, None)
    raise BadResponse(
        f"reprocess: the SDC answered {response.status_code} with a body that is not the "
        "expected JSON object; the request may or may not be queued",
        f"Check {terminal('jobs-of', 'jobs(instrument=...)')} in a while before sending it again.",
    )
