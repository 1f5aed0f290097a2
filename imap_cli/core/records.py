"""The SDC's answer to a query: JSON records checked, named, keyed and ranked by version.

No I/O; core.query fetches the bodies, core.split and core.sync reuse these checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from imap_cli.core.errors import BadResponse
from imap_cli.core.filters import FULL_VERSION, LEGACY_VERSION


def check_records(data: Any, what: str = "query") -> list[dict]:
    """The body must be a JSON array of objects; anything else is a BadResponse."""
    if not isinstance(data, list):
        kind = _json_kind(data)
        detail = ""
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            detail = f": {' '.join(data['message'].split())[:200]}"
        raise BadResponse(
            f"{what}: the SDC answered with a JSON {kind}, not a list of files{detail}"
        )
    for index, row in enumerate(data):
        if type(row) is not dict:
            raise BadResponse(
                f"{what}: item {index + 1} of the SDC's answer is a JSON {_json_kind(row)}, "
                "not a file record"
            )
    return data


# JSON's name for each type json.loads gives (bool before int: a bool is an int too).
_JSON_KINDS = ((dict, "object"), (list, "array"), (str, "string"), (bool, "boolean"))


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return next((kind for cls, kind in _JSON_KINDS if isinstance(value, cls)), "number")


def record_name(row: Mapping[str, Any]) -> str:
    """The file's bare name: basename of file_path (science, ancillary) or file_name (SPICE)."""
    path = row.get("file_path") or row.get("file_name") or ""
    if not isinstance(path, str):
        return ""
    return path.rpartition("/")[2]


def record_key(row: Mapping[str, Any], table: str) -> str:
    """The SDC key of a record, for `imap download`: file_path, or imap/spice/<file_name>."""
    if table == "spice" and isinstance(row.get("file_name"), str):
        return "imap/spice/" + row["file_name"].lstrip("/")
    path = row.get("file_path")
    if not isinstance(path, str) or not path:
        raise BadResponse(
            f"the SDC sent a {table} record without a file_path: {str(dict(row))[:200]}"
        )
    if table == "spice" and not path.startswith("imap/"):
        # spin/repoint/thruster rows: build the key from the name, as downloads do.
        from imap_cli.core.errors import InvalidName
        from imap_cli.core.naming import parse

        try:
            return parse(path.rpartition("/")[2]).key
        except InvalidName:
            return "imap/spice/" + path.lstrip("/")
    return path


def record_keys(rows: Iterable[Mapping[str, Any]], table: str) -> list[str]:
    """record_key for every row (fast path for the usual file_path rows)."""
    if table != "spice":
        keys = [row.get("file_path") for row in rows]
        if set(map(type, keys)) <= {str} and all(keys):
            return keys  # type: ignore[return-value]
    return [record_key(row, table) for row in rows]


def version_rank(row: Mapping[str, Any]) -> tuple[int, int, int]:
    """How new a record's version is: any vMMM.mmmm after any legacy vXXX."""
    major, minor = row.get("major_version"), row.get("minor_version")
    if isinstance(major, int) and isinstance(minor, int):
        return (1, major, minor)
    text = str(row.get("version") or "")
    if FULL_VERSION.fullmatch(text):
        return (1, int(text[1:4]), int(text[5:]))
    if LEGACY_VERSION.fullmatch(text):
        return (0, 0, int(text[1:]))  # legacy vXXX sorts before any vMMM.mmmm
    digits = re.sub(r"[^0-9]", "", text)
    return (0, 0, int(digits) if digits else -1)


# What makes rows versions of one file.
_SERIES = ("instrument", "data_level", "descriptor", "start_date", "repointing")


def latest_records(rows: Sequence[dict]) -> list[dict]:
    """Keep the newest version of each series (instrument, level, descriptor, start date,
    repointing), ties included, in the SDC's order."""
    best: dict[tuple, tuple[int, int, int]] = {}
    keys = []
    for row in rows:
        series = tuple(row.get(field) for field in _SERIES)
        rank = version_rank(row)
        keys.append((series, rank))
        if series not in best or rank > best[series]:
            best[series] = rank
    return [row for row, (series, rank) in zip(rows, keys) if best[series] == rank]


def decode_body(body: bytes, what: str, status: int, kind: str) -> tuple[Any, bool]:
    """The decoded body, and whether it held NaN/Infinity (turned into null); BadResponse if
    it is not JSON."""
    constants: list[str] = []

    def constant(word: str) -> None:
        constants.append(word)

    try:
        return json.loads(body, parse_constant=constant), bool(constants)
    except ValueError:  # includes UnicodeDecodeError
        raise BadResponse(
            f"{what}: the SDC answered {status} with a body that is not JSON "
            f"({kind or 'unknown type'}, {len(body)} bytes)"
        ) from None
