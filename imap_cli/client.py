"""`imap_cli.Client`: one connection pool to one SDC, for many calls."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from imap_cli._client_ops import ClientOperations
from imap_cli._common import DateLike, DownloadItems, MomentLike, PathLike, _check_jobs, _named
from imap_cli._config import config
from imap_cli._keywords import checked_keywords
from imap_cli.core import settings as _settings

if TYPE_CHECKING:
    from imap_cli._progress import ProgressOption
    from imap_cli.core.http import SDCClient
    from imap_cli.core.transfer import FileResult
    from imap_cli.results import Downloaded, QueryResult, Uploaded, UploadedKey

log = logging.getLogger("imap_cli")


class Client(ClientOperations):
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
        ingested_since: MomentLike | None = None,
        ingested_before: MomentLike | None = None,
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
