"""What `-` reads: the list of names (or paths) on stdin, in any form `imap query` writes.

`imap query` prints JSON (one array, or one record per line), CSV (a header with a
`file_path` or `file_name` column), a table (`-o table`: the file name ends each row) or one
SDC key per line (`-o paths`); people and other tools
write plain names or paths, one per line. Every download and upload reader goes through
`parse_listing`, so a pipe from any `imap query` output works, and anything else gets one short
error saying what `-` accepts, never the input echoed back whole.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from imap_cli.core.errors import UsageError

LISTING_HINT = "`-` reads what `imap query` prints (-o paths, json, csv) or a name a line."
# Columns that name a file, in the order they are looked for.
NAME_FIELDS = ("file_path", "file_name")
# How much of an offending line an error quotes.
EXCERPT = 30
_SPACE = re.compile(r"\s")
_RULE = set("─- ")


class ListingError(UsageError):
    """Stdin holds something that is not a list of names: one short message, a hint (exit 2)."""

    default_hint = LISTING_HINT


def excerpt(text: str, width: int = EXCERPT) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis: safe to quote."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def record_name(record: Any, where: str = "a record", *, paths: bool = False) -> str:
    """The SDC key (or name) of one query record: file_path, or a SPICE record's file_name.

    With `paths` (local files, for upload) the field's text as it is.
    """
    if not isinstance(record, Mapping):
        raise ListingError(f"stdin: {where} is not a query record ({excerpt(repr(record))})")
    if paths:
        for field in NAME_FIELDS:
            if isinstance(record.get(field), str) and record[field].strip():
                return record[field].strip()
    from imap_cli.core.errors import IMAPError
    from imap_cli.core.records import record_key

    path = record.get("file_path")
    spice = isinstance(record.get("file_name"), str) or (
        isinstance(path, str) and not path.startswith("imap/")
    )
    try:
        return record_key(record, "spice" if spice else "science")
    except IMAPError:
        raise ListingError(
            f"stdin: {where} has no file_path or file_name ({excerpt(json.dumps(record))})"
        ) from None


def _json_values(text: str, paths: bool) -> list[str]:
    """Names from a JSON array of records or names, or from one JSON record per line."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ListingError(
                f"stdin starts like JSON but is not valid JSON ({exc.msg}, line {exc.lineno})"
            ) from None
        return [
            item.strip() if isinstance(item, str) else record_name(item, f"item {n}", paths=paths)
            for n, item in enumerate(data, 1)
        ]
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ListingError(
                f"stdin: line {number} is not a JSON record ({excerpt(line)})"
            ) from None
        out.append(record_name(record, f"line {number}", paths=paths))
    return out


def _csv_values(lines: list[str], column: int, paths: bool) -> list[str]:
    header, *rows = csv.reader(lines)
    names = []
    for number, row in enumerate(rows, 2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if column >= len(row) or not row[column].strip():
            raise ListingError(
                f"stdin: CSV row {number} has no {header[column]} ({excerpt(','.join(row))})"
            )
        record = {header[column]: row[column].strip()}
        names.append(record_name(record, f"CSV row {number}", paths=paths))
    return names


def _csv_column(first_line: str) -> int | None:
    """Index of the name column when `first_line` is a CSV header with one, else None."""
    if "," not in first_line:
        return None
    header = next(csv.reader([first_line]))
    for field in NAME_FIELDS:
        if field in header:
            return header.index(field)
    return None


def parse_listing(text: str, *, paths: bool = False) -> list[str]:
    """The names in `text`, in order: JSON, CSV with a file_path column, a table, or one a line.

    One per line: blank lines and `#` comments are ignored. With `paths` (local files, for
    upload) a line may contain spaces; otherwise a name is one word, and a line that is not
    (a table, a sentence) raises ListingError quoting only a short excerpt of it.
    """
    stripped = text.strip()
    if not stripped:
        return []
    if stripped[0] in "[{":
        return _json_values(stripped, paths)
    lines = [line.strip() for line in text.splitlines() if line.strip() and line.lstrip()[0] != "#"]
    if not lines:
        return []
    if len(lines) > 1 and lines[0].split()[-1] == "FILENAME" and set(lines[1]) <= _RULE:
        # `-o table`: the file name is each row's last cell (names hold no blanks)
        return [line.split()[-1] for line in lines[2:]]
    column = _csv_column(lines[0])
    if column is not None:
        return _csv_values(lines, column, paths)
    commas = lines[0].count(",")
    if commas and len(lines) > 1 and all(line.count(",") == commas for line in lines[:20]):
        # a table of values (paths rarely hold commas, never all with the same count)
        raise ListingError(f"stdin: CSV without a file_path column ({excerpt(lines[0])})")
    if not paths:
        for number, line in enumerate(lines, 1):
            if number == 1 and "," in line:
                raise ListingError(f"stdin: CSV without a file_path column ({excerpt(line)})")
            if _SPACE.search(line) or "," in line:
                raise ListingError(f"stdin: line {number} is not a file name ({excerpt(line)})")
    return lines


def read_listing(stream: Iterable[str] | Any, *, paths: bool = False) -> list[str]:
    """parse_listing of everything in `stream` (a file object or any iterable of lines)."""
    read = getattr(stream, "read", None)
    if callable(read):
        text = read()
    else:  # lines with or without their line endings
        text = "".join(line if line.endswith("\n") else line + "\n" for line in stream)
    return parse_listing(text, paths=paths)
