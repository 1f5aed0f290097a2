"""The public Python API for what is inside the files: `imap_cli.load` and `imap_cli.open`.

Kept beside api.py rather than in it: a module-level function named `open` would shadow the
builtin for every other function of that module.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def load(
    *,
    instrument: str,
    data_level: str,
    descriptor: str | None = None,
    start_date: str | dt.date | None = None,
    end_date: str | dt.date | None = None,
    variables: Sequence[str] | None = None,
    jobs: int | None = None,
) -> Any:
    """Query the SDC, download what is missing, and return one Dataset joined in time.

    The latest version of each file is used. Files already in the data dir are not
    downloaded again; the others are fetched in parallel.

    Parameters
    ----------
    instrument : str
        Instrument, e.g. ``"mag"``.
    data_level : str
        Data level, e.g. ``"l2"``.
    descriptor : str, optional
        Descriptor, e.g. ``"norm-gse"``; needed when the level has several.
    start_date, end_date : str or datetime.date, optional
        First and last day (``YYYYMMDD``, ``YYYY-MM-DD`` or a date), inclusive; the SDC
        compares each file's start date.
    variables : sequence of str, optional
        Keep only these variables (and the coordinates they depend on).
    jobs : int, optional
        Files downloaded at once (default: the jobs setting).

    Returns
    -------
    xarray.Dataset
        The files' data along their time dimension, in time order; ``attrs["files"]`` lists
        the files it came from. Days with no file are simply absent.

    Raises
    ------
    imap_cli.IMAPError
        MissingExtra when xarray or cdflib is not installed (``pip install
        'imap-sdc-cli[xarray]'``), NotFound when no file matches, UsageError for bad
        filters or when they match several descriptors.

    Examples
    --------
    >>> import imap_cli
    >>> ds = imap_cli.load(instrument="mag", data_level="l2", descriptor="norm-gse",
    ...                    start_date="20251001", end_date="20251003")  # doctest: +SKIP
    >>> ds["vectors"].shape  # doctest: +SKIP
    (288, 3)
    """
    from imap_cli.core.loading import _libraries, combine

    _libraries()  # a missing extra is said before anything is sent
    filters = {
        "instrument": instrument,
        "data_level": data_level,
        "descriptor": descriptor,
        "start_date": start_date,
        "end_date": end_date,
    }
    names, paths = _latest_files(filters, jobs)
    dataset = combine(paths, variables)
    dataset.attrs["files"] = sorted(names & set(dataset.attrs["files"]))
    return dataset


def _latest_files(filters: dict[str, Any], jobs: int | None) -> tuple[set[str], list[Path]]:
    """The names and local paths of the latest CDFs matching `filters`, downloaded first."""
    from imap_cli.api import Client
    from imap_cli.core.errors import NotFound, UsageError, option
    from imap_cli.core.records import record_name

    with Client(jobs=jobs) as client:
        rows = client.query(table="science", extension="cdf", version="latest", **filters)
        if not rows:
            raise NotFound(
                f"no {filters['instrument']} {filters['data_level']} CDF in the SDC for these "
                "dates",
                "Check what there is with query() or coverage().",
            )
        found = sorted({str(r.get("descriptor")) for r in rows})
        if len(found) > 1:
            raise UsageError(
                f"these filters match several descriptors ({', '.join(found)}), whose "
                "files cannot be joined",
                f"Choose one: {option('descriptor', found[0])}",
                field="descriptor",
                choices=found,
            )
        # raises TransferError, naming every file that failed, after trying them all
        paths = client.download_many(rows, jobs=jobs)
    return {record_name(r) for r in rows}, list(paths)


def open(  # imap_cli.open; shadows the builtin only in this module
    path: str | os.PathLike,
    *,
    variables: Sequence[str] | None = None,
) -> Any:
    """Open one CDF as an xarray Dataset.

    Parameters
    ----------
    path : str or os.PathLike
        A local file, or an IMAP file name or SDC key: one not in the data dir yet is
        downloaded first.
    variables : sequence of str, optional
        Keep only these variables (and the coordinates they depend on).

    Returns
    -------
    xarray.Dataset
        Times as datetime64, fill values as NaN; the CDF's global attributes as ``attrs``
        (with ``attrs["files"]``, the file's name).

    Raises
    ------
    imap_cli.IMAPError
        MissingExtra without xarray or cdflib, UnreadableFile for a file that is not a CDF
        or is cut short, InvalidName for a missing file whose name is not IMAP's.

    Examples
    --------
    >>> import imap_cli
    >>> ds = imap_cli.open("imap_mag_l2_norm-gse_20251001_v001.0000.cdf")  # doctest: +SKIP
    >>> ds.attrs["Logical_source"]  # doctest: +SKIP
    ['imap_mag_l2_norm-gse']
    """
    from imap_cli.api import config, download
    from imap_cli.core.loading import _libraries, open_dataset
    from imap_cli.core.provenance import locate

    _libraries()
    (found,) = locate([os.fspath(path)], Path(config["DATA_DIR"]))
    if not found.present:
        download(found.key or os.fspath(path))
    return open_dataset(found.path, variables)
