"""What the Python API returns: query records that become DataFrames, and transfer results.

* `QueryResult`: the SDC's records as a list of dicts (existing code keeps working), plus
  `.keys`, `.paths` and `.to_pandas()`.
* `Downloaded`: the local paths of the files that are there, plus `.errors`, `.skipped`,
  `.planned` (dry run), `.results` (every file's FileResult) and `.retry()`.
* `Uploaded`: the SDC keys of the files that are in the SDC, plus `.uploaded`, `.skipped`,
  `.errors`, `.results` and `.retry()`; `UploadedKey`, what `upload()` returns.

pandas is imported only by `to_pandas()`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imap_cli.core.transfer import FileResult, TransferError

if TYPE_CHECKING:
    import pandas

    from imap_cli.core.errors import IMAPError

__all__ = ["Downloaded", "QueryResult", "Uploaded", "UploadedKey"]

# Record fields that hold dates or times, read as UTC by to_pandas().
_TIME_FIELDS = ("start_date", "end_date", "ingestion_date", "min_date", "max_date", "timestamp")
_TIME_FORMATS = (
    "%Y%m%d",
    "%Y%m%d %H:%M:%S",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d, %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
)
_VERSION = re.compile(r"v?([0-9]{1,3})(?:\.([0-9]{1,4}))?")


def _utc(value: Any) -> dt.datetime | None:
    """A record's date or time as an aware UTC datetime; None when it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    text = str(value).strip().replace("Z", "+00:00")
    for form in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, form).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def version_parts(version: Any) -> tuple[int | None, int | None]:
    """(major, minor) of `v001.0002` -> (1, 2); legacy `v001` -> (1, None)."""
    found = _VERSION.fullmatch(str(version or "").strip())
    if not found:
        return None, None
    minor = found.group(2)
    return int(found.group(1)), None if minor is None else int(minor)


class QueryResult(list[dict[str, Any]]):
    """The SDC's records of one query: a list of dicts, in the SDC's order.

    Attributes
    ----------
    table : str
        The table queried (science, ancillary, quicklook or spice).
    data_dir : pathlib.Path
        The data dir the files download into.

    Examples
    --------
    >>> rows = imap_cli.query(instrument="mag", data_level="l1b")  # doctest: +SKIP
    >>> rows.to_pandas().groupby("descriptor").size()  # doctest: +SKIP
    """

    def __init__(
        self, rows: Iterable[dict[str, Any]] = (), *, table: str = "science", data_dir: Path
    ) -> None:
        super().__init__(rows)
        self.table = table
        self.data_dir = Path(data_dir)

    @property
    def keys(self) -> list[str]:
        """The SDC key of each record (what `download()` takes), in order."""
        from imap_cli.core.records import record_keys

        return record_keys(self, self.table)

    @property
    def paths(self) -> list[Path]:
        """Where each record's file is (or will be, once downloaded) in the data dir."""
        return [self.data_dir / key for key in self.keys]

    def to_pandas(self) -> pandas.DataFrame:
        """The records as a pandas DataFrame, one row per record.

        Dates and times (start_date, end_date, ingestion_date, ...) become UTC datetimes;
        `version` is kept and `major_version` / `minor_version` are added as integers (nullable:
        legacy `vXXX` versions have no minor part); `key` holds each file's SDC key.

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ImportError
            pandas is not installed (``pip install 'imap-sdc-cli[pandas]'``).

        Examples
        --------
        >>> df = imap_cli.query(instrument="mag", data_level="l1b").to_pandas()  # doctest: +SKIP
        >>> df.sort_values("ingestion_date").groupby("start_date").tail(1)  # doctest: +SKIP
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "QueryResult.to_pandas() needs pandas, which is not installed; install it with "
                "pip install 'imap-sdc-cli[pandas]' (or pip install pandas)"
            ) from None
        frame = pd.DataFrame(list(self))
        for name in _TIME_FIELDS:
            if name in frame.columns:
                frame[name] = pd.to_datetime([_utc(v) for v in frame[name]], utc=True)
        if "version" in frame.columns:
            parts = [version_parts(v) for v in frame["version"]]
            frame["major_version"] = pd.array([p[0] for p in parts], dtype="Int64")
            frame["minor_version"] = pd.array([p[1] for p in parts], dtype="Int64")
        if len(frame):
            frame["key"] = self.keys
        return frame


class _Transfers(list[Any]):
    """What download_many and upload_many share: every result, the failures, a retry."""

    verb = "transfer"

    def __init__(
        self,
        results: Sequence[FileResult],
        again: Callable[[list[str]], Sequence[FileResult]] | None = None,
    ) -> None:
        self.results: list[FileResult] = list(results)
        self._again = again
        super().__init__(self._present())

    def _present(self) -> list[Any]:
        raise NotImplementedError

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (a process pool returns it): without the retry, which holds a closure.
        return (type(self), (self.results,))

    @property
    def errors(self) -> dict[str, IMAPError]:
        """SDC key -> the error each failed file raised (empty when nothing failed)."""
        return {r.key: r.error for r in self.results if r.error is not None}

    @property
    def failed(self) -> list[str]:
        """The SDC keys of the files that failed."""
        return [r.key for r in self.results if r.error is not None]

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    def raise_for_errors(self) -> None:
        """Raise one TransferError naming every failure; nothing when none failed."""
        if self.failed:
            raise TransferError(self.verb, self.results, self) from None

    def retry(self, *, raise_on_error: bool = True) -> Any:
        """Try the failed files again; returns the whole result, with their new outcomes.

        Parameters
        ----------
        raise_on_error : bool, default True
            Raise a TransferError if any file still fails (its `outcome` is the new result).

        Examples
        --------
        >>> try:  # doctest: +SKIP
        ...     files = imap_cli.download_many(rows)
        ... except imap_cli.errors.TransferError as error:
        ...     files = error.outcome.retry()
        """
        if self._again is None:
            raise TypeError("this result was not made by download_many or upload_many")
        failed = [r for r in self.results if r.error is not None]
        redone = {r.key: r for r in self._again([self._item(r) for r in failed])} if failed else {}
        merged = [redone.get(r.key, r) if r.error is not None else r for r in self.results]
        again = type(self)(merged, self._again)
        if raise_on_error:
            again.raise_for_errors()
        return again

    def _item(self, result: FileResult) -> str:
        return result.key

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{len(getattr(self, name))} {name}" for name in ("skipped", "failed", "planned")
        )
        return f"{type(self).__name__}({list.__repr__(self)}; {counts})"


class Downloaded(_Transfers):
    """The local paths of the files that are there after a download, in input order.

    A failed file has no path here (its error is in `errors`); a dry run lists only files
    already present (what it would fetch is in `planned`).

    Attributes
    ----------
    results : list of FileResult
        Every file's outcome (status, path, size, error, reason), in input order.
    errors : dict of str to IMAPError
        SDC key -> error, for each file that failed.
    skipped : list of pathlib.Path
        Files that were there already (and not fetched again).
    planned : list of pathlib.Path
        With ``dry_run=True``: where each file it would fetch would go.

    Examples
    --------
    >>> files = imap_cli.download_many(rows, raise_on_error=False)  # doctest: +SKIP
    >>> files.errors  # {} when all arrived  # doctest: +SKIP
    """

    verb = "download"

    def _present(self) -> list[Path]:
        return [
            Path(r.path)
            for r in self.results
            if r.error is None and r.path is not None and r.status in ("downloaded", "skipped")
        ]

    @property
    def downloaded(self) -> list[Path]:
        """The files fetched by this call."""
        return [Path(r.path) for r in self.results if r.status == "downloaded" and r.path]

    @property
    def skipped(self) -> list[Path]:
        """The files that were there already."""
        return [Path(r.path) for r in self.results if r.status == "skipped" and r.path]

    @property
    def planned(self) -> list[Path]:
        """With ``dry_run=True``: where each file that would be fetched would go."""
        return [Path(r.path) for r in self.results if r.status == "would-download" and r.path]


class Uploaded(_Transfers):
    """The SDC keys of the files now in the SDC (uploaded, or there already), in input order.

    Attributes
    ----------
    results : list of FileResult
        Every file's outcome; `path` is the local file.
    uploaded : list of str
        Keys uploaded by this call.
    skipped : list of str
        Keys the SDC had already, with the same content.
    errors : dict of str to IMAPError
        SDC key -> error, for each file that failed.
    planned : list of str
        With ``dry_run=True``: the keys it would upload.

    Examples
    --------
    >>> sent = imap_cli.upload_many(["imap_mag_l1a_norm-mago_20251001_v001.cdf"])  # doctest: +SKIP
    >>> sent.uploaded, sent.skipped  # doctest: +SKIP
    """

    verb = "upload"

    def _present(self) -> list[str]:
        return [r.key for r in self.results if r.error is None and r.status != "would-upload"]

    @property
    def uploaded(self) -> list[str]:
        """Keys uploaded by this call."""
        return [r.key for r in self.results if r.status == "uploaded"]

    @property
    def skipped(self) -> list[str]:
        """Keys the SDC had already, with the same content."""
        return [r.key for r in self.results if r.status == "skipped"]

    @property
    def planned(self) -> list[str]:
        """With ``dry_run=True``: the keys it would upload."""
        return [r.key for r in self.results if r.status == "would-upload"]

    def _item(self, result: FileResult) -> str:
        return str(result.path) if result.path is not None else result.key


class UploadedKey(str):
    """The SDC key of an uploaded file (a str), saying whether this call sent it.

    Attributes
    ----------
    status : str
        "uploaded" (sent now) or "skipped" (the SDC had it, same content).
    """

    status: str

    def __new__(cls, key: str, status: str) -> UploadedKey:
        made = super().__new__(cls, key)
        made.status = status
        return made

    @property
    def uploaded(self) -> bool:
        """True when this call sent the file; False when the SDC had it already."""
        return self.status == "uploaded"

    @property
    def already_there(self) -> bool:
        """True when the SDC had the file already, with the same content."""
        return self.status == "skipped"
