"""The highest data level present: per instrument and day (or repointing), the files of the
best level the SDC holds, all of that level's descriptors, the latest version of each.

Levels rank l0 < l1 < l1a < l1b < l1c < l1ca < l1cb < l1d < l2 < l2a ... < l3 < l3a ... < l3e:
a level above every level of a lower number, and a lettered sub-level above its bare level.
No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from imap_cli.core.records import latest_records

_LEVEL = re.compile(r"l(\d+)([a-z]*)")


def level_rank(level: Any) -> tuple[int, str]:
    """How high a data level is (unknown text ranks lowest)."""
    found = _LEVEL.fullmatch(str(level or "").strip().lower())
    if not found:
        return (-1, "")
    return (int(found[1]), found[2])


def unit_of(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What one "day" is: (instrument, repointing) for a repointing's files, else
    (instrument, start date)."""
    repointing = row.get("repointing")
    if repointing is not None:
        return (row.get("instrument"), "repointing", repointing)
    return (row.get("instrument"), "day", row.get("start_date"))


def highest_level(rows: Sequence[dict]) -> list[dict]:
    """The rows of the highest level of each instrument and day (or repointing), latest
    version of each file, in the order given."""
    latest = latest_records(list(rows))
    best: dict[tuple[Any, ...], tuple[int, str]] = {}
    for row in latest:
        unit, rank = unit_of(row), level_rank(row.get("data_level"))
        if unit not in best or rank > best[unit]:
            best[unit] = rank
    return [row for row in latest if level_rank(row.get("data_level")) == best[unit_of(row)]]
