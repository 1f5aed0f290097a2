"""`webpoda`'s days: what to make (the plan), the days or pointings it covers, and the SDC's
latest L0 file of each (to version against). core.webpoda makes the files."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imap_cli.core import poda
from imap_cli.core.errors import IMAPError, UsageError, option, word
from imap_cli.core.filters import parse_date
from imap_cli.core.http import SDCClient
from imap_cli.core.objects import RESOLVE_WHAT, object_url, plain_md5, probe
from imap_cli.core.workers import WorkerPool

MODES = ("ert", "sct")
_REPOINT_TIME = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class WebpodaPlan:
    """What to make: an instrument's days (or pointings) in a window, from which APIDs."""

    instrument: str
    start: dt.date
    end: dt.date
    mode: str
    apids: tuple[int, ...]
    sid: str

    @property
    def window(self) -> tuple[dt.datetime, dt.datetime]:
        """[start 00:00, end 23:59:59.999999], as the official client asks."""
        return (
            dt.datetime.combine(self.start, dt.time.min),
            dt.datetime.combine(self.end, dt.time.max),
        )

    @property
    def by_pointing(self) -> bool:
        """Whether files cover pointings (glows, hi, lo, ultra) rather than days."""
        return self.instrument in poda.REPOINTING_INSTRUMENTS


def plan_webpoda(
    instrument: str,
    start_date: Any,
    end_date: Any = None,
    *,
    query_mode: str = "ert",
    apids: Iterable[int | str] | str | None = None,
    sid: str = poda.DEFAULT_SID,
) -> WebpodaPlan:
    """Check the request; raise UsageError naming the parameter that is wrong."""
    name = str(instrument or "").strip().lower()
    if name not in poda.APIDS:
        raise UsageError(
            f"{instrument!r} is not an instrument PODA has packets for",
            f"For example: {option('instrument', 'mag')}",
            field="instrument",
            value=instrument,
            choices=poda.APIDS,
        )
    start = parse_date(start_date, "start_date")
    end = start if end_date in (None, "") else parse_date(end_date, "end_date")
    if end < start:
        raise UsageError(
            f"{word('end_date')} {end:%Y%m%d} is before {word('start_date')} {start:%Y%m%d}",
            field="end_date",
            value=end_date,
        )
    mode = str(query_mode or "ert").strip().lower()
    if mode not in MODES:
        raise UsageError(
            f"{query_mode!r} is not a query mode: ert (Earth-received time) or sct "
            "(spacecraft time)",
            f"For example: {option('query_mode', 'sct')} makes every day of the window by "
            "packet time.",
            field="query_mode",
            value=query_mode,
            choices=MODES,
        )
    chosen = poda.APIDS[name] if apids in (None, "", ()) else _apid_list(apids)
    sid = str(sid or "").strip().upper()
    if sid not in poda.SIDS:
        raise UsageError(
            f"{sid!r} is not a PODA system id: {', '.join(poda.SIDS)}",
            field="sid",
            value=sid,
            choices=poda.SIDS,
        )
    return WebpodaPlan(name, start, end, mode, chosen, sid)


def _apid_list(apids: Iterable[int | str] | str) -> tuple[int, ...]:
    items = apids.split(",") if isinstance(apids, str) else list(apids)
    out: list[int] = []
    for item in items:
        text = str(item).strip()
        if not text.isdigit() or not 0 <= int(text) < 2048:
            raise UsageError(
                f"{text!r} is not an APID (a whole number 0..2047)",
                f"For example: {option('apids', '1052,1068')}",
                field="apids",
                value=item,
            )
        if int(text) not in out:
            out.append(int(text))
    return tuple(out)


@dataclass(frozen=True)
class Span:
    """One file's time range: a day (with its buffers) or a pointing."""

    day: dt.date
    start: dt.datetime
    end: dt.datetime
    repointing: int | None = None

    @property
    def name_date(self) -> str:
        """The date in the file name (with -repointNNNNN for a pointing)."""
        text = self.day.strftime("%Y%m%d")
        return text if self.repointing is None else f"{text}-repoint{self.repointing:05d}"


def file_name(instrument: str, span: Span, minor: int) -> str:
    """`imap_<inst>_l0_raw_<YYYYMMDD>[-repoint<NNNNN>]_v001.<minor>.pkts`."""
    return f"imap_{instrument}_l0_raw_{span.name_date}_v001.{minor:04d}.pkts"


# --- which days / pointings ------------------------------------------------------------------


def received_times(client: poda.PodaClient, plan: WebpodaPlan, pool: WorkerPool) -> list:
    start, end = plan.window
    futures = [
        pool.submit(client.lines, poda.times_url(client.url, plan.sid, apid, start, end))
        for apid in plan.apids
    ]
    times: set[dt.datetime] = set()
    for future in futures:
        times.update(poda.parse_time(line) for line in future.result())
    return sorted(times)


def daily_spans(plan: WebpodaPlan, received: Sequence[dt.datetime] | None) -> list[Span]:
    """ERT: the days of the packets received in the window; SCT: every day of the window."""
    if received is not None:
        days = sorted({t.date() for t in received})
    else:
        count = (plan.end - plan.start).days + 1
        days = [plan.start + dt.timedelta(days=i) for i in range(count)]
    buffer = dt.timedelta(minutes=poda.BUFFER_MINUTES.get(plan.instrument, 0))
    spans = []
    for day in days:
        midnight = dt.datetime.combine(day, dt.time.min)
        spans.append(Span(day, midnight - buffer, midnight + dt.timedelta(days=1) + buffer))
    return spans


def pointing_spans(
    plan: WebpodaPlan, rows: Sequence[dict[str, str]], received: Sequence[dt.datetime] | None
) -> list[Span]:
    """Pointing i runs from row i's repoint end to row i+1's (rows with NaN ends are skipped).
    ERT keeps the pointings holding a received packet's time; SCT those overlapping the
    window."""
    import bisect

    first, last = plan.window
    spans = []
    for row, following in itertools.pairwise(rows):
        ends = (row.get("repoint_end_utc") or "", following.get("repoint_end_utc") or "")
        if any(e.strip().lower() in ("nan", "") for e in ends):
            continue
        start = dt.datetime.strptime(ends[0].strip(), _REPOINT_TIME)
        end = dt.datetime.strptime(ends[1].strip(), _REPOINT_TIME)
        if received is not None:
            at = bisect.bisect_left(received, start)
            if at == len(received) or received[at] > end:
                continue
        elif end <= first or start > last:
            continue
        spans.append(Span(start.date(), start, end, int(str(row["repoint_id"]).strip())))
    return spans


def repoint_table(sdc: SDCClient, data_dir: Path, today: dt.date | None = None) -> list[dict]:
    """The newest repoint table the SDC has (its rows): those ingested in the last two weeks,
    as the official client looks; if none, the newest of all."""
    from imap_cli.core.download.pipeline import download_files

    today = today or dt.datetime.now(dt.timezone.utc).date()
    url = sdc.api_url("repoint-table")
    recent = {
        "start_ingest_date": (today - dt.timedelta(weeks=2)).strftime("%Y%m%d"),
        "end_ingest_date": (today + dt.timedelta(days=1)).strftime("%Y%m%d"),
    }
    records = sdc.get_json(url, params=recent, what="repoint table") or sdc.get_json(
        url, what="repoint table"
    )
    if not records:
        raise IMAPError(
            "the SDC has no repoint table, so the pointings are unknown",
            "Pointing instruments (glows, hi, lo, ultra) need the SDC's repoint table.",
        )
    latest = max(records, key=lambda r: _ingested(str(r.get("ingestion_date", ""))))
    (result,) = download_files(sdc, [latest["file_path"]], data_dir=data_dir, jobs=1)
    if result.error is not None:
        raise result.error
    assert result.path is not None
    with open(result.path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _ingested(text: str) -> dt.datetime:
    for pattern in ("%Y-%m-%d, %H:%M:%S", "%Y%m%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        with contextlib.suppress(ValueError):
            return dt.datetime.strptime(text.strip(), pattern)
    return dt.datetime.min


# --- the SDC's side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Production:
    """The SDC's latest L0 file of a span: key, minor version, and what storage says of it."""

    key: str | None = None
    minor: int = 0
    size: int | None = None
    md5: str | None = None


def production(sdc: SDCClient, instrument: str, span: Span) -> Production:
    """The SDC's latest L0 file for the span (the highest minor version), its size and MD5
    from a one-byte probe; an empty Production when there is none."""
    from imap_cli.core.query import run_query

    day = span.day.strftime("%Y%m%d")
    rows = run_query(
        sdc,
        table="science",
        instrument=instrument,
        data_level="l0",
        descriptor="raw",
        start_date=day,
        end_date=day,
        repointing=span.repointing,
    )
    if not rows:
        return Production()
    latest = max(rows, key=lambda r: int(r.get("minor_version") or 0))
    key = latest["file_path"]
    found = probe(sdc, object_url(sdc, key), what=RESOLVE_WHAT)
    return Production(key, int(latest.get("minor_version") or 0), found.size, plain_md5(found.etag))
