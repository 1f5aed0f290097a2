"""Checking the values of query-like filters: dates, versions, repointings, product fields.

Shared by query, jobs, reprocess, metakernel, release and sync. Every check raises a
UsageError that names the parameter (core.errors markers) and carries the value and the valid
choices; nothing here does I/O. Choices in messages are sorted, so they read the same on every
run.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from imap_cli.core.errors import UsageError, option, plural, word

DATE_COMPACT = re.compile(r"[0-9]{8}")
DATE_DASHED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FULL_VERSION = re.compile(r"v[0-9]{3}\.[0-9]{4}")
LEGACY_VERSION = re.compile(r"v[0-9]{3}")
_REPOINT = re.compile(r"repoint([0-9]{5})")
_DIGITS = re.compile(r"[0-9]{1,5}")
_DATE_HINT = "Dates are YYYYMMDD or YYYY-MM-DD, e.g. 20251001 or 2025-10-01."


def choices(values: Iterable[str]) -> str:
    """The values sorted, comma-separated."""
    return ", ".join(sorted(values))


def closest_hint(value: str, valid: Iterable[str], example: str) -> str:
    """ "Did you mean ...? For example: <example>" (the first part when one is close)."""
    import difflib

    close = difflib.get_close_matches(value, list(valid), n=1)
    if close:
        return f"Did you mean {close[0]!r}? For example: {example}"
    return f"For example: {example}"


def check_member(
    field: str,
    value: Any,
    valid: Collection[str],
    example: str,
    where: str = "",
    *,
    name_choices: bool = True,
) -> str:
    """`value` lower-cased if it is one of `valid`, else a UsageError listing the choices.

    `example` is a value of `field` the hint suggests; `where` narrows the message ("for the
    science table"); without `name_choices` the list reads "valid: ..." instead of naming them.
    """
    text = str(value).strip().lower()
    if text in valid:
        return text
    listed = f"valid {plural(field)}" if name_choices else "valid"
    raise UsageError(
        f"{value!r} is not a valid {word(field)}{where}; {listed}: {choices(valid)}",
        closest_hint(text, valid, option(field, example)),
        field=field,
        value=value,
        choices=valid,
    )


def parse_date(value: Any, name: str = "start_date") -> dt.date:
    """A real calendar date from `YYYYMMDD`, `YYYY-MM-DD` or a date object; `name` is the
    parameter it came from."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if DATE_COMPACT.fullmatch(text):
        parts = (text[:4], text[4:6], text[6:])
    elif DATE_DASHED.fullmatch(text):
        parts = (text[:4], text[5:7], text[8:])
    else:
        raise UsageError(
            f"{value!r} is not a valid {word(name)}: use YYYYMMDD or YYYY-MM-DD",
            _DATE_HINT,
            field=name,
            value=value,
        )
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError as exc:
        raise UsageError(
            f"{value!r} is not a valid {word(name)}: there is no such day",
            _DATE_HINT,
            field=name,
            value=value,
            cause=exc,
        ) from None


def compact(day: dt.date) -> str:
    """YYYYMMDD, zero-padded (strftime's %Y is not padded before year 1000 everywhere)."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def ordered_range(name_from: str, name_to: str, values: Mapping[str, Any]) -> None:
    """UsageError when both ends of a date range are given and the first is after the last."""
    low, high = values.get(name_from), values.get(name_to)
    if low is not None and high is not None and low > high:
        raise UsageError(
            f"the {word(name_from)} {compact(low)} is after the {word(name_to)} {compact(high)}",
            "Swap them; both ends are inclusive.",
            field=name_from,
            value=low,
        )


def parse_repointing(value: Any) -> int:
    """`repoint00012`, `12` or 12 -> 12."""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int) and 0 <= value <= 99999:
        return value
    text = str(value).strip().lower()
    found = _REPOINT.fullmatch(text) or _DIGITS.fullmatch(text)
    if not found:
        raise UsageError(
            f"{value!r} is not a valid repointing: use repoint followed by 5 digits "
            "(repoint00012) or the number (12)",
            f"For example: {option('repointing', 'repoint00012')}",
            field="repointing",
            value=value,
        )
    return int(found.group(1) if found.re is _REPOINT else text)


def parse_version(value: Any, table: str) -> str:
    """`latest`, `vMMM.mmmm` or `vXXX`, checked against what the table's files carry."""
    text = str(value).strip()
    if text.lower() == "latest":
        return "latest"
    if table == "spice":
        raise UsageError(
            f"version {value!r} cannot filter the spice table: /spice-query only knows 'latest'",
            f"Use {option('version', 'latest')}, or {option('filename', 'NAME')} for one kernel.",
            field="version",
            value=value,
        )
    if table == "ancillary":
        if LEGACY_VERSION.fullmatch(text):
            return text
        raise UsageError(
            f"{value!r} is not a valid ancillary version: use vXXX (e.g. v002) or latest",
            "Ancillary files are versioned v001, v002, ...",
            field="version",
            value=value,
        )
    if FULL_VERSION.fullmatch(text) or LEGACY_VERSION.fullmatch(text):
        return text
    raise UsageError(
        f"{value!r} is not a valid version: use vMMM.mmmm (e.g. v001.0002), legacy vXXX, or latest",
        "vMMM.mmmm selects exactly that version; vXXX matches the minor version only.",
        field="version",
        value=value,
    )


def whole(name: str, value: Any, high: int) -> int:
    """A whole number 0..high for the parameter `name`."""
    try:
        number = int(str(value).strip())
    except ValueError:
        number = -1
    if isinstance(value, bool) or not 0 <= number <= high:
        raise UsageError(
            f"{value!r} is not a valid {word(name)}: use a number 0..{high}",
            field=name,
            value=value,
        )
    return number


def check_descriptor(value: Any) -> str:
    """One field of a file name: non-empty, no `_`, no spaces or control characters."""
    text = str(value).strip()
    if not text or "_" in text or any(c.isspace() or not c.isprintable() for c in text):
        raise UsageError(
            f"{value!r} is not a valid descriptor: it is one field of a file name, "
            "non-empty, without '_' or spaces",
            f"For example: {option('descriptor', 'norm-mago')}",
            field="descriptor",
            value=value,
        )
    return text


def check_product(given: Mapping[str, Any], *, name_choices: bool = True) -> dict[str, str]:
    """The instrument, data level and descriptor among `given`, checked (UsageError)."""
    from imap_cli.core.vocabulary import DATA_LEVELS, INSTRUMENTS

    values: dict[str, str] = {}
    for field, valid, example in (
        ("instrument", INSTRUMENTS, "mag"),
        ("data_level", DATA_LEVELS, "l1a"),
    ):
        if field in given:
            values[field] = check_member(
                field, given[field], valid, example, name_choices=name_choices
            )
    if "descriptor" in given:
        values["descriptor"] = check_descriptor(given["descriptor"])
    return values
