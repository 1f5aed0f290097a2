"""The demo archive's file contents: real CDFs (written with cdflib) and real CCSDS packets.

A science CDF holds the attributes an IMAP CDF has (Logical_source, Logical_file_id,
Data_version, Generation_date, Parents, ...), an `epoch` in TT2000 every hour of its day,
and a few variables with units and DEPEND_0; an ancillary CDF holds a calibration table. A
.pkts file holds CCSDS packets whose secondary header starts with the seconds since
2010-01-01. Everything is derived from the file's name, so the bytes are the same on every run.

The CDFs come from the package (demo_cdfs.tar.xz); one it lacks is made with cdflib (the
optional extra `cdf`) and cached, or is a placeholder without cdflib.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PACKET_EPOCH = dt.datetime(2010, 1, 1, tzinfo=dt.timezone.utc)
RECORDS = 96  # packets: one every 15 minutes per APID
CDF_RECORDS = 24  # CDF records: one an hour (small files: the package ships them)
CADENCE_NS = 3600 * 10**9

# Data variables per instrument: name, units, catdesc, components (0 for a scalar).
_MAG = (
    ("vectors", "nT", "Magnetic field vector", 3),
    ("magnitude", "nT", "Magnetic field magnitude", 0),
)
_COUNTS = (("counts", "counts", "Counts per energy step", 8),)
_APIDS = {"mag": (1052, 1068), "codice": (1136, 1152), "swapi": (1188,)}

# cdflib's data type numbers
TT2000, REAL4, UINT4 = 33, 21, 14


@functools.lru_cache(maxsize=1)
def cdflib_missing() -> bool:
    """Whether the demo's CDFs are placeholders, because cdflib or numpy is not installed.
    (Found without importing them: a demo made from the cache never needs them.)"""
    import importlib.util

    return any(importlib.util.find_spec(name) is None for name in ("cdflib", "numpy"))


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")


def packets(name: str, instrument: str, day: str) -> bytes:
    """A day of CCSDS packets: for each APID of the instrument, one every 15 minutes."""
    start = dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=dt.timezone.utc)
    base = int((start - PACKET_EPOCH).total_seconds())
    seed = hashlib.sha256(name.encode()).digest()
    out = bytearray()
    apids = _APIDS.get(instrument, (1000 + _seed(instrument) % 500,))
    for index in range(RECORDS):
        for apid in apids:
            payload = seed[(index + apid) % 16 : (index + apid) % 16 + 16]
            body = (base + index * 900).to_bytes(4, "big") + payload
            # version 0, telemetry, secondary header present, APID; unsegmented, a count
            out += (0x0800 | apid).to_bytes(2, "big")
            out += (0xC000 | (index & 0x3FFF)).to_bytes(2, "big")
            out += (len(body) - 1).to_bytes(2, "big")
            out += body
    return bytes(out)


def _globals(parsed: Any, parents: tuple[str, ...], generated: dt.datetime) -> dict:
    instrument = parsed.instrument or "imap"
    level = (parsed.data_level or "").upper()
    descriptor = parsed.descriptor or ""
    source = parsed.name.rsplit("_", 2)[0] if parsed.kind == "science" else parsed.name
    attributes = {
        "Project": "STP>Solar-Terrestrial Physics",
        "Source_name": "IMAP>Interstellar Mapping and Acceleration Probe",
        "Discipline": "Space Physics>Heliospheric Physics",
        "Mission_group": "IMAP",
        "Descriptor": f"{instrument.upper()}>{instrument.upper()} instrument",
        "Data_type": f"{level}_{descriptor}>Level-{level[1:] or '?'} {descriptor}",
        "Logical_source": source,
        "Logical_file_id": parsed.name.rsplit(".", 1)[0],
        "Data_version": parsed.version or "",
        "Generation_date": generated.strftime("%Y-%m-%dT%H:%M:%S"),
        "PI_name": "Demo PI",
        "PI_affiliation": "imap serve --demo",
        "Instrument_type": "Magnetic Fields (space)"
        if instrument == "mag"
        else "Particles (space)",
        "TEXT": "A demo file made by imap serve --demo; its values are made up.",
    }
    out: dict[str, dict[int, Any]] = {k: {0: v} for k, v in attributes.items()}
    if parents:
        out["Parents"] = dict(enumerate(parents))
    return out


def _tt2000_start(day: str) -> int:
    import cdflib

    return int(cdflib.cdfepoch.compute_tt2000([int(day[:4]), int(day[4:6]), int(day[6:8])]))


def _write_science(writer: Any, parsed: Any, rng: Any) -> None:
    import numpy as np

    epoch = _tt2000_start(parsed.start_date) + np.arange(CDF_RECORDS, dtype=np.int64) * CADENCE_NS
    writer.write_var(
        _spec("epoch", TT2000, [], True),
        {"VAR_TYPE": "support_data", "CATDESC": "Time, TT2000", "UNITS": "ns"},
        epoch,
    )
    hours = np.arange(CDF_RECORDS, dtype=np.float32)
    if parsed.instrument == "mag":
        field = np.stack(
            [5 * np.sin(hours / 3 + k) + rng.normal(0, 0.3, CDF_RECORDS) for k in range(3)], axis=1
        ).astype(np.float32)
        values = {"vectors": field, "magnitude": np.linalg.norm(field, axis=1)}
        for name, units, catdesc, _ in _MAG:
            data = values[name].astype(np.float32)
            dims = list(data.shape[1:])
            attrs = _data_attrs(units, catdesc)
            writer.write_var(_spec(name, REAL4, dims, True), attrs, data)
        return
    energies = np.geomspace(0.1, 20.0, 8).astype(np.float32)
    writer.write_var(
        _spec("energy", REAL4, [8], False),
        {"VAR_TYPE": "support_data", "CATDESC": "Energy step centres", "UNITS": "keV"},
        energies,
    )
    counts = rng.poisson(50, size=(CDF_RECORDS, 8)).astype(np.uint32)
    attrs = {**_data_attrs("counts", "Counts per energy step"), "DEPEND_1": "energy"}
    writer.write_var(_spec("counts", UINT4, [8], True), attrs, counts)


def _data_attrs(units: str, catdesc: str) -> dict[str, str]:
    return {"VAR_TYPE": "data", "UNITS": units, "CATDESC": catdesc, "DEPEND_0": "epoch"}


def _spec(name: str, data_type: int, dims: list[int], varies: bool) -> dict[str, Any]:
    return {
        "Variable": name,
        "Data_Type": data_type,
        "Num_Elements": 1,
        "Rec_Vary": varies,
        "Dim_Sizes": dims,
        "Compress": 0,  # small variables: compressing them only slows the demo start
    }


def _write_ancillary(writer: Any, rng: Any) -> None:
    import numpy as np

    table = (np.eye(3) + rng.normal(0, 0.01, (3, 3))).astype(np.float32)
    writer.write_var(
        _spec("calibration_matrix", REAL4, [3, 3], False),
        {"VAR_TYPE": "support_data", "CATDESC": "Calibration matrix", "UNITS": "1"},
        table,
    )


# Bump when the demo CDFs' contents change: the packaged CDFs and the cache are keyed by it.
CONTENT_VERSION = "1"
# The demo's CDFs, made once with cdflib and shipped with the package, so that `imap serve
# --demo` starts without writing ~240 CDFs (seconds on a busy machine), and has real CDFs even
# without cdflib. `python -m imap_cli.server.demo` makes it again after a change; a CDF
# it lacks (a file added to the demo since) is made with cdflib and cached.
PACKAGED = Path(__file__).with_name("demo_cdfs.tar.xz")


@functools.cache
def cdf(name: str, parents: tuple[str, ...], generated: dt.datetime) -> bytes | None:
    """The bytes of a demo CDF named `name` made from `parents`; None when it is neither
    packaged nor cached and cdflib is not installed."""
    token = _token(name, parents, generated)
    packaged = _packaged()
    if token in packaged:
        return packaged[token]
    cached = _cache_folder() / token
    with contextlib.suppress(OSError):
        return cached.read_bytes()
    if cdflib_missing():
        return None
    data = _make_cdf(name, parents, generated)
    _remember(cached, data)
    return data


def _token(name: str, parents: tuple[str, ...], generated: dt.datetime) -> str:
    text = "|".join([CONTENT_VERSION, name, *parents, generated.isoformat()])
    return hashlib.sha256(text.encode()).hexdigest()[:32] + ".cdf"


@functools.lru_cache(maxsize=1)
def _packaged() -> dict[str, bytes]:
    import tarfile

    found: dict[str, bytes] = {}
    try:
        with tarfile.open(PACKAGED, "r:xz") as archive:
            for member in archive:
                stream = archive.extractfile(member) if member.isfile() else None
                if stream is not None:
                    found[member.name] = stream.read()
    except (OSError, tarfile.TarError, EOFError):
        return {}
    return found


def _cache_folder() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("imap-cli", appauthor=False)) / "demo-cdf"


def _remember(path: Path, data: bytes) -> None:
    """Keep a made CDF in the cache (written whole, then renamed; a failure is ignored)."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f"{path.name}.{os.getpid()}.part")
        part.write_bytes(data)
        os.replace(part, path)


def write_packaged(
    specs: Iterable[tuple[str, tuple[str, ...], dt.datetime]], target: Path = PACKAGED
) -> int:
    """Make each CDF of `specs` (name, parents, generation time) with cdflib and write them
    to `target` (a .tar.xz, the same bytes on every run); returns how many."""
    import io
    import tarfile

    made = {}
    for name, parents, generated in specs:
        made[_token(name, parents, generated)] = _make_cdf(name, parents, generated)
    part = target.with_name(target.name + ".part")
    # One solid xz stream: the CDFs share most of their structure, so they shrink together.
    with tarfile.open(part, "w:xz", preset=9) as archive:
        for token in sorted(made):
            member = tarfile.TarInfo(token)
            member.size, member.mtime, member.mode = len(made[token]), 0, 0o644
            archive.addfile(member, io.BytesIO(made[token]))
    os.replace(part, target)
    return len(made)


@functools.lru_cache(maxsize=1)
def _scratch() -> Path:
    """One temporary folder for the whole process: cdflib writes to a path, not to memory."""
    import atexit
    import shutil

    folder = Path(tempfile.mkdtemp(prefix="imap-demo-cdf-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _make_cdf(name: str, parents: tuple[str, ...], generated: dt.datetime) -> bytes:
    import numpy as np
    from cdflib.cdfwrite import CDF

    from imap_cli.core.naming import parse

    parsed = parse(name)
    rng = np.random.default_rng(_seed(name))
    path = _scratch() / f"{os.getpid()}-{name}"
    writer = CDF(str(path), cdf_spec={"Compressed": 0})
    try:
        writer.write_globalattrs(_globals(parsed, parents, generated))
        if parsed.kind == "science" and parsed.start_date:
            _write_science(writer, parsed, rng)
        else:
            _write_ancillary(writer, rng)
    finally:
        writer.close()
    try:
        return path.read_bytes()
    finally:
        path.unlink()
