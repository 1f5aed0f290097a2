"""Catalogue rows: the columns of one servable file, and its SDC JSON built once at index
time (so that a /query answer is a join of stored strings)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from imap_cli.core.schema import RECORD_FIELDS
from imap_cli.server import spice

UTC = dt.timezone.utc

COLUMNS = [
    "key",
    "dir",
    "name",
    "kind",
    "tbl",
    "instrument",
    "data_level",
    "descriptor",
    "start_date",
    "end_date",
    "repointing",
    "cr",
    "major",
    "minor",
    "version",
    "extension",
    "ingested",
    "ingestion_day",
    "ingestion_text",
    "size",
    "mtime_ns",
    "md5",
    "kernel_type",
    "file_root",
    "kversion",
    "min_et",
    "max_et",
    "start_ts",
    "end_ts",
    "row_json",
]
INSERT = (
    f"INSERT OR REPLACE INTO files ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)


def _ymd(value: str | None) -> str | None:
    return value.replace("-", "") if value else None


def _dash_datetime(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d, %H:%M:%S")


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def row_for(parsed: Any, *, size: int, mtime_ns: int, md5: str | None = None) -> list[Any]:
    """The catalogue row (column order of COLUMNS) for a parsed IMAPName."""
    ingested_at = dt.datetime.fromtimestamp(mtime_ns // 1_000_000_000, UTC)
    ingested = float(mtime_ns // 1_000_000_000)  # S3's LastModified has whole seconds
    ingestion_text = ingested_at.strftime("%Y%m%d %H:%M:%S")
    values: dict[str, Any] = dict.fromkeys(COLUMNS)  # what a kind lacks stays null
    values.update(
        key=parsed.key,
        dir=parsed.key.rpartition("/")[0],
        name=parsed.name,
        kind=parsed.kind,
        instrument=parsed.instrument,
        data_level=parsed.data_level,
        descriptor=parsed.descriptor,
        start_date=_ymd(parsed.start_date),
        end_date=_ymd(parsed.end_date),
        repointing=parsed.repointing,
        cr=parsed.cr,
        version=parsed.version,
        extension=parsed.extension,
        ingested=ingested,
        ingestion_day=ingestion_text[:8],
        ingestion_text=ingestion_text,
        size=size,
        mtime_ns=mtime_ns,
        md5=md5,
    )
    kind = parsed.kind
    if kind in ("science", "quicklook", "dependency"):
        _science_values(parsed, values)
    elif kind == "ancillary":
        values["tbl"] = "ancillary"
        values["row_json"] = _record(
            "ancillary",
            {
                "file_path": parsed.key,
                "instrument": parsed.instrument,
                "descriptor": parsed.descriptor,
                "start_date": values["start_date"],
                "end_date": values["end_date"],
                "version": parsed.version,
                "extension": parsed.extension,
                "ingestion_date": ingestion_text,
                "released": True,
            },
        )
    elif kind == "spice":
        _spice_values(parsed, values, ingested_at, ingested)
    return [values[c] for c in COLUMNS]


def _record(table: str, fields: dict[str, Any]) -> str:
    """A row's JSON as the SDC sends it: the table's record fields, in their order (null
    where not given)."""
    names = RECORD_FIELDS[table]
    unknown = fields.keys() - set(names)
    if unknown:
        raise ValueError(f"not a field of the SDC's {table} records: {sorted(unknown)}")
    return json.dumps({name: fields.get(name) for name in names})


def _science_values(parsed: Any, values: dict[str, Any]) -> None:
    # The SDC stores a legacy vXXX science file as major 1, minor XXX.
    major = parsed.major_version if parsed.major_version is not None else 1
    minor = parsed.minor_version
    if minor is None and parsed.version:
        minor = int(parsed.version.lstrip("vV").split(".")[-1])
    values.update(major=major, minor=minor)
    if parsed.kind == "dependency":
        return
    values["tbl"] = parsed.kind
    values["row_json"] = _record(
        parsed.kind,
        {
            "file_path": parsed.key,
            "instrument": parsed.instrument,
            "data_level": parsed.data_level,
            "descriptor": parsed.descriptor,
            "start_date": values["start_date"],
            "repointing": parsed.repointing,
            "major_version": major,
            "minor_version": minor,
            "version": f"v{major:03d}.{minor:04d}",
            "extension": parsed.extension,
            "ingestion_date": values["ingestion_text"],
            "cr": parsed.cr,
            "released": True,
        },
    )


def _spice_values(parsed: Any, values: dict[str, Any], ingested_at: dt.datetime, ingested: float):
    info = spice.kernel_info(parsed.name)
    kernel_type = parsed.spice_type
    start_et, end_et = spice.tdb_seconds(info.start), spice.tdb_seconds(info.end)
    values.update(
        kernel_type=kernel_type,
        file_root=info.file_root,
        kversion=info.version,
        min_et=start_et,
        max_et=end_et,
        start_ts=info.start.timestamp(),
        end_ts=(info.end - dt.timedelta(days=1)).timestamp(),
    )
    ingestion = _dash_datetime(ingested_at)
    if kernel_type in spice.NON_SPICE_TYPES:
        values["tbl"] = kernel_type
        row: dict[str, Any] = {"file_path": parsed.key}
        if info.has_start:
            row["start_date"] = _dash_datetime(info.start)
        row["end_date"] = _dash_datetime(info.end - dt.timedelta(days=1))
        row["version"] = info.version_text
        row["ingestion_date"] = ingestion
        values["row_json"] = json.dumps(row)
        return
    values["tbl"] = "spice"
    values["row_json"] = _record(
        "spice",
        {
            "file_name": f"{parsed.spice_subdir}/{parsed.name}",
            "file_root": info.file_root,
            "kernel_type": kernel_type,
            "version": info.version,
            "min_date_j2000": start_et,
            "max_date_j2000": end_et,
            "file_intervals_j2000": [[start_et, end_et]],
            "min_date_datetime": _dash_datetime(info.start),
            "max_date_datetime": _dash_datetime(info.end),
            "file_intervals_datetime": [[_iso(info.start), _iso(info.end)]],
            "ingestion_date": ingestion,
            "timestamp": ingested,
        },
    )


MD5 = COLUMNS.index("md5")
