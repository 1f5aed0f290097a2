"""What the Python API's transfer functions accept, read as one list of strings.

download: an SDC key, a file name, a local path (str or Path), a query record (a dict with
file_path or file_name), a pandas DataFrame (its file_path column) or Series (a record, or a
column of keys), or any iterable of those (a query result, a Downloaded list). One string is
one item, never its characters. upload: a path or an iterable of paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from imap_cli.core.errors import UsageError

_COLUMNS = ("file_path", "file_name")


def _record_item(row: Mapping[str, Any]) -> str:
    path = row.get("file_path")
    if isinstance(path, str) and path:
        return path
    name = row.get("file_name")
    if isinstance(name, str) and name:
        # A SPICE record: its key is imap/spice/<file_name> (core.records).
        from imap_cli.core.records import record_key

        return record_key(row, "spice")
    raise UsageError(
        f"a record without file_path or file_name cannot be downloaded: {str(dict(row))[:120]}",
        "Pass the records query() returns, or their file_path values.",
        field="items",
    )


def _is_frame(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "iloc") and hasattr(value, "to_dict")


def _is_series(value: Any) -> bool:
    return hasattr(value, "index") and hasattr(value, "iloc") and hasattr(value, "to_list")


def _frame_items(frame: Any) -> list[str]:
    for column in _COLUMNS:
        if column in frame.columns:
            if column == "file_path":
                return [str(v) for v in frame[column].to_list()]
            return [_record_item({"file_name": v}) for v in frame[column].to_list()]
    columns = ", ".join(map(str, list(frame.columns)[:12]))
    raise UsageError(
        f"a DataFrame to download needs a file_path column; it has: {columns}",
        "Pass query(...).to_pandas(), or a DataFrame with the file_path of each file.",
        field="items",
    )


def _one(item: Any, out: list[str], depth: int) -> None:
    if isinstance(item, str):
        out.append(item)
    elif isinstance(item, os.PathLike):
        path = Path(item).expanduser()
        # An absolute path inside the data dir becomes its key downstream; any other path is
        # known by its file name (an IMAP name says where the file belongs).
        out.append(str(path) if path.is_absolute() else path.name)
    elif isinstance(item, Mapping):
        out.append(_record_item(item))
    elif _is_frame(item):
        out.extend(_frame_items(item))
    elif _is_series(item):
        if any(column in item.index for column in _COLUMNS):
            out.append(_record_item(item.to_dict()))  # one record (a DataFrame row)
        else:
            for value in item.to_list():
                _one(value, out, depth + 1)
    elif isinstance(item, Iterable) and not isinstance(item, bytes | bytearray) and depth < 2:
        for value in item:
            _one(value, out, depth + 1)
    else:
        raise UsageError(
            f"cannot download {type(item).__name__} {str(item)[:80]!r}: pass an SDC key, a "
            "file name, a path, a query record, a DataFrame, or a list of those",
            field="items",
            value=item,
        )


def download_items(items: Any) -> list[str]:
    """Every file `items` names, as strings (keys, names or absolute paths), in order."""
    out: list[str] = []
    _one(items, out, 0)
    return out


def upload_paths(paths: Any) -> list[Path]:
    """The local paths `paths` names: one path (str or PathLike) or an iterable of them."""
    if isinstance(paths, str | os.PathLike):
        return [Path(paths)]
    out = []
    for item in paths:
        if not isinstance(item, str | os.PathLike):
            raise UsageError(
                f"cannot upload {type(item).__name__} {str(item)[:80]!r}: pass file paths",
                field="paths",
                value=item,
            )
        out.append(Path(item))
    return out
