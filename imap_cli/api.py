"""The public Python API: `imap_cli.query`, `download`, `upload`, `config`, `Client`, ...

Every function has its parameters spelled out (the CLI's long option names in snake case) and
a numpydoc docstring with an example. Module-level functions open a `Client` from the settings
(defaults < config file < environment < `imap_cli.config[...]`) for one call; a `Client` keeps
one connection pool for many calls, and may point at another SDC.

Errors are `imap_cli.errors.IMAPError`s; bad values are also `ValueError`s, unknown keywords
`TypeError`s; each carries its hint as an exception note. `download_many` and `upload_many`
try every file, then raise one `TransferError` naming each failure.

A new function is one self-contained block: the Client method, then the module-level function
that opens a Client for it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from imap_cli._keywords import checked_keywords
from imap_cli.core import settings as _settings
from imap_cli.core.naming import IMAPName, parse_key

if TYPE_CHECKING:
    from imap_cli._progress import ProgressOption
    from imap_cli.core.http import SDCClient
    from imap_cli.core.transfer import FileResult
    from imap_cli.results import Downloaded, QueryResult, Uploaded, UploadedKey

log = logging.getLogger("imap_cli")

DateLike = str | dt.date
"""A date: ``"20251001"``, ``"2025-10-01"`` or a ``datetime.date``."""
PathLike = str | os.PathLike
"""A local path: a str or a ``pathlib.Path``."""
DownloadItems = Any
"""What download functions take: an SDC key, a file name, a local path, a query record (dict),
a pandas DataFrame (its file_path column) or Series, or an iterable of those."""

# The official client's config names -> our setting keys.
_CONFIG_NAMES = {
    "DATA_DIR": "data-dir",
    "DATA_ACCESS_URL": "url",
    "API_KEY": "api-key",
    "ACCESS_TOKEN": "access-token",
    "WEBPODA_TOKEN": "webpoda-token",
}


_SECRETS = {"API_KEY": "api_key", "ACCESS_TOKEN": "access_token", "WEBPODA_TOKEN": "webpoda_token"}
_MASKED = {"API_KEY", "ACCESS_TOKEN", "WEBPODA_TOKEN"}


class _Config(MutableMapping[str, Any]):
    """`imap_cli.config["DATA_DIR"]`, like the official client: reads resolved settings,
    assignment overrides them for this process.

    Keys: DATA_DIR, DATA_ACCESS_URL, API_KEY, ACCESS_TOKEN, WEBPODA_TOKEN. Secrets are masked
    in its repr.

    Examples
    --------
    >>> imap_cli.config["DATA_DIR"] = "/data/imap"  # doctest: +SKIP
    >>> imap_cli.config["DATA_ACCESS_URL"]  # doctest: +SKIP
    'https://api.imap-mission.com'
    """

    def __init__(self) -> None:
        self._overrides: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in _CONFIG_NAMES:
            raise KeyError(name)
        if name in self._overrides:
            return self._overrides[name]
        resolved = self.settings()
        if name == "ACCESS_TOKEN":
            return resolved.access_token
        return resolved.value(_CONFIG_NAMES[name])

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in _CONFIG_NAMES:
            raise KeyError(f"{name!r}: config keys are {', '.join(_CONFIG_NAMES)}")
        key = _CONFIG_NAMES[name]
        if value is None and name not in _SECRETS:
            # No data dir or URL at all makes no sense: None means "back to the resolved value".
            self._overrides.pop(name, None)
            return
        if value is not None and key != "access-token":
            value = _settings.check_value(key, value)
            if key == "data-dir":
                value = Path(value)
        self._overrides[name] = value

    def __delitem__(self, name: str) -> None:
        del self._overrides[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_CONFIG_NAMES)

    def __len__(self) -> int:
        return len(_CONFIG_NAMES)

    def __repr__(self) -> str:
        shown = {}
        for name in _CONFIG_NAMES:
            value = self[name]
            shown[name] = _settings.mask(value) if name in _MASKED else value
        return f"imap_cli.config({shown})"

    __str__ = __repr__

    def settings(self, **flags: Any) -> _settings.Settings:
        """Resolve settings with this process's overrides, then `flags`, applied as flags.

        A secret overridden with None means "no credential", whatever the environment says.
        """
        from dataclasses import replace

        known = {*_settings.KEYS, "access-token"}
        unknown = sorted(set(flags) - known)
        if unknown:
            raise TypeError(f"unknown setting(s) {unknown}; valid: {', '.join(sorted(known))}")
        merged = {
            _CONFIG_NAMES[k]: v
            for k, v in self._overrides.items()
            if v is not None and k != "ACCESS_TOKEN"
        }
        merged.update({k: v for k, v in flags.items() if v is not None})
        token = merged.pop("access-token", None)
        resolved = _settings.resolve(flags=merged, given_as="argument")
        secrets = {
            field: self._overrides[name]
            for name, field in _SECRETS.items()
            if name in self._overrides and self._overrides[name] is None
        }
        if "ACCESS_TOKEN" in self._overrides:
            secrets["access_token"] = self._overrides["ACCESS_TOKEN"]
        if token is not None:
            secrets["access_token"] = token
        return replace(resolved, **secrets) if secrets else resolved


config = _Config()


# --- file names -----------------------------------------------------------------------------


@checked_keywords
def parse_name(name_or_key: str | os.PathLike) -> IMAPName:
    """Read an IMAP file name (or SDC key, or local path) into its parts.

    Parameters
    ----------
    name_or_key : str or os.PathLike
        ``imap_mag_l1b_norm-mago_20251001_v001.0002.cdf``, its SDC key, or a path to it.

    Returns
    -------
    IMAPName
        ``kind`` (science, ancillary, quicklook, spice, ...), ``instrument``, ``data_level``
        (also ``level``), ``descriptor``, ``start_date`` / ``end_date`` (YYYYMMDD; ``dates``
        as ``datetime.date``), ``version``, ``major_version``, ``minor_version``,
        ``repointing``, ``name`` and ``key`` (its SDC key, also its path under the data dir).

    Raises
    ------
    InvalidName
        The name does not follow the IMAP conventions (also a ValueError).

    Examples
    --------
    >>> n = imap_cli.parse_name("imap_mag_l1b_norm-mago_20251001_v001.0002.cdf")
    >>> n.instrument, n.level, n.major_version, n.key
    ('mag', 'l1b', 1, 'imap/mag/l1b/2025/10/imap_mag_l1b_norm-mago_20251001_v001.0002.cdf')
    """
    text = os.fspath(name_or_key)
    if isinstance(name_or_key, os.PathLike):
        text = Path(text).name
    return parse_key(text)


@checked_keywords
def build_name(
    *,
    instrument: str,
    descriptor: str,
    start_date: DateLike,
    version: str,
    data_level: str | None = None,
    extension: str | None = None,
    end_date: DateLike | None = None,
    repointing: int | None = None,
) -> IMAPName:
    """Build a checked IMAP file name from its parts (science with a data_level, else ancillary).

    Parameters
    ----------
    instrument : str
        e.g. ``"mag"``.
    descriptor : str
        e.g. ``"norm-mago"``.
    start_date : str or datetime.date
        The file's first day.
    version : str
        ``"v001.0002"`` (science) or ``"v001"`` (ancillary, or legacy science).
    data_level : str, optional
        e.g. ``"l1b"``; without it the name is an ancillary file's.
    extension : str, optional
        Default ``cdf`` (``pkts`` for l0); ancillary files need one.
    end_date : str or datetime.date, optional
        Ancillary files only: the last day it covers.
    repointing : int, optional
        The repointing number.

    Returns
    -------
    IMAPName
        The parsed name; ``.name`` is the file name, ``.key`` its SDC key.

    Raises
    ------
    InvalidName
        A part that is not valid (also a ValueError).

    Examples
    --------
    >>> imap_cli.build_name(instrument="mag", data_level="l1b", descriptor="norm-mago",
    ...                     start_date="20251001", version="v001.0002").name
    'imap_mag_l1b_norm-mago_20251001_v001.0002.cdf'
    """
    from imap_cli.core.naming import build_ancillary_name, build_science_name

    if data_level is not None:
        if end_date is not None:
            from imap_cli.core.errors import UsageError, word

            raise UsageError(
                f"science files have no {word('end_date')}; ancillary files have no data level",
                field="end_date",
            )
        name = build_science_name(
            instrument, data_level, descriptor, start_date, version, extension, repointing
        )
    else:
        if extension is None:
            from imap_cli.core.errors import UsageError, option

            raise UsageError(
                "an ancillary file name needs an extension (or give a data_level for science)",
                f"For example: {option('extension', 'cdf')}",
                field="extension",
            )
        name = build_ancillary_name(
            instrument, descriptor, start_date, version, extension, end_date, repointing
        )
    return parse_key(name)


# --- the client -------------------------------------------------------------------------------


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


class Client:
    """One connection pool to one SDC, for many calls; settings given here win.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Where files go (default: the data_dir setting, IMAP_DATA_DIR).
    url : str, optional
        The SDC API's address (default: the url setting, IMAP_DATA_ACCESS_URL).
    api_key : str, optional
        An SDC API key (default: IMAP_API_KEY). Never shown: repr and str mask it.
    access_token : str, optional
        A bearer token (default: IMAP_ACCESS_TOKEN).
    jobs : int, optional
        Parallel transfers, 1..64 (default 8).
    timeout : float, optional
        Seconds to wait for an answer (default 60).
    retries : int, optional
        Retries of a failed request, 0..20 (default 5).
    ca_bundle : str or os.PathLike, optional
        A CA bundle to verify the SDC's certificate with.

    Raises
    ------
    ConfigError
        A value that is not valid (also a ValueError).

    Examples
    --------
    >>> with imap_cli.Client(url="http://127.0.0.1:8765", jobs=4) as sdc:  # doctest: +SKIP
    ...     rows = sdc.query(instrument="mag", data_level="l1b")
    ...     files = sdc.download_many(rows)
    """

    settings: _settings.Settings
    sdc: SDCClient

    @checked_keywords
    def __init__(
        self,
        *,
        data_dir: str | os.PathLike | None = None,
        url: str | None = None,
        api_key: str | None = None,
        access_token: str | None = None,
        jobs: int | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        ca_bundle: str | os.PathLike | None = None,
    ) -> None:
        from imap_cli.core.http import SDCClient

        given = {
            "data-dir": None if data_dir is None else os.fspath(data_dir),
            "url": url,
            "api-key": api_key,
            "access-token": access_token,
            "jobs": jobs,
            "timeout": timeout,
            "retries": retries,
            "ca-bundle": None if ca_bundle is None else os.fspath(ca_bundle),
        }
        self.settings = config.settings(**{k: v for k, v in given.items() if v is not None})
        self.sdc = SDCClient(self.settings)

    @classmethod
    def _with(cls, settings: _settings.Settings) -> Client:
        """Another Client with the same settings (a retry after the first one closed)."""
        from imap_cli.core.http import SDCClient

        made = cls.__new__(cls)
        made.settings = settings
        made.sdc = SDCClient(settings)
        return made

    def __repr__(self) -> str:
        key = _settings.mask(self.settings.api_key)
        token = _settings.mask(self.settings.access_token)
        secrets = (f", api_key={key!r}" if key else "") + (
            f", access_token={token!r}" if token else ""
        )
        return (
            f"Client(url={self.settings.url!r}, data_dir={str(self.settings.data_dir)!r}, "
            f"jobs={self.settings.jobs}{secrets})"
        )

    __str__ = __repr__

    def close(self) -> None:
        """Release the connection pool.

        Examples
        --------
        >>> client = imap_cli.Client()  # doctest: +SKIP
        >>> client.close()  # doctest: +SKIP
        """
        self.sdc.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- query ---------------------------------------------------------------------------

    @checked_keywords
    def query(
        self,
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
        ingested_since: str | dt.datetime | dt.date | None = None,
        ingested_before: str | dt.datetime | dt.date | None = None,
        highest_level: bool = False,
    ) -> QueryResult:
        """Query the SDC; see `imap_cli.query` for the parameters.

        Returns
        -------
        QueryResult
            The SDC's records (a list of dicts) with ``.to_pandas()``, ``.keys``, ``.paths``.

        Examples
        --------
        >>> with imap_cli.Client() as sdc:  # doctest: +SKIP
        ...     rows = sdc.query(instrument="mag", data_level="l1b", start_date="20251001")
        """
        from imap_cli.core.query import fetch, plan_query
        from imap_cli.results import QueryResult

        plan = plan_query(
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
        rows = fetch(self.sdc, plan)
        log.info("%s query: %d records", plan.table, len(rows))
        return QueryResult(rows, table=plan.table, data_dir=self.settings.data_dir)

    @checked_keywords
    def spice_query(
        self,
        *,
        type: str | None = None,
        start_date: DateLike | None = None,
        end_date: DateLike | None = None,
        ingestion_start_date: DateLike | None = None,
        ingestion_end_date: DateLike | None = None,
        version: str | None = None,
        filename: str | None = None,
    ) -> QueryResult:
        """Query the SDC's SPICE kernels; see `imap_cli.spice_query` for the parameters.

        Returns
        -------
        QueryResult
            The kernel records (file_name, kernel_type, dates, ...).

        Examples
        --------
        >>> with imap_cli.Client() as sdc:  # doctest: +SKIP
        ...     kernels = sdc.spice_query(type="leapseconds", version="latest")
        """
        return self.query(
            table="spice",
            type=type,
            start_date=start_date,
            end_date=end_date,
            ingestion_start_date=ingestion_start_date,
            ingestion_end_date=ingestion_end_date,
            version=version,
            filename=filename,
        )

    # --- downloads -----------------------------------------------------------------------

    def _download_results(
        self,
        items: list[str],
        *,
        force: bool,
        verify: bool,
        dry_run: bool,
        jobs: int | None,
        progress: ProgressOption,
    ) -> Sequence[FileResult]:
        from imap_cli._progress import progress_sink
        from imap_cli.core.download.pipeline import download_files

        jobs = _check_jobs(jobs, self.settings.jobs)
        with progress_sink(progress, "Downloading") as sink:
            results = download_files(
                self.sdc,
                items,
                data_dir=self.settings.data_dir,
                jobs=jobs,
                force=force,
                verify=verify,
                dry_run=dry_run,
                on_event=sink,
            )
        failed = sum(1 for r in results if r.error is not None)
        log.info("download: %d files, %d failed", len(results), failed)
        return results

    @checked_keywords
    def download_many(
        self,
        items: DownloadItems,
        *,
        force: bool = False,
        verify: bool = False,
        dry_run: bool = False,
        jobs: int | None = None,
        progress: ProgressOption = None,
        raise_on_error: bool = True,
    ) -> Downloaded:
        """Download many files in parallel; see `imap_cli.download_many` for the parameters.

        Returns
        -------
        Downloaded
            The paths of the files that are there (``.errors``, ``.skipped``, ``.retry()``).

        Examples
        --------
        >>> with imap_cli.Client(jobs=16) as sdc:  # doctest: +SKIP
        ...     files = sdc.download_many(sdc.query(instrument="mag", data_level="l1b"))
        """
        from imap_cli._inputs import download_items
        from imap_cli.results import Downloaded

        keys = download_items(items)
        settings = self.settings

        def again(retry: list[str]) -> Sequence[FileResult]:
            with Client._with(settings) as client:
                return client._download_results(
                    retry, force=force, verify=verify, dry_run=dry_run, jobs=jobs, progress=progress
                )

        results = self._download_results(
            keys, force=force, verify=verify, dry_run=dry_run, jobs=jobs, progress=progress
        )
        outcome = Downloaded(results, again)
        if raise_on_error:
            outcome.raise_for_errors()
        return outcome

    @checked_keywords
    def download(
        self,
        item: str | os.PathLike | Mapping[str, Any],
        *,
        force: bool = False,
        verify: bool = False,
        progress: ProgressOption = None,
    ) -> Path:
        """Download one file; see `imap_cli.download` for the parameters.

        Returns
        -------
        pathlib.Path
            The file's local path.

        Examples
        --------
        >>> with imap_cli.Client() as sdc:  # doctest: +SKIP
        ...     path = sdc.download("imap_mag_l1b_norm-mago_20251001_v001.0002.cdf")
        """
        from imap_cli._inputs import download_items
        from imap_cli.core.errors import UsageError

        keys = download_items(item)
        if len(keys) != 1:
            raise UsageError(
                f"download() takes one file, not {len(keys)}; use download_many() for several",
                field="item",
            )
        (result,) = self._download_results(
            keys, force=force, verify=verify, dry_run=False, jobs=1, progress=progress
        )
        if result.error is not None:
            raise _named(result.error, result.key) from None
        assert result.path is not None
        return Path(result.path)

    # --- uploads -------------------------------------------------------------------------

    def _upload_results(
        self, paths: list[Path], *, jobs: int | None, dry_run: bool, progress: ProgressOption
    ) -> list[FileResult]:
        from imap_cli._progress import progress_sink
        from imap_cli.core.upload import upload_files

        jobs = _check_jobs(jobs, self.settings.jobs)
        with progress_sink(progress, "Uploading") as sink:
            results = upload_files(self.sdc, paths, jobs=jobs, on_event=sink, dry_run=dry_run)
        failed = sum(1 for r in results if r.error is not None)
        log.info("upload: %d files, %d failed", len(results), failed)
        return results

    @checked_keywords
    def upload_many(
        self,
        paths: PathLike | Iterable[PathLike],
        *,
        dry_run: bool = False,
        jobs: int | None = None,
        progress: ProgressOption = None,
        raise_on_error: bool = True,
    ) -> Uploaded:
        """Upload many files in parallel; see `imap_cli.upload_many` for the parameters.

        Returns
        -------
        Uploaded
            The SDC keys of the files now in the SDC (``.uploaded``, ``.skipped``, ``.errors``).

        Examples
        --------
        >>> with imap_cli.Client(api_key="...") as sdc:  # doctest: +SKIP
        ...     sent = sdc.upload_many(sorted(Path("out").glob("imap_*.cdf")))
        """
        from imap_cli._inputs import upload_paths
        from imap_cli.results import Uploaded

        files = upload_paths(paths)
        settings = self.settings

        def again(retry: list[str]) -> list[FileResult]:
            with Client._with(settings) as client:
                return client._upload_results(
                    [Path(p) for p in retry], jobs=jobs, dry_run=dry_run, progress=progress
                )

        outcome = Uploaded(
            self._upload_results(files, jobs=jobs, dry_run=dry_run, progress=progress), again
        )
        if raise_on_error:
            outcome.raise_for_errors()
        return outcome

    @checked_keywords
    def upload(self, path: PathLike, *, progress: ProgressOption = None) -> UploadedKey:
        """Upload one file; see `imap_cli.upload` for the parameters.

        Returns
        -------
        UploadedKey
            Its SDC key (a str); ``.uploaded`` is False when the SDC had it already.

        Examples
        --------
        >>> with imap_cli.Client(api_key="...") as sdc:  # doctest: +SKIP
        ...     key = sdc.upload("imap_mag_l1a_norm-mago_20251001_v001.cdf")
        """
        from imap_cli._inputs import upload_paths
        from imap_cli.results import UploadedKey

        (result,) = self._upload_results(
            upload_paths(path), jobs=1, dry_run=False, progress=progress
        )
        if result.error is not None:
            raise _named(result.error, result.key) from None
        return UploadedKey(result.key, result.status)

    # --- sync ----------------------------------------------------------------------------

    @checked_keywords
    def sync(
        self,
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
        ingested_since: str | dt.datetime | dt.date | None = None,
        ingested_before: str | dt.datetime | dt.date | None = None,
        highest_level: bool = False,
        since: DateLike | None = None,
        dry_run: bool = False,
        latest_only: bool = False,
        prune_superseded: bool = False,
        shard: str | tuple[int, int] | None = None,
        jobs: int | None = None,
        progress: ProgressOption = None,
    ) -> dict[str, Any]:
        """Bring the data dir up to date with a query; see `imap_cli.sync` for the parameters.

        Returns
        -------
        dict
            new, skipped, failed, superseded (counts); files, pruned (Paths); watermark, ...

        Examples
        --------
        >>> with imap_cli.Client() as sdc:  # doctest: +SKIP
        ...     summary = sdc.sync(instrument="mag", data_level="l1b", latest_only=True)
        """
        from imap_cli._progress import progress_sink
        from imap_cli.core.shard import parse_shard
        from imap_cli.core.sync import sync as _sync

        filters = {
            "table": table,
            "instrument": instrument,
            "data_level": data_level,
            "descriptor": descriptor,
            "start_date": start_date,
            "end_date": end_date,
            "repointing": repointing,
            "version": version,
            "extension": extension,
            "type": type,
            "ingested_since": ingested_since,
            "ingested_before": ingested_before,
            "highest_level": highest_level or None,
        }
        if isinstance(shard, str):
            shard = parse_shard(shard)
        with progress_sink(progress, "Syncing") as sink:
            summary = _sync(
                self.sdc,
                data_dir=self.settings.data_dir,
                filters={k: v for k, v in filters.items() if v is not None},
                jobs=_check_jobs(jobs, self.settings.jobs),
                since=since,
                dry_run=dry_run,
                latest_only=latest_only,
                prune_superseded=prune_superseded,
                shard=shard,
                on_event=sink,
            )
        out = summary.as_dict()
        # Paths, as download_many gives (the CLI's JSON keeps strings).
        out["files"] = [Path(p) for p in out["files"]]
        out["pruned"] = [Path(p) for p in out["pruned"]]
        out["state"] = Path(out["state"])
        for item in out["superseded_files"]:
            item["path"] = Path(item["path"])
        return out

    # --- operations ----------------------------------------------------------------------

    @checked_keywords
    def reprocess(
        self,
        *,
        start_date: DateLike,
        end_date: DateLike,
        instrument: str,
        data_level: str | None = None,
        descriptor: str | None = None,
    ) -> str | None:
        """Ask the SDC to reprocess; see `imap_cli.reprocess` for the parameters.

        Returns
        -------
        str or None
            The SDC's reprocess id (None from older SDCs).

        Examples
        --------
        >>> with imap_cli.Client(api_key="...") as sdc:  # doctest: +SKIP
        ...     sdc.reprocess(start_date="20251001", end_date="20251003", instrument="mag")
        """
        from imap_cli.core import reprocess as _reprocess

        request = _reprocess.plan_reprocess(
            start_date=start_date,
            end_date=end_date,
            instrument=instrument,
            data_level=data_level,
            descriptor=descriptor,
        )
        return _reprocess.reprocess(self.sdc, request).reprocess_id

    @checked_keywords
    def release(self, manifest: PathLike, *, dry_run: bool = False) -> Any:
        """Release files per a manifest; see `imap_cli.release` for the parameters.

        Returns
        -------
        str or list of dict
            The SDC's message; with ``dry_run=True``, the records it would release.

        Examples
        --------
        >>> with imap_cli.Client(api_key="...") as sdc:  # doctest: +SKIP
        ...     sdc.release("imap_mag_data-release-001_20251001_20251031_v001.txt", dry_run=True)
        """
        from imap_cli.core import release as _release

        checked = _release.read_manifest(Path(manifest))
        if dry_run:
            return _release.preview(self.sdc, checked)
        return _release.release(self.sdc, checked).message

    @checked_keywords
    def jobs(
        self,
        *,
        status: str | None = None,
        instrument: str | None = None,
        data_level: str | None = None,
        descriptor: str | None = None,
        start_date: DateLike | None = None,
    ) -> list[dict[str, Any]]:
        """The SDC's processing jobs, newest first; see `imap_cli.jobs` for the parameters.

        Returns
        -------
        list of dict
            One record per job.

        Examples
        --------
        >>> with imap_cli.Client() as sdc:  # doctest: +SKIP
        ...     failed = sdc.jobs(status="failed", instrument="mag")
        """
        from imap_cli.core.jobs import list_jobs

        filters = {
            "status": status,
            "instrument": instrument,
            "data_level": data_level,
            "descriptor": descriptor,
            "start_date": start_date,
        }
        return list_jobs(self.sdc, **{k: v for k, v in filters.items() if v is not None})

    @checked_keywords
    def job_logs(self, stream: str) -> str:
        """One processing job's log; see `imap_cli.job_logs`.

        Returns
        -------
        str
            The log text.

        Examples
        --------
        >>> with imap_cli.Client() as sdc:  # doctest: +SKIP
        ...     print(sdc.job_logs(sdc.jobs(status="failed")[0]["job_log_stream_id"]))
        """
        from imap_cli.core.jobs import job_logs

        return job_logs(self.sdc, stream)

    @checked_keywords
    def wait_jobs(
        self,
        *,
        instrument: str | None = None,
        data_level: str | None = None,
        descriptor: str | None = None,
        start_date: str | None = None,
        since: str | dt.datetime | None = None,
        timeout: float | None = None,
        interval: float = 15.0,
    ) -> dict[str, Any]:
        """Wait until no matching processing job is in progress (as `imap jobs --wait`).

        Parameters
        ----------
        instrument, data_level, descriptor, start_date : str, optional
            The jobs' filters, as `jobs()`.
        since : str or datetime, optional
            Also follow jobs started at or after this time (ISO, UTC unless an offset is
            given), not only those running now or starting while waiting.
        timeout : float, optional
            Seconds to wait at most; the result then has ``timed_out`` True.
        interval : float, default 15.0
            The first pause between polls, in seconds; it grows 1.5x a poll, up to 120 s.

        Returns
        -------
        dict
            ``jobs`` (the followed jobs' records, newest first), ``running``, ``succeeded``,
            ``failed`` (counts) and ``timed_out``.

        Examples
        --------
        >>> client.wait_jobs(instrument="mag", timeout=3600)["failed"]  # doctest: +SKIP
        0
        """
        from imap_cli.core.follow import DEFAULT_MAX_INTERVAL, WaitPolicy, wait_for_jobs
        from imap_cli.core.jobs import list_jobs, plan_jobs
        from imap_cli.core.moments import parse_moment

        filters = {
            "instrument": instrument,
            "data_level": data_level,
            "descriptor": descriptor,
            "start_date": start_date,
        }
        plan_jobs(**filters)
        policy = WaitPolicy(
            interval=interval, max_interval=max(DEFAULT_MAX_INTERVAL, interval), timeout=timeout
        )
        result = wait_for_jobs(
            lambda: list_jobs(self.sdc, **filters),
            policy,
            started_after=parse_moment(since, "since") if since is not None else None,
        )
        return result.as_dict()

    @checked_keywords
    def reprocess_check(
        self,
        *,
        start_date: str,
        end_date: str,
        instrument: str,
        since: str | dt.datetime,
        data_level: str | None = None,
        descriptor: str | None = None,
    ) -> dict[str, Any]:
        """The latest files of a reprocessed range not re-made since the request was sent.

        Parameters
        ----------
        start_date, end_date, instrument, data_level, descriptor : str
            The reprocess request, as `reprocess()`.
        since : str or datetime
            When the request was sent (ISO, UTC unless an offset is given).

        Returns
        -------
        dict
            ``since``, ``files`` (how many latest files the range has) and ``not_remade``
            (``file_path`` and ``ingestion_date`` of each file ingested before `since`).

        Examples
        --------
        >>> client.reprocess_check(start_date="20251001", end_date="20251003",
        ...                        instrument="mag", since="2025-10-05T10:00:00Z")  # doctest: +SKIP
        """
        from imap_cli.core.moments import parse_moment
        from imap_cli.core.remade import check_remade
        from imap_cli.core.reprocess import plan_reprocess

        request = plan_reprocess(
            start_date=start_date,
            end_date=end_date,
            instrument=instrument,
            data_level=data_level,
            descriptor=descriptor,
        )
        return check_remade(self.sdc, request, parse_moment(since, "since")).as_dict()

    @checked_keywords
    def coverage(
        self,
        instrument: str,
        *,
        data_level: str | Iterable[str] | None = None,
        descriptor: str | Iterable[str] | None = None,
        start_date: DateLike | None = None,
        end_date: DateLike | None = None,
        by: Literal["day", "repointing"] | None = None,
        table: Literal["science", "ancillary"] | None = None,
    ) -> dict[str, Any]:
        """What the SDC holds for an instrument; see `imap_cli.coverage` for the parameters.

        Returns
        -------
        dict
            Products, the latest version per day or repointing, and the gaps.

        Examples
        --------
        >>> with imap_cli.Client() as sdc:  # doctest: +SKIP
        ...     report = sdc.coverage("mag", data_level="l1b", start_date="20251001")
        """
        from imap_cli.core.coverage import fetch_coverage, plan_coverage

        plan = plan_coverage(
            instrument,
            data_level=data_level,
            descriptor=descriptor,
            start_date=start_date,
            end_date=end_date,
            by=by,
            table=table,
        )
        return fetch_coverage(self.sdc, plan).as_dict()

    @checked_keywords
    def products(
        self,
        *,
        instrument: str | None = None,
        data_level: str | None = None,
        table: str = "science",
    ) -> list[dict[str, Any]]:
        """The products the SDC holds: one dict per instrument, data level and descriptor.

        Parameters
        ----------
        instrument : str, optional
            One instrument; default every instrument (one query each).
        data_level : str, optional
            One data level (not on the ancillary table).
        table : {"science", "ancillary", "quicklook"}, default "science"
            The table whose products are listed.

        Returns
        -------
        list of dict
            Keys ``instrument``, ``data_level``, ``descriptor``, ``files`` (the latest
            version of each day or repointing), ``first_date``, ``last_date``
            (``YYYY-MM-DD``), ``latest_version`` and ``last_ingested``
            (``YYYY-MM-DD HH:MM:SS``, UTC).

        Examples
        --------
        >>> client.products(instrument="swapi")[0]["latest_version"]  # doctest: +SKIP
        'v001.0000'
        """
        from imap_cli.core.products import list_products

        found = list_products(self.sdc, instrument=instrument, data_level=data_level, table=table)
        return [product.as_dict() for product in found]

    @checked_keywords
    def metakernel(
        self,
        output: PathLike,
        *,
        start_date: DateLike | None = None,
        end_date: DateLike | None = None,
        types: Iterable[str] | None = None,
        require_coverage: bool = False,
    ) -> Path:
        """Download kernels and write a metakernel; see `imap_cli.metakernel`.

        Returns
        -------
        pathlib.Path
            The ``.tm`` file written.

        Examples
        --------
        >>> with imap_cli.Client() as sdc:  # doctest: +SKIP
        ...     tm = sdc.metakernel("imap.tm", start_date="20251001", end_date="20251003")
        """
        from imap_cli.core.metakernel import build, plan_metakernel

        request = plan_metakernel(
            start_date=start_date,
            end_date=end_date,
            types=types,
            require_coverage=require_coverage,
        )
        made = build(
            self.sdc,
            request,
            data_dir=self.settings.data_dir,
            jobs=self.settings.jobs,
            output=Path(output),
        )
        for result in made.results:
            if result.error is not None:
                raise _named(result.error, result.key) from None
        assert made.output is not None
        return made.output


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
    ingested_since: str | dt.datetime | dt.date | None = None,
    ingested_before: str | dt.datetime | dt.date | None = None,
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
    ingested_since: str | dt.datetime | dt.date | None = None,
    ingested_before: str | dt.datetime | dt.date | None = None,
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
    for name, method in vars(Client).items():
        function = globals().get(name)
        if name.startswith("_") or not callable(function) or not method.__doc__:
            continue
        summary, own = _sections(method.__doc__)
        _, shared = _sections(function.__doc__ or "")
        merged = {**{k: v for k, v in shared.items() if k in ("Parameters", "Raises")}, **own}
        body = "\n\n".join(f"{t}\n{'-' * len(t)}\n{merged[t]}" for t in order if t in merged)
        method.__doc__ = f"{summary}\n\n{body}\n"


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
    from imap_cli.core.webpoda import plan_webpoda, poda_client, run_webpoda

    plan = plan_webpoda(
        instrument, start_date, end_date, query_mode=query_mode, apids=apids, sid=sid
    )
    settings = config.settings(**({"webpoda-url": webpoda_url} if webpoda_url else {}))
    workers = _check_jobs(jobs, settings.jobs)
    from imap_cli.core.http import SDCClient

    with SDCClient(settings) as sdc, poda_client(settings, jobs=workers) as client:
        summary = run_webpoda(
            sdc,
            client,
            plan,
            data_dir=settings.data_dir,
            jobs=workers,
            dry_run=dry_run,
            upload=upload,
        )
    return [day.as_dict() for day in summary.days]


_share_parameter_docs()
