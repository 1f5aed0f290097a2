"""Module-level functions for operations (`imap_cli.reprocess`, `jobs`, `products`,
`webpoda`, ...): each opens a `Client` for one call."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from imap_cli._common import DateLike, PathLike, _check_jobs
from imap_cli._config import config
from imap_cli._keywords import checked_keywords
from imap_cli.client import Client

if TYPE_CHECKING:
    from imap_cli._progress import DaysProgressOption

log = logging.getLogger("imap_cli")


@checked_keywords
def reprocess(
    *,
    start_date: DateLike,
    end_date: DateLike,
    instrument: str,
    data_level: str | None = None,
    descriptor: str | None = None,
) -> str | None:
    """Ask the SDC to reprocess an instrument's data for a range of days.

    Parameters
    ----------
    start_date, end_date : str or datetime.date
        The days (inclusive).
    instrument : str
        e.g. ``"mag"``.
    data_level, descriptor : str, optional
        Narrow it to one product (both, or neither).

    Returns
    -------
    str or None
        The SDC's reprocess id (None from older SDCs).

    Examples
    --------
    >>> imap_cli.reprocess(start_date="20251001", end_date="20251003", instrument="mag")
    ... # doctest: +SKIP
    """
    with Client() as client:
        return client.reprocess(
            start_date=start_date,
            end_date=end_date,
            instrument=instrument,
            data_level=data_level,
            descriptor=descriptor,
        )


@checked_keywords
def release(manifest: PathLike, *, dry_run: bool = False) -> Any:
    """Release files per a release manifest (uploads the manifest, the SDC does the rest).

    Parameters
    ----------
    manifest : str or os.PathLike
        ``imap_<inst>_data-release-<NNN>_<start>_<end>_vXXX.txt``.
    dry_run : bool, default False
        Send nothing; return the records of the files it would release.

    Returns
    -------
    str or list of dict
        The SDC's message; with ``dry_run=True``, the records.

    Raises
    ------
    InvalidManifest
        Every problem of the manifest, before anything is sent (also a ValueError).

    Examples
    --------
    >>> imap_cli.release("imap_mag_data-release-001_20251001_20251031_v001.txt", dry_run=True)
    ... # doctest: +SKIP
    """
    with Client() as client:
        return client.release(manifest, dry_run=dry_run)


@checked_keywords
def jobs(
    *,
    status: str | None = None,
    instrument: str | None = None,
    data_level: str | None = None,
    descriptor: str | None = None,
    start_date: DateLike | None = None,
) -> list[dict[str, Any]]:
    """The SDC's processing jobs, newest first.

    Parameters
    ----------
    status : str, optional
        ``"failed"``, ``"inprogress"`` (or ``"running"``) or ``"succeeded"``.
    instrument, data_level, descriptor : str, optional
        The product.
    start_date : str or datetime.date, optional
        Jobs for this day.

    Returns
    -------
    list of dict
        One record per job (status, instrument, ..., job_log_stream_id).

    Examples
    --------
    >>> imap_cli.jobs(status="failed", instrument="mag")  # doctest: +SKIP
    """
    with Client() as client:
        return client.jobs(
            status=status,
            instrument=instrument,
            data_level=data_level,
            descriptor=descriptor,
            start_date=start_date,
        )


@checked_keywords
def job_logs(stream: str) -> str:
    """A processing job's log.

    Parameters
    ----------
    stream : str
        The job's ``job_log_stream_id`` (from `jobs`).

    Returns
    -------
    str
        The log text.

    Examples
    --------
    >>> imap_cli.job_logs(imap_cli.jobs(status="failed")[0]["job_log_stream_id"])
    ... # doctest: +SKIP
    """
    with Client() as client:
        return client.job_logs(stream)


@checked_keywords
def metakernel(
    output: PathLike,
    *,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
    types: Iterable[str] | None = None,
    require_coverage: bool = False,
) -> Path:
    """Download the SPICE kernels for a range of days and write a metakernel (``.tm``).

    Parameters
    ----------
    output : str or os.PathLike
        The ``.tm`` file to write.
    start_date, end_date : str or datetime.date, optional
        The days the kernels must cover.
    types : iterable of str, optional
        Kernel types (default: all that a metakernel needs).
    require_coverage : bool, default False
        Raise CoverageGaps when a day is not covered.

    Returns
    -------
    pathlib.Path
        The ``.tm`` written (none is written if a kernel failed).

    Examples
    --------
    >>> imap_cli.metakernel("imap.tm", start_date="20251001", end_date="20251003")
    ... # doctest: +SKIP
    """
    with Client() as client:
        return client.metakernel(
            output,
            start_date=start_date,
            end_date=end_date,
            types=types,
            require_coverage=require_coverage,
        )


@checked_keywords
def coverage(
    instrument: str,
    *,
    data_level: str | Iterable[str] | None = None,
    descriptor: str | Iterable[str] | None = None,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
    by: Literal["day", "repointing"] | None = None,
    table: Literal["science", "ancillary"] | None = None,
) -> dict[str, Any]:
    """What the SDC holds for an instrument, per day or repointing, and the gaps.

    Parameters
    ----------
    instrument : str
        e.g. ``"swapi"``.
    data_level, descriptor : str or iterable of str, optional
        One value, a list, or comma-separated values.
    start_date, end_date : str or datetime.date, optional
        The days to cover.
    by : {"day", "repointing"}, optional
        Default: repointing for glows, hi, lo and ultra; day for the others.
    table : {"science", "ancillary"}, optional
        Default science.

    Returns
    -------
    dict
        Products, the latest version per day or repointing, and the gaps (as
        ``imap coverage -o json``).

    Examples
    --------
    >>> imap_cli.coverage("swapi", data_level="l2", start_date="20251001")  # doctest: +SKIP
    """
    with Client() as client:
        return client.coverage(
            instrument,
            data_level=data_level,
            descriptor=descriptor,
            start_date=start_date,
            end_date=end_date,
            by=by,
            table=table,
        )


@checked_keywords
def products(
    *,
    instrument: str | None = None,
    data_level: str | None = None,
    table: str = "science",
) -> list[dict[str, Any]]:
    """The SDC's products, one dict per instrument, data level and descriptor.

    Parameters
    ----------
    instrument : str, optional
        One instrument; default every instrument.
    data_level : str, optional
        One data level (science and quicklook tables).
    table : {"science", "ancillary", "quicklook"}, default "science"
        The table whose products are listed.

    Returns
    -------
    list of dict
        ``instrument``, ``data_level``, ``descriptor``, ``files``, ``first_date``,
        ``last_date``, ``latest_version``, ``last_ingested``, as `imap products -o json`.

    Examples
    --------
    >>> [p["descriptor"] for p in imap_cli.products(instrument="mag")]  # doctest: +SKIP
    ['norm-magi', 'norm-mago', 'norm-mago', 'norm-gse']
    """
    with Client() as client:
        return client.products(instrument=instrument, data_level=data_level, table=table)


@checked_keywords
def wait_jobs(
    *,
    instrument: str | None = None,
    data_level: str | None = None,
    descriptor: str | None = None,
    start_date: str | None = None,
    since: str | dt.datetime | None = None,
    timeout: float | None = None,
    interval: float = 15.0,
) -> dict[str, Any]:
    """Wait until no matching processing job runs (as `imap jobs --wait`).

    Parameters are those of `Client.wait_jobs`; returns ``jobs``, ``running``,
    ``succeeded``, ``failed`` and ``timed_out``.

    Examples
    --------
    >>> imap_cli.wait_jobs(instrument="mag", timeout=600)["timed_out"]  # doctest: +SKIP
    False
    """
    with Client() as client:
        return client.wait_jobs(
            instrument=instrument,
            data_level=data_level,
            descriptor=descriptor,
            start_date=start_date,
            since=since,
            timeout=timeout,
            interval=interval,
        )


@checked_keywords
def reprocess_check(
    *,
    start_date: str,
    end_date: str,
    instrument: str,
    since: str | dt.datetime,
    data_level: str | None = None,
    descriptor: str | None = None,
) -> dict[str, Any]:
    """The latest files of a reprocessed range not re-made since `since` (the request's
    time), as `imap reprocess --check --since`; see `Client.reprocess_check`.

    Examples
    --------
    >>> imap_cli.reprocess_check(start_date="20251001", end_date="20251003",
    ...                          instrument="mag", since="2025-10-05T10:00:00Z")  # doctest: +SKIP
    """
    with Client() as client:
        return client.reprocess_check(
            start_date=start_date,
            end_date=end_date,
            instrument=instrument,
            since=since,
            data_level=data_level,
            descriptor=descriptor,
        )


@checked_keywords
def webpoda(
    *,
    instrument: str,
    start_date: Any,
    end_date: Any = None,
    query_mode: str = "ert",
    upload: bool = False,
    dry_run: bool = False,
    apids: Iterable[int] | str | None = None,
    sid: str = "SID1",
    webpoda_url: str | None = None,
    jobs: int | None = None,
    progress: DaysProgressOption = None,
) -> list[dict[str, Any]]:
    """Make L0 packet files from LASP's PODA, as `imap webpoda` does.

    For each day (or, for glows, hi, lo and ultra, each pointing) with packets, the APIDs'
    packets are fetched in parallel, compared with the SDC's latest L0 file, and written into
    the data dir as a new file or the next minor version when they changed.

    Parameters
    ----------
    instrument : str
        The instrument, e.g. ``"mag"``.
    start_date, end_date : str or datetime.date
        The window (``YYYYMMDD`` or ``YYYY-MM-DD``); ``end_date`` defaults to ``start_date``.
    query_mode : {"ert", "sct"}
        ``"ert"``: the days of the packets received in the window (backfills included);
        ``"sct"``: every day of the window, by packet time.
    upload : bool
        Upload new and changed files to the SDC (needs an API key that may write).
    dry_run : bool
        Fetch and compare, but write and upload nothing.
    apids : iterable of int or str, optional
        The APIDs to fetch instead of the instrument's table (``"1052,1068"``).
    sid : str
        PODA's system id: ``"SID1"`` (flight), ``"SID2"`` (before launch), ``"SID3"``.
    webpoda_url : str, optional
        PODA's ``.../dap2/apids`` base; default: the webpoda-url setting.
    jobs : int, optional
        Requests at once; default: the jobs setting.
    progress : bool or callable, optional
        As for the transfer functions: a bar on stderr when it is a terminal (None), always
        (True), never (False); or a callable given each ``WebpodaProgress`` snapshot.

    Returns
    -------
    list of dict
        One per day: ``date``, ``repointing``, ``apids`` (packets per APID), ``packets``,
        ``bytes``, ``action`` (new, changed, unchanged, empty or failed), ``path``,
        ``uploaded``, ``production``, ``detail``, ``error``.

    Examples
    --------
    >>> days = imap_cli.webpoda(instrument="mag", start_date="20251001")  # doctest: +SKIP
    >>> [(d["date"], d["action"]) for d in days]  # doctest: +SKIP
    [('2025-10-01', 'new')]
    """
    from imap_cli.core.webpoda import make_files, plan_webpoda

    plan = plan_webpoda(
        instrument, start_date, end_date, query_mode=query_mode, apids=apids, sid=sid
    )
    settings = config.settings(**({"webpoda-url": webpoda_url} if webpoda_url else {}))
    workers = _check_jobs(jobs, settings.jobs)
    from imap_cli._progress import days_sink
    from imap_cli.core.http import SDCClient

    noun = "pointings" if plan.by_pointing else "days"
    with SDCClient(settings) as sdc, days_sink(progress, noun) as on_progress:
        summary = make_files(
            sdc,
            settings,
            plan,
            jobs=workers,
            dry_run=dry_run,
            upload=upload,
            on_progress=on_progress,
        )
    return [day.as_dict() for day in summary.days]
