"""What is inside a file: a CDF's attributes and variables, a .pkts file's packets per APID.

cdflib (the optional extra `cdf`) is imported here, inside the functions that need it, so
nothing else in the package pays for it. Before cdflib sees a file, its first bytes and its
declared length are checked, so a file that is not a CDF, or a CDF cut short by an unfinished
copy, is named as such instead of failing somewhere deep in the reader.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from imap_cli.core.errors import UsageError, option

CDF_EXTRA = "pip install 'imap-sdc-cli[cdf]'"
XARRAY_EXTRA = "pip install 'imap-sdc-cli[xarray]'"

# The first 4 bytes of a CDF: version 3, version 2.6, and a version 2.5 or older file.
CDF_MAGIC = (b"\xcd\xf3\x00\x01", b"\xcd\xf2\x60\x02", b"\x00\x00\xff\xff")
# Bytes 4-8 of a CDF whose file as a whole is not compressed.
UNCOMPRESSED = b"\x00\x00\xff\xff"

# The global attributes shown first (and alone, unless asked for all).
KEY_ATTRIBUTES = (
    "Logical_source",
    "Logical_file_id",
    "Data_version",
    "Generation_date",
    "Parents",
)

# A .pkts file is CCSDS space packets: a 6-byte primary header, then (for IMAP) a secondary
# header starting with 4 bytes of seconds since this moment.
PACKET_EPOCH = dt.datetime(2010, 1, 1, tzinfo=dt.timezone.utc)
PRIMARY_HEADER = 6


class MissingExtra(UsageError):
    """An optional library (cdflib, xarray) that this needs is not installed."""


class UnreadableFile(UsageError):
    """A file that is not what it claims (not a CDF, cut short, not packets)."""

    default_hint = f"If it came from the SDC, download it again with {option('force')}."


def need(module: str, extra: str, what: str) -> ModuleType:
    """Import `module`, or raise MissingExtra saying the pip line that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"{what} needs {module}, which is not installed: {extra}",
            "It is an optional extra: nothing else in imap needs it.",
            field="module",
            value=module,
        ) from None


def kind_of(path: Path) -> str:
    """ "cdf" or "pkts", from the file's first bytes (and, for packets, its name)."""
    with open(path, "rb") as stream:
        head = stream.read(8)
    if head[:4] in CDF_MAGIC:
        return "cdf"
    if path.suffix.lower() in (".pkts", ".bin") and head[:1] and head[0] >> 5 == 0:
        return "pkts"
    raise UnreadableFile(
        f"{path.name} is neither a CDF nor a CCSDS packet file (it starts with {head[:4].hex()})",
        "imap reads IMAP science files: .cdf (and .pkts for level 0).",
        field="path",
        value=str(path),
    )


def check_cdf(path: Path) -> None:
    """Raise UnreadableFile unless `path` starts like a CDF and is as long as it says it is."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as stream:
            head = stream.read(8)
            if head[:4] not in CDF_MAGIC:
                raise UnreadableFile(
                    f"{path.name} is not a CDF file (it starts with {head[:4].hex() or 'nothing'})",
                    field="path",
                    value=str(path),
                )
            declared = _declared_length(stream, head)
    except OSError as exc:
        raise UnreadableFile(
            f"cannot read {path}: {exc.strerror or exc}", field="path", value=str(path)
        ) from None
    if declared is not None and size < declared:
        raise UnreadableFile(
            f"{path.name} is cut short: {size} bytes of the {declared} its header declares",
            field="path",
            value=str(path),
        )


def _declared_length(stream: Any, head: bytes) -> int | None:
    """A version 3 uncompressed CDF's length as its global descriptor record states it."""
    if head[:4] != CDF_MAGIC[0] or head[4:8] != UNCOMPRESSED:
        return None
    # The CDR starts at byte 8: record size (8), record type (4), then the GDR's offset (8).
    stream.seek(8 + 12)
    gdr = int.from_bytes(stream.read(8), "big", signed=True)
    if gdr <= 0:
        return 8 + 12 + 8 + 1  # no GDR: longer than any file this short
    # The GDR: size (8), type (4), three record offsets (24), then the end-of-file offset.
    stream.seek(gdr + 36)
    raw = stream.read(8)
    return int.from_bytes(raw, "big", signed=True) if len(raw) == 8 else gdr + 44


def open_cdf(path: Path, *, what: str = "reading CDF files") -> Any:
    """A cdflib.CDF reader for `path`, once the file has been checked."""
    cdflib = need("cdflib", CDF_EXTRA, what)
    check_cdf(path)
    try:
        return cdflib.CDF(str(path))
    except Exception as exc:  # the reader's own failures: the file is not what it seems
        raise _damaged(path, exc) from None


def _damaged(path: Path, exc: BaseException) -> UnreadableFile:
    reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
    return UnreadableFile(
        f"{path.name} could not be read as a CDF ({reason}); it may be damaged",
        field="path",
        value=str(path),
        cause=exc,
    )


def plain(value: Any) -> Any:
    """An attribute value as JSON can hold it: numpy arrays and scalars become lists and
    numbers, bytes become text."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _entries(values: Any) -> Any:
    """One attribute's entries: a single entry as itself, several as a list."""
    values = plain(values)
    if isinstance(values, list) and len(values) == 1:
        return values[0]
    return values


def global_attributes(path: Path) -> dict[str, Any]:
    """Every global attribute of a CDF: name -> its entry, or a list when it has several
    (Parents is always a list)."""
    reader = open_cdf(path)
    try:
        raw = reader.globalattsget()
    except Exception as exc:
        raise _damaged(path, exc) from None
    attributes = {name: _entries(values) for name, values in raw.items()}
    if "Parents" in attributes:
        attributes["Parents"] = parent_list(raw["Parents"])
    return attributes


def parent_list(values: Any) -> list[str]:
    """The Parents attribute as file names: entries may each hold one name, or several
    separated by commas or whitespace."""
    names: list[str] = []
    for value in plain(values) if isinstance(plain(values), list) else [plain(values)]:
        for part in str(value).replace(",", " ").split():
            if part and part not in names:
                names.append(part)
    return names


def parents_of(path: Path) -> list[str]:
    """The file names in a CDF's Parents global attribute ([] when it has none).

    Read straight from the attribute records of a version 3 uncompressed CDF (the IMAP
    kind): an audit of thousands of files reads nothing else. Any other CDF, or anything
    unexpected on the way, goes through cdflib."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(_PARENTS_READ_LIMIT)
    except OSError as exc:
        raise UnreadableFile(
            f"cannot read {path}: {exc.strerror or exc}", field="path", value=str(path)
        ) from None
    found = _parents_directly(data, path)
    if found is not None:
        return found
    return global_attributes(path).get("Parents", [])


# The attribute records sit near the start of a CDF; a file longer than this is read in full
# by cdflib instead.
_PARENTS_READ_LIMIT = 1 << 22
_CHAR_TYPES = (51, 52)  # CDF_CHAR, CDF_UCHAR


def _int(data: bytes, at: int, size: int) -> int:
    if at < 0 or at + size > len(data):
        raise IndexError(at)
    return int.from_bytes(data[at : at + size], "big", signed=True)


def _parents_directly(data: bytes, path: Path) -> list[str] | None:
    """Parents from a v3 uncompressed CDF's bytes; None when cdflib should decide."""
    if data[:4] != CDF_MAGIC[0] or data[4:8] != UNCOMPRESSED:
        if data[:4] not in CDF_MAGIC:
            check_cdf(path)  # raises: not a CDF
        return None
    try:
        gdr = _int(data, 20, 8)
        declared = _int(data, gdr + 36, 8)
        if declared > path.stat().st_size:
            check_cdf(path)  # raises: cut short
        adr = _int(data, gdr + 28, 8)
        for _ in range(10_000):  # a loop in the chain must not hang us
            if adr == 0:
                return []
            name = data[adr + 68 : adr + 68 + 256].split(b"\0", 1)[0]
            if name == b"Parents":
                return parent_list(_entries_of(data, _int(data, adr + 20, 8)))
            adr = _int(data, adr + 12, 8)
    except (IndexError, UnicodeDecodeError):
        return None
    return None


def _entries_of(data: bytes, aedr: int) -> list[str]:
    entries: list[tuple[int, str]] = []
    for _ in range(100_000):
        if aedr == 0:
            break
        data_type, number = _int(data, aedr + 24, 4), _int(data, aedr + 28, 4)
        count = _int(data, aedr + 32, 4)
        if data_type not in _CHAR_TYPES or count < 0:
            raise IndexError(aedr)  # not text: cdflib decides
        entries.append((number, data[aedr + 56 : aedr + 56 + count].decode("ascii")))
        aedr = _int(data, aedr + 12, 8)
    return [text for _, text in sorted(entries)]


def variables(reader: Any, path: Path) -> list[dict[str, Any]]:
    """Each variable: name, type, shape (records first), records, units, depend_0, var_type,
    catdesc."""
    info = reader.cdf_info()
    found = []
    for name in [*info.zVariables, *info.rVariables]:
        try:
            inq = reader.varinq(name)
            attrs = reader.varattsget(name)
        except Exception as exc:
            raise _damaged(path, exc) from None
        dims = [int(d) for d in inq.Dim_Sizes]
        records = int(inq.Last_Rec) + 1
        shape = [records, *dims] if inq.Rec_Vary else dims
        found.append(
            {
                "name": name,
                "type": inq.Data_Type_Description,
                "shape": shape,
                "records": records,
                "units": _text(attrs.get("UNITS")),
                "depend_0": _text(attrs.get("DEPEND_0")),
                "var_type": _text(attrs.get("VAR_TYPE")),
                "catdesc": _text(attrs.get("CATDESC")),
            }
        )
    return found


def _text(value: Any) -> str | None:
    value = plain(value)
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value).strip() or None


def cdf_summary(path: Path) -> dict[str, Any]:
    """A CDF's global attributes and variables (metadata only; no data is read)."""
    reader = open_cdf(path)
    try:
        raw = reader.globalattsget()
    except Exception as exc:
        raise _damaged(path, exc) from None
    attributes = {name: _entries(values) for name, values in raw.items()}
    if "Parents" in attributes:
        attributes["Parents"] = parent_list(raw["Parents"])
    return {
        "path": str(path),
        "kind": "cdf",
        "size": path.stat().st_size,
        "global_attributes": attributes,
        "variables": variables(reader, path),
    }


def packets(path: Path) -> Iterator[tuple[int, int | None, int]]:
    """(APID, seconds since 2010-01-01 or None, packet length) of each packet in order; a
    packet cut short ends the walk with UnreadableFile naming the byte where it starts."""
    with open(path, "rb") as stream:
        data = stream.read()
    offset = 0
    while offset < len(data):
        header = data[offset : offset + PRIMARY_HEADER]
        if len(header) < PRIMARY_HEADER or header[0] >> 5 != 0:
            raise UnreadableFile(
                f"{path.name}: no CCSDS packet at byte {offset} of {len(data)}",
                field="path",
                value=str(path),
            )
        apid = ((header[0] & 0x07) << 8) | header[1]
        length = PRIMARY_HEADER + int.from_bytes(header[4:6], "big") + 1
        if offset + length > len(data):
            raise UnreadableFile(
                f"{path.name} is cut short: the packet at byte {offset} needs {length} bytes, "
                f"{len(data) - offset} remain",
                field="path",
                value=str(path),
            )
        has_secondary = bool(header[0] & 0x08)
        seconds = None
        if has_secondary and length >= PRIMARY_HEADER + 4:
            seconds = int.from_bytes(data[offset + 6 : offset + 10], "big")
        yield apid, seconds, length
        offset += length


def packet_time(seconds: int) -> str:
    """A packet's time as ISO 8601 UTC (seconds since 2010-01-01T00:00:00 UTC)."""
    moment = PACKET_EPOCH + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def packets_summary(path: Path) -> dict[str, Any]:
    """Packets per APID with their count, bytes, and first and last packet time."""
    per: dict[int, dict[str, Any]] = {}
    total = 0
    for apid, seconds, length in packets(path):
        total += 1
        row = per.setdefault(apid, {"apid": apid, "packets": 0, "bytes": 0, "_t": []})
        row["packets"] += 1
        row["bytes"] += length
        if seconds is not None:
            row["_t"].append(seconds)
    apids = []
    for apid in sorted(per):
        row = per[apid]
        times = row.pop("_t")
        row["first"] = packet_time(min(times)) if times else None
        row["last"] = packet_time(max(times)) if times else None
        apids.append(row)
    return {
        "path": str(path),
        "kind": "pkts",
        "size": path.stat().st_size,
        "packets": total,
        "apids": apids,
    }


def summary(path: Path) -> dict[str, Any]:
    """What `path` holds: cdf_summary or packets_summary, by its first bytes."""
    path = Path(os.fspath(path))
    if not path.is_file():
        raise UnreadableFile(f"{path} is not a file", field="path", value=str(path))
    kind = kind_of(path)
    return cdf_summary(path) if kind == "cdf" else packets_summary(path)
