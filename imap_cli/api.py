"""The public Python API: `imap_cli.query`, `download`, `upload`, `config`, `Client`, ...

Every function has its parameters spelled out (the CLI's long option names in snake case) and
a numpydoc docstring with an example. Module-level functions open a `Client` from the settings
(defaults < config file < environment < `imap_cli.config[...]`) for one call; a `Client` keeps
one connection pool for many calls, and may point at another SDC.

Errors are `imap_cli.errors.IMAPError`s; bad values are also `ValueError`s, unknown keywords
`TypeError`s; each carries its hint as an exception note. `download_many` and `upload_many`
try every file, then raise one `TransferError` naming each failure.

The rooms: `client.py` holds `Client` (its operations in `_client_ops.py`); this module the
module-level functions for data (query, download, upload, sync); `operations.py` those for
operations (reprocess, jobs, products, webpoda, ...); `filenames.py` the file-name objects;
`_config.py` `imap_cli.config`. Every public name is re-exported here."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from imap_cli._common import DateLike, DownloadItems, MomentLike, PathLike
from imap_cli._config import config
from imap_cli._keywords import checked_keywords
from imap_cli.client import Client
from imap_cli.filenames import build_name, parse_name
from imap_cli.operations import (
    coverage,
    job_logs,
    jobs,
    metakernel,
    products,
    release,
    reprocess,
    reprocess_check,
    wait_jobs,
    webpoda,
)

if TYPE_CHECKING:
    from imap_cli._progress import ProgressOption
    from imap_cli.results import Downloaded, QueryResult, Uploaded, UploadedKey


__all__ = [
    "Client",
    "build_name",
    "config",
    "coverage",
    "download",
    "download_many",
    "job_logs",
    "jobs",
    "metakernel",
    "parse_name",
    "products",
    "query",
    "release",
    "reprocess",
    "reprocess_check",
    "spice_query",
    "sync",
    "upload",
    "upload_many",
    "wait_jobs",
    "webpoda",
]


# --- module-level functions: one Client per call ----------------------------------------------


@checked_keywords
def query(
    *,
    table: Literal["science", "ancillary", "quicklook", "spice"] | None = None,
    instrument: str | None = None,
    data_level: str | None = None,
    descriptor: str | None = None,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
    ingestion_start_date: DateLike | None = None,
    ingestion_end_date: DateLike | None = None,
    repointing: int | str | None = None,
    version: str | None = None,
    major_version: int | None = None,
    minor_version: int | None = None,
    extension: str | None = None,
    type: str | None = None,
    filename: str | None = None,
    ingested_since: MomentLike | None = None,
    ingested_before: MomentLike | None = None,
    highest_level: bool = False,
) -> QueryResult:
    """Query the SDC for files; any size (large answers are fetched in parts).

    Parameters
    ----------
    table : {"science", "ancillary", "quicklook", "spice"}, optional
        Which table (default science).
    instrument, data_level, descriptor : str, optional
        The product, e.g. ``"mag"``, ``"l1b"``, ``"norm-mago"``.
    start_date, end_date : str or datetime.date, optional
        Days the files cover (inclusive): ``"20251001"``, ``"2025-10-01"`` or a date.
    ingestion_start_date, ingestion_end_date : str or datetime.date, optional
        Days the files arrived in the SDC (inclusive).
    repointing : int or str, optional
        ``12`` or ``"repoint00012"``.
    version : str, optional
        ``"v001.0002"``, ``"v001"`` or ``"latest"`` (the newest version of each file).
    major_version, minor_version : int, optional
        Version parts (not with `version`).
    extension : str, optional
        e.g. ``"cdf"``, ``"pkts"``.
    type : str, optional
        SPICE kernel type (``table="spice"``), e.g. ``"leapseconds"``.
    filename : str, optional
        Exactly this file (the other filters come from its name).
    ingested_since, ingested_before : str, datetime or date, optional
        Keep files ingested at or after / strictly before this time, to the second: an ISO
        date or date-time (``"2025-10-01T12:30:00"``), UTC unless it carries an offset; a
        naive datetime is UTC. The SDC is asked for the whole days around it.
    highest_level : bool, default False
        Per instrument and day (or repointing), only the files of the highest data level
        present, every descriptor of that level, latest version.

    Returns
    -------
    QueryResult
        The SDC's records, a list of dicts (file_path, instrument, data_level, start_date,
        version, ingestion_date, ...), with ``.to_pandas()``, ``.keys`` and ``.paths``.

    Raises
    ------
    UsageError
        A filter value that is not valid (a ValueError); UnknownKeyword (a TypeError) for a
        keyword query does not take; Unavailable when the SDC cannot be reached.

    Examples
    --------
    >>> imap_cli.query(instrument="mag", data_level="l1b").to_pandas()  # doctest: +SKIP
    """
    with Client() as client:
        return client.query(
            table=table,
            instrument=instrument,
            data_level=data_level,
            descriptor=descriptor,
            start_date=start_date,
            end_date=end_date,
            ingestion_start_date=ingestion_start_date,
            ingestion_end_date=ingestion_end_date,
            repointing=repointing,
            version=version,
            major_version=major_version,
            minor_version=minor_version,
            extension=extension,
            type=type,
            filename=filename,
            ingested_since=ingested_since,
            ingested_before=ingested_before,
            highest_level=highest_level,
        )


@checked_keywords
def spice_query(
    *,
    type: str | None = None,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
    ingestion_start_date: DateLike | None = None,
    ingestion_end_date: DateLike | None = None,
    version: str | None = None,
    filename: str | None = None,
) -> QueryResult:
    """Query the SDC's SPICE kernels (``query(table="spice", ...)``).

    Parameters
    ----------
    type : str, optional
        Kernel type, e.g. ``"leapseconds"``, ``"attitude_history"``, ``"spin"`` (default: every
        kernel type).
    start_date, end_date : str or datetime.date, optional
        Kernels covering these days.
    ingestion_start_date, ingestion_end_date : str or datetime.date, optional
        Kernels that arrived in these days.
    version : str, optional
        ``"latest"``: only the newest kernel of each kind.
    filename : str, optional
        Exactly this kernel.

    Returns
    -------
    QueryResult
        The kernel records (file_name, kernel_type, start_date, end_date, ...).

    Examples
    --------
    >>> kernels = imap_cli.spice_query(type="leapseconds", version="latest")  # doctest: +SKIP
    >>> imap_cli.download_many(kernels)  # doctest: +SKIP
    """
    with Client() as client:
        return client.spice_query(
            type=type,
            start_date=start_date,
            end_date=end_date,
            ingestion_start_date=ingestion_start_date,
            ingestion_end_date=ingestion_end_date,
            version=version,
            filename=filename,
        )


@checked_keywords
def download(
    item: str | os.PathLike | Mapping[str, Any],
    *,
    force: bool = False,
    verify: bool = False,
    progress: ProgressOption = None,
) -> Path:
    """Download one file into the data dir (``<data_dir>/<SDC key>``); returns its path.

    A file already there is not fetched again (unless `force`, or `verify` finds it differs).

    Parameters
    ----------
    item : str, os.PathLike or dict
        An SDC key, a file name, a local path, or a query record.
    force : bool, default False
        Fetch again even when the file is there.
    verify : bool, default False
        Compare a file that is there with the SDC's (size and MD5); fetch it again if it differs.
    progress : bool or callable, optional
        True: a progress bar; a callable: receives each TransferEvent; default: a bar only
        when stderr is a terminal.

    Returns
    -------
    pathlib.Path
        The local file.

    Raises
    ------
    NotFound
        No such file in the SDC (the message names it).
    InvalidName
        Not an IMAP file name (also a ValueError).

    Examples
    --------
    >>> path = imap_cli.download("imap_mag_l1b_norm-mago_20251001_v001.0002.cdf")
    ... # doctest: +SKIP
    """
    with Client() as client:
        return client.download(item, force=force, verify=verify, progress=progress)


@checked_keywords
def download_many(
    items: DownloadItems,
    *,
    force: bool = False,
    verify: bool = False,
    dry_run: bool = False,
    jobs: int | None = None,
    progress: ProgressOption = None,
    raise_on_error: bool = True,
) -> Downloaded:
    """Download many files in parallel; every file is tried, then failures are raised together.

    Parameters
    ----------
    items : str, os.PathLike, dict, DataFrame, Series or iterable of those
        SDC keys, file names, local paths, query records, a query result, or a pandas
        DataFrame (its file_path column). One string is one file.
    force : bool, default False
        Fetch again files that are there.
    verify : bool, default False
        Compare files that are there with the SDC's; fetch again those that differ.
    dry_run : bool, default False
        Fetch nothing; ``.planned`` says where each file would go.
    jobs : int, optional
        Parallel transfers, 1..64 (default: the jobs setting).
    progress : bool or callable, optional
        True: a progress bar; a callable: receives each TransferEvent; default: a bar only
        when stderr is a terminal.
    raise_on_error : bool, default True
        Raise a TransferError when any file failed; False returns the result (check
        ``.errors``).

    Returns
    -------
    Downloaded
        The paths of the files that are there, in input order (failed files have none), with
        ``.errors``, ``.skipped``, ``.downloaded``, ``.results`` and ``.retry()``.

    Raises
    ------
    TransferError
        Some files failed (after all were tried); ``error.outcome`` is the Downloaded result,
        ``error.results`` every file's result, and a note names each failure.
    InvalidNames
        Some inputs are not IMAP names; nothing was fetched (also a ValueError).

    Examples
    --------
    >>> rows = imap_cli.query(instrument="mag", data_level="l1b")  # doctest: +SKIP
    >>> files = imap_cli.download_many(rows, jobs=16)  # doctest: +SKIP
    """
    with Client() as client:
        return client.download_many(
            items,
            force=force,
            verify=verify,
            dry_run=dry_run,
            jobs=jobs,
            progress=progress,
            raise_on_error=raise_on_error,
        )


@checked_keywords
def upload(path: PathLike, *, progress: ProgressOption = None) -> UploadedKey:
    """Upload one file to the SDC (an API key with write access is needed).

    A file the SDC has already, with the same content, is not sent again.

    Parameters
    ----------
    path : str or os.PathLike
        The file; its name must be an IMAP file name.
    progress : bool or callable, optional
        True: a progress bar; a callable: receives each TransferEvent.

    Returns
    -------
    UploadedKey
        Its SDC key (a str); ``.uploaded`` is True when sent now, False when already there.

    Raises
    ------
    Refused
        The key is missing, wrong, or may only read.
    Conflict
        The SDC has a different file under that name.

    Examples
    --------
    >>> key = imap_cli.upload("imap_mag_l1a_norm-mago_20251001_v001.cdf")  # doctest: +SKIP
    >>> key.uploaded  # doctest: +SKIP
    True
    """
    with Client() as client:
        return client.upload(path, progress=progress)


@checked_keywords
def upload_many(
    paths: PathLike | Iterable[PathLike],
    *,
    dry_run: bool = False,
    jobs: int | None = None,
    progress: ProgressOption = None,
    raise_on_error: bool = True,
) -> Uploaded:
    """Upload many files in parallel; every file is tried, then failures are raised together.

    Every file is checked first: a bad name or an unreadable file raises InvalidUploads
    (listing each problem) before anything is sent.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of those
        The files. One string is one file.
    dry_run : bool, default False
        Send nothing; ask the SDC which files it has (``.planned``: what would be sent).
    jobs : int, optional
        Parallel transfers, 1..64 (default: the jobs setting).
    progress : bool or callable, optional
        True: a progress bar; a callable: receives each TransferEvent.
    raise_on_error : bool, default True
        Raise a TransferError when any file failed; False returns the result.

    Returns
    -------
    Uploaded
        The SDC keys of the files now in the SDC, with ``.uploaded`` (sent now), ``.skipped``
        (there already), ``.errors``, ``.results`` and ``.retry()``.

    Raises
    ------
    TransferError
        Some files failed; ``error.outcome`` is the Uploaded result.
    InvalidUploads
        A file cannot be uploaded as it is; nothing was sent (also a ValueError).

    Examples
    --------
    >>> sent = imap_cli.upload_many(Path("out").glob("imap_*.cdf"))  # doctest: +SKIP
    """
    with Client() as client:
        return client.upload_many(
            paths, dry_run=dry_run, jobs=jobs, progress=progress, raise_on_error=raise_on_error
        )


@checked_keywords
def sync(
    *,
    table: Literal["science", "ancillary", "quicklook", "spice"] | None = None,
    instrument: str | None = None,
    data_level: str | None = None,
    descriptor: str | None = None,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
    repointing: int | str | None = None,
    version: str | None = None,
    extension: str | None = None,
    type: str | None = None,
    ingested_since: MomentLike | None = None,
    ingested_before: MomentLike | None = None,
    highest_level: bool = False,
    since: DateLike | None = None,
    dry_run: bool = False,
    latest_only: bool = False,
    prune_superseded: bool = False,
    shard: str | tuple[int, int] | None = None,
    jobs: int | None = None,
    progress: ProgressOption = None,
) -> dict[str, Any]:
    """Fetch what is new since the last sync of these filters (as ``imap sync``).

    Parameters
    ----------
    table, instrument, data_level, descriptor : str, optional
        The query's filters (see `query`).
    start_date, end_date, repointing, version, extension, type : optional
        The query's filters (see `query`).
    ingested_since, ingested_before : str, datetime or date, optional
        Only files ingested at or after / strictly before this time, to the second (as
        `query`).
    highest_level : bool, default False
        Only the highest data level present per instrument and day (as `query`).
    since : str or datetime.date, optional
        Start from files ingested since this day instead of the last sync.
    dry_run : bool, default False
        Fetch nothing and keep the state; say what would be fetched.
    latest_only : bool, default False
        Only the newest version of each file.
    prune_superseded : bool, default False
        Delete local files superseded by a newer version this sync fetched.
    shard : str or (int, int), optional
        ``"K/N"``: take only shard K of N (N hosts share the work).
    jobs : int, optional
        Parallel transfers, 1..64.
    progress : bool or callable, optional
        True: a progress bar; a callable: receives each TransferEvent.

    Returns
    -------
    dict
        new, skipped, failed, superseded (counts); files (Paths fetched); pruned (Paths);
        watermark; failures; superseded_files; state.

    Examples
    --------
    >>> summary = imap_cli.sync(instrument="mag", data_level="l1b", latest_only=True)
    ... # doctest: +SKIP
    >>> summary["files"]  # doctest: +SKIP
    """
    with Client() as client:
        return client.sync(
            table=table,
            instrument=instrument,
            data_level=data_level,
            descriptor=descriptor,
            start_date=start_date,
            end_date=end_date,
            repointing=repointing,
            version=version,
            extension=extension,
            type=type,
            ingested_since=ingested_since,
            ingested_before=ingested_before,
            highest_level=highest_level,
            since=since,
            dry_run=dry_run,
            latest_only=latest_only,
            prune_superseded=prune_superseded,
            shard=shard,
            jobs=jobs,
            progress=progress,
        )


# --- Client methods document their parameters as the functions of the same name do -----------


def _sections(doc: str) -> tuple[str, dict[str, str]]:
    """A numpydoc docstring's summary and its sections by title."""
    import inspect
    import re

    text = inspect.cleandoc(doc)
    parts = re.split(r"^(\w[\w ]*)\n-{3,}\n", text, flags=re.M)
    return parts[0].rstrip(), {parts[i]: parts[i + 1].rstrip() for i in range(1, len(parts), 2)}


def _share_parameter_docs() -> None:
    # A method that says "see `imap_cli.x`" gets x's Parameters and Raises, so `client.x?` in
    # IPython and help() show them without a second copy in the source.
    order = ("Parameters", "Returns", "Raises", "Examples")
    methods = {n: m for cls in reversed(Client.__mro__) for n, m in vars(cls).items()}
    for name, method in methods.items():
        function = globals().get(name)
        if name.startswith("_") or not callable(function) or not method.__doc__:
            continue
        summary, own = _sections(method.__doc__)
        _, shared = _sections(function.__doc__ or "")
        merged = {**{k: v for k, v in shared.items() if k in ("Parameters", "Raises")}, **own}
        body = "\n\n".join(f"{t}\n{'-' * len(t)}\n{merged[t]}" for t in order if t in merged)
        method.__doc__ = f"{summary}\n\n{body}\n"


_share_parameter_docs()
