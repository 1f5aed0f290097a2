"""IMAP file names as objects: `parse_name` reads one, `build_name` makes one from its parts."""

from __future__ import annotations

import os
from pathlib import Path

from imap_cli._common import DateLike
from imap_cli._keywords import checked_keywords
from imap_cli.core.naming import IMAPName, parse_key

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
