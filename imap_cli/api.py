"""The public Python API: `imap_cli.query`, `download`, `upload`, `config`, `Client`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

from imap_cli.core import settings as _settings
from imap_cli.core.naming import IMAPName, parse_key
from imap_cli.core.transfer import EventSink, FileResult, ignore_events

# The official client's config names -> our setting keys.
_CONFIG_NAMES = {
    "DATA_DIR": "data-dir",
    "DATA_ACCESS_URL": "url",
    "API_KEY": "api-key",
    "ACCESS_TOKEN": "access-token",
}


_SECRETS = {"API_KEY": "api_key", "ACCESS_TOKEN": "access_token"}


class _Config(MutableMapping):
    """`imap_cli.config["DATA_DIR"]`, like the official client: reads resolved settings,
    assignment overrides them for this process."""

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
            shown[name] = _settings.mask(value) if name in ("API_KEY", "ACCESS_TOKEN") else value
        return f"imap_cli.config({shown})"

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
        resolved = _settings.resolve(flags=merged)
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


def parse_name(name_or_key: str) -> IMAPName:
    """Classify an IMAP filename or SDC key (raises InvalidName)."""
    return parse_key(name_or_key)


class Client:
    """One connection pool to one SDC. Keyword arguments override settings, e.g. `jobs=4`."""

    def __init__(self, **overrides: Any) -> None:
        from imap_cli.core.http import SDCClient

        flags = {k.replace("_", "-"): v for k, v in overrides.items()}
        self.settings = config.settings(**flags)
        self.sdc = SDCClient(self.settings)

    def close(self) -> None:
        """Release the connection pool."""
        self.sdc.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, **filters: Any) -> list[dict]:
        """Query the SDC with the official client's keyword names; returns the SDC's records."""
        from imap_cli.core.query import run_query

        return run_query(self.sdc, **filters)

    def download_many(
        self,
        items: Iterable[str],
        *,
        force: bool = False,
        verify: bool = False,
        jobs: int | None = None,
        on_event: EventSink = ignore_events,
    ) -> list[FileResult]:
        """Download many files (SDC keys or filenames); one result each, never raises per file."""
        from imap_cli.core.download.pipeline import download_files

        return download_files(
            self.sdc,
            list(items),
            data_dir=self.settings.data_dir,
            jobs=jobs or self.settings.jobs,
            force=force,
            verify=verify,
            on_event=on_event,
        )

    def download(self, path_or_name: str, *, force: bool = False, verify: bool = False) -> Path:
        """Download one file and return its local path; raises the file's error on failure."""
        (result,) = self.download_many([str(path_or_name)], force=force, verify=verify, jobs=1)
        if result.error is not None:
            raise result.error
        assert result.path is not None
        return result.path

    def upload_many(
        self,
        paths: Iterable[str | os.PathLike],
        *,
        jobs: int | None = None,
        on_event: EventSink = ignore_events,
        dry_run: bool = False,
    ) -> list[FileResult]:
        """Upload many files; one result per file, never raises per file.

        Every file is checked first: any bad name or unreadable file raises InvalidUploads
        (listing each problem) before anything is sent.
        """
        from imap_cli.core.upload import upload_files

        return upload_files(
            self.sdc,
            [Path(p) for p in paths],
            jobs=jobs or self.settings.jobs,
            on_event=on_event,
            dry_run=dry_run,
        )

    def sync(
        self,
        *,
        since: Any = None,
        dry_run: bool = False,
        latest_only: bool = False,
        prune_superseded: bool = False,
        shard: str | tuple[int, int] | None = None,
        jobs: int | None = None,
        on_event: EventSink = ignore_events,
        **filters: Any,
    ) -> dict[str, Any]:
        """Bring the data dir up to date with a query (as `imap sync`); returns the summary:
        new, skipped, failed, superseded (counts), files (paths), watermark, and details."""
        from imap_cli.core.shard import parse_shard
        from imap_cli.core.sync import sync

        if isinstance(shard, str):
            shard = parse_shard(shard)
        summary = sync(
            self.sdc,
            data_dir=self.settings.data_dir,
            filters=filters,
            jobs=jobs or self.settings.jobs,
            since=since,
            dry_run=dry_run,
            latest_only=latest_only,
            prune_superseded=prune_superseded,
            shard=shard,
            on_event=on_event,
        )
        return summary.as_dict()

    def upload(self, path: str | os.PathLike) -> str:
        """Upload one file; returns its SDC key, raises the file's error on failure."""
        (result,) = self.upload_many([path], jobs=1)
        if result.error is not None:
            raise result.error
        return result.key

    def reprocess(self, **request: Any) -> str | None:
        """Ask the SDC to reprocess (start_date, end_date, instrument[, data_level, descriptor]);
        returns the SDC's reprocess id (None from older SDCs). Checked first, like the CLI."""
        from imap_cli.core import reprocess as _reprocess

        return _reprocess.reprocess(self.sdc, _reprocess.plan_reprocess(**request)).reprocess_id

    def release(self, manifest: str | os.PathLike, *, dry_run: bool = False) -> Any:
        """Release per a manifest file: the SDC's message; with dry_run, the records of the
        files it would release. Raises InvalidManifest (every problem) before sending."""
        from imap_cli.core import release as _release

        checked = _release.read_manifest(manifest)
        if dry_run:
            return _release.preview(self.sdc, checked)
        return _release.release(self.sdc, checked).message

    def jobs(self, **filters: Any) -> list[dict]:
        """The SDC's processing jobs (status, instrument, data_level, descriptor, start_date),
        newest first."""
        from imap_cli.core.jobs import list_jobs

        return list_jobs(self.sdc, **filters)

    def job_logs(self, stream: str) -> str:
        """One job's log (its job_log_stream_id) as text."""
        from imap_cli.core.jobs import job_logs

        return job_logs(self.sdc, stream)

    def coverage(self, instrument: str, **options: Any) -> dict[str, Any]:
        """What the SDC holds for an instrument, per day or repointing, and the gaps (as
        `imap coverage -o json`). Options: data_level, descriptor (one, a list or
        comma-separated), start_date, end_date, by ("day" or "repointing"), table
        ("science" or "ancillary")."""
        from imap_cli.core.coverage import fetch_coverage, plan_coverage

        return fetch_coverage(self.sdc, plan_coverage(instrument, **options)).as_dict()

    def metakernel(
        self,
        output: str | os.PathLike,
        *,
        start_date: Any = None,
        end_date: Any = None,
        types: Iterable[str] | None = None,
        require_coverage: bool = False,
    ) -> Path:
        """Download the SDC's kernels for the range and write a .tm at `output`; its path.

        Raises the first kernel's error if any download failed (no .tm is written then)."""
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
                raise result.error
        assert made.output is not None
        return made.output


def reprocess(**request: Any) -> str | None:
    """`imap_cli.reprocess(start_date=..., end_date=..., instrument="mag")` -> reprocess id."""
    with Client() as client:
        return client.reprocess(**request)


def release(manifest: str | os.PathLike, *, dry_run: bool = False) -> Any:
    """Release per a manifest; with dry_run=True, the files it would release."""
    with Client() as client:
        return client.release(manifest, dry_run=dry_run)


def jobs(**filters: Any) -> list[dict]:
    """The SDC's processing jobs, newest first."""
    with Client() as client:
        return client.jobs(**filters)


def job_logs(stream: str) -> str:
    """A processing job's log, by its job_log_stream_id."""
    with Client() as client:
        return client.job_logs(stream)


def metakernel(output: str | os.PathLike, **options: Any) -> Path:
    """Write a metakernel for a time range (start_date, end_date, types, require_coverage)."""
    with Client() as client:
        return client.metakernel(output, **options)


def coverage(instrument: str, **options: Any) -> dict[str, Any]:
    """`imap_cli.coverage(instrument="swapi")` -> products, latest version per day, and gaps."""
    with Client() as client:
        return client.coverage(instrument, **options)


def query(**filters: Any) -> list[dict]:
    """`imap_cli.query(instrument="mag", data_level="l1a", ...)` -> the SDC's records."""
    with Client() as client:
        return client.query(**filters)


def download(path_or_name: str, *, force: bool = False, verify: bool = False) -> Path:
    """Download one file (SDC key or filename) into the data dir; returns its path."""
    with Client() as client:
        return client.download(path_or_name, force=force, verify=verify)


def download_many(items: Iterable[str], **options: Any) -> list[FileResult]:
    """Download many files in parallel; returns one FileResult per file."""
    with Client() as client:
        return client.download_many(items, **options)


def upload(path: str | os.PathLike) -> str:
    """Upload one file to the SDC; returns its SDC key."""
    with Client() as client:
        return client.upload(path)


def sync(**filters_and_options: Any) -> dict[str, Any]:
    """`imap_cli.sync(instrument="mag", data_level="l1b")`: fetch what is new since the last
    sync of these filters; returns the summary (new, skipped, failed, superseded, files,
    watermark). Options: since, dry_run, latest_only, prune_superseded, shard ("K/N"), jobs."""
    with Client() as client:
        return client.sync(**filters_and_options)


def upload_many(paths: Iterable[str | os.PathLike], **options: Any) -> list[FileResult]:
    """Upload many files in parallel; returns one FileResult per file."""
    with Client() as client:
        return client.upload_many(paths, **options)


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
    workers = jobs or settings.jobs
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
