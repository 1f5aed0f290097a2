"""The `Client` methods for operations (mixed into `imap_cli.client.Client`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from imap_cli._common import DateLike, PathLike, _named
from imap_cli._keywords import checked_keywords
from imap_cli.core import settings as _settings

if TYPE_CHECKING:
    from imap_cli.core.http import SDCClient


class ClientOperations:
    """The Client's operations: reprocessing, releases, jobs, kernels, coverage,
    products (a mixin: `Client` has the connection and the settings)."""

    sdc: SDCClient
    settings: _settings.Settings

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
