"""A small, deterministic demo archive: several instruments, levels, versions, kinds.

Contents (all names valid for core.naming, each file at its SDC key):
- science over 2025-09-29 .. 2025-11-14: mag l1a/l1b/l2, swe l1a/l2, codice l0 (pkts) and l1a,
  hit l1a/l2, lo l1a; several minor versions, a few newer majors (mag l1a 20251003 has v001.0000,
  v001.0001 and v002.0000), hi l1b files with repointings, glows l3b with Carrington rotations,
  one legacy-version (vXXX) swapi file; 60 days of swapi l0..l3a and 16 ultra repointings with
  gaps of both kinds (see _coverage_names), for `imap coverage`;
- quicklook png files, one dependency json, one release manifest;
- ancillary files with and without end dates, two versions of one series;
- SPICE: naif0012.tls, pck00011.tpc, de440.bsp, imap_sclk_0012.tsc, frames, attitude history
  (two versions of one day range), attitude predict, pointing attitude (dps), ephemerides,
  a metakernel, spin, repoint and thruster files;
- processing jobs with logs (ROOT/.imap-serve/jobs.json): succeeded, failed and running ones.

CDFs are real CDFs (made with cdflib and shipped with the package: server/demo_files.py) with IMAP's
global attributes and Parents chains (demo_parents): mag L0 -> L1A -> L1B + calibration -> L2 +
SPICE, with a reprocessed L1A (the L1B of 2025-10-02 was made from the older one: stale), an
L2 made with a predicted ephemeris (2025-10-03) and one naming a kernel the SDC lacks
(2025-10-04). .pkts files hold real CCSDS packets (server/demo_files.py).

Bytes are deterministic (derived from the name) and small (CDFs 8-13 kB, packets 5 kB, other
files 0.5-6 KiB of placeholder bytes); mtimes, i.e. ingestion
dates, are deterministic too: a file is "ingested" the day after its start date at a time
derived from its name (uploads made later get the real time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

UTC = dt.timezone.utc

_MAGIC = {
    "cdf": b"\xcd\xf3\x00\x01\x00\x00\xff\xff",
    "png": b"\x89PNG\r\n\x1a\n",
    "pkts": b"\x08\x00\xc0\x00",
}


def _days(first: str, count: int, step: int = 1) -> list[str]:
    start = dt.datetime.strptime(first, "%Y%m%d")
    return [(start + dt.timedelta(days=i * step)).strftime("%Y%m%d") for i in range(count)]


def demo_names() -> list[str]:
    """Every file name of the demo archive."""
    names: list[str] = []
    science = [
        ("mag", "l1a", "norm-mago", _days("20251001", 10)),
        ("mag", "l1a", "norm-magi", _days("20251001", 10)),
        ("mag", "l1b", "norm-mago", _days("20251001", 6)),
        ("mag", "l2", "norm-gse", _days("20251001", 4)),
        ("swe", "l1a", "sci", _days("20250929", 8)),
        ("swe", "l2", "sci", _days("20251101", 5, 3)),
        ("codice", "l1a", "hi-counters-aggregated", _days("20251010", 5)),
        ("hit", "l1a", "pulse-height-events", _days("20251020", 4)),
        ("hit", "l2", "macropixel-intensity", _days("20251101", 4, 4)),
        ("lo", "l1a", "histogram", _days("20251005", 3)),
    ]
    for instrument, level, descriptor, days in science:
        for day in days:
            names.append(f"imap_{instrument}_{level}_{descriptor}_{day}_v001.0000.cdf")
    names += [f"imap_codice_l0_raw_{day}_v001.0000.pkts" for day in _days("20251010", 5)]
    # minor and major versions
    names += [
        "imap_mag_l1a_norm-mago_20251001_v001.0001.cdf",
        "imap_mag_l1a_norm-mago_20251002_v001.0001.cdf",
        "imap_mag_l1a_norm-mago_20251002_v001.0002.cdf",
        "imap_mag_l1a_norm-mago_20251003_v001.0001.cdf",
        "imap_mag_l1a_norm-mago_20251003_v002.0000.cdf",
        "imap_swe_l1a_sci_20251001_v002.0000.cdf",
        "imap_swe_l1a_sci_20251001_v002.0001.cdf",
        "imap_hit_l2_macropixel-intensity_20251101_v001.0001.cdf",
    ]
    # repointings and Carrington rotations
    names += [
        f"imap_hi_l1b_45sensor-de_{day}-repoint{n:05d}_v001.0000.cdf"
        for n, day in zip(range(40, 44), _days("20251001", 4))
    ]
    names.append("imap_hi_l1b_45sensor-de_20251001-repoint00040_v001.0001.cdf")
    names += [
        "imap_glows_l3b_ion-rate-profile_20251001-cr02301_v001.0000.cdf",
        "imap_glows_l3b_ion-rate-profile_20251028-cr02302_v001.0000.cdf",
    ]
    names.append("imap_swapi_l1_sci_20250930_v001.cdf")  # legacy version
    names += _coverage_names()
    names += [f"imap_mag_l0_raw_{day}_v001.0000.pkts" for day in _days("20251001", 10)]
    # quicklook, dependency, release
    names += [
        "imap_mag_l1a_norm-mago_20251001_v001.0000.png",
        "imap_swe_l1a_sci_20251002_v001.0000.png",
        "imap_mag_l1b_norm-mago_20251001_v001.0000.json",
        "imap_hit_data-release-001_20251001_20251031_v001.txt",
    ]
    # ancillary
    names += [
        "imap_mag_l1b-cal_20250901_20251231_v001.cdf",
        "imap_mag_l1b-cal_20250901_20251231_v002.cdf",
        "imap_mag_l2-offsets_20251001_20251015_v001.cdf",
        "imap_swe_esa-table_20250901_v001.csv",
        "imap_codice_lo-energy-table_20251001_v001.csv",
        "imap_hit_pha-lookup_20250915_20251115_v003.dat",
    ]
    # SPICE
    names += [
        "naif0012.tls",
        "pck00011.tpc",
        "de440.bsp",
        "imap_sclk_0012.tsc",
        "imap_001.tf",
        "imap_science_0001.tf",
        "imap_2025_274_2025_275_001.ah.bc",
        "imap_2025_274_2025_275_002.ah.bc",
        "imap_2025_276_2025_277_001.ah.bc",
        "imap_2025_280_2025_287_01.ap.bc",
        "imap_dps_2025_274_2025_275_001.ah.bc",
        "imap_recon_20250925_20251001_v01.bsp",
        "imap_pred_20251001_20251101_v02.bsp",
        "imap_sdc_metakernel_2025_v001.tm",
        "imap_2025_274_2025_275_01.spin.csv",
        "imap_2025_276_01.repoint.csv",
        "imap_2025_274_2025_275_thruster_01.sff",
    ]
    return names


def _coverage_names() -> list[str]:
    """SWAPI days and ULTRA repointings with gaps of both kinds, for `imap coverage`.

    SWAPI over 2025-09-30 .. 2025-11-28 (l1 at v001.0001, as the SDC reads the legacy l1 file
    of 09-30): l0 is missing 10-21..10-22 (a data gap for every level); l1 also 10-20 (l0
    present: a processing gap); l2 also 10-10..10-14 and the last 3 days, and its October days
    are still v001 while later ones are v002; l3a starts on 11-01. ULTRA repointings 40..55:
    l1b misses 46-47 (l1a present) and both miss 50.
    """
    names = []
    lost, unprocessed = {"20251021", "20251022"}, {"20251020"}
    l2_behind = set(_days("20251010", 5)) | set(_days("20251126", 3))
    for day in _days("20250930", 60):
        if day in lost:
            continue
        names.append(f"imap_swapi_l0_raw_{day}_v001.0000.pkts")
        if day in unprocessed:
            continue
        if day != "20250930":  # the legacy file holds that day
            names.append(f"imap_swapi_l1_sci_{day}_v001.0001.cdf")
        if day not in l2_behind:
            names.append(f"imap_swapi_l2_sci_{day}_v00{1 if day < '20251101' else 2}.0000.cdf")
        if day >= "20251101":
            names.append(f"imap_swapi_l3a_proton-sw_{day}_v001.0000.cdf")
    for n, day in zip(range(40, 56), _days("20251001", 16)):
        if n == 50:
            continue
        names.append(f"imap_ultra_l1a_45sensor-de_{day}-repoint{n:05d}_v001.0000.cdf")
        if n not in (46, 47):
            names.append(f"imap_ultra_l1b_45sensor-de_{day}-repoint{n:05d}_v001.0000.cdf")
    return names


def _content(name: str) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    size = 512 + int.from_bytes(seed[:2], "big") % 5632
    blocks = []
    counter = 0
    while sum(len(b) for b in blocks) < size:
        blocks.append(hashlib.sha256(seed + counter.to_bytes(4, "big")).digest())
        counter += 1
    body = b"".join(blocks)
    extension = name.rsplit(".", 1)[-1]
    head = _MAGIC.get(extension, f"IMAP demo file {name}\n".encode())
    return (head + body)[:size]


def _ingested(parsed, name: str) -> dt.datetime:
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
    day = parsed.start_date or parsed.end_date or "20251001"
    moment = dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC) + dt.timedelta(days=1)
    return moment + dt.timedelta(seconds=seed % 86400)


# (status, instrument, level, descriptor, start day, version, started, minutes run or None)
_DEMO_JOBS = (
    ("SUCCEEDED", "mag", "l1a", "norm-mago", "20251001", (1, 1), "2025-10-02T03:10:00", 4),
    ("SUCCEEDED", "mag", "l1b", "norm-mago", "20251001", (1, 0), "2025-10-02T03:20:00", 6),
    ("FAILED", "swe", "l2", "sci", "20251101", (1, 0), "2025-11-02T05:00:00", 2),
    ("SUCCEEDED", "hit", "l2", "macropixel-intensity", "20251101", (1, 1),
     "2025-11-02T06:30:00", 9),
    ("INPROGRESS", "codice", "l1a", "hi-counters-aggregated", "20251014", (1, 0),
     "2025-11-14T08:00:00", None),
    ("FAILED", "lo", "l1a", "histogram", "20251007", (1, 0), "2025-10-08T01:45:00", 1),
)  # fmt: skip


def demo_jobs() -> tuple[list[dict], dict[str, str]]:
    """Processing jobs (with the SDC's job fields) and their logs, for `imap jobs`."""
    jobs, logs = [], {}
    for status, inst, level, desc, day, (major, minor), started, minutes in _DEMO_JOBS:
        seed = hashlib.sha256(f"{inst}{level}{desc}{day}".encode()).hexdigest()
        stream = f"{inst}-{level}-processing/default/{seed[:32]}"
        begun = dt.datetime.fromisoformat(started).replace(tzinfo=UTC)
        stopped = None if minutes is None else begun + dt.timedelta(minutes=minutes)
        start = f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00"
        command = (
            f"imap_cli --instrument {inst} --data-level {level} --descriptor {desc} "
            f"--start-date {day} --version v{major:03d}.{minor:04d} --upload-to-sdc"
        )
        running = status == "INPROGRESS"
        jobs.append(
            {
                "job_command": command,
                "status": status,
                "instrument": inst,
                "data_level": level,
                "descriptor": desc,
                "start_date": start,
                "major_version": major,
                "minor_version": minor,
                "repointing": None,
                "dependency_hash": seed[32:48],
                "job_definition": f"ProcessingJob-{inst}-{level}",
                "job_log_stream_id": stream,
                "container_image": None if running else f"imap-{inst}:latest",
                "container_image_digest": None if running else f"sha256:{seed[:64]}",
                "started_at": begun.isoformat(),
                "stopped_at": stopped.isoformat() if stopped else None,
            }
        )
        lines = [
            f"{begun:%Y-%m-%dT%H:%M:%S} INFO Starting {command}",
            f"{begun:%Y-%m-%dT%H:%M:%S} INFO Downloading dependencies for {inst} {level} {day}",
        ]
        if status == "FAILED":
            lines += [
                f"{stopped:%Y-%m-%dT%H:%M:%S} ERROR Missing dependency: no {inst} l0 file "
                f"for {day}",
                f"{stopped:%Y-%m-%dT%H:%M:%S} ERROR Processing failed with exit code 1",
            ]
        elif status == "SUCCEEDED":
            name = f"imap_{inst}_{level}_{desc}_{day}_v{major:03d}.{minor:04d}.cdf"
            lines += [
                f"{stopped:%Y-%m-%dT%H:%M:%S} INFO Uploaded {name}",
                f"{stopped:%Y-%m-%dT%H:%M:%S} INFO Processing complete",
            ]
        else:
            lines.append(f"{begun:%Y-%m-%dT%H:%M:%S} INFO Processing {inst} {level} ...")
        logs[stream] = "\n".join(lines)
    return jobs, logs


# The mag chain: L1B day -> (the L1A version it was made from, the calibration version).
# L1A 20251002 was reprocessed to v001.0002 after its L1B was made from v001.0001: stale.
_MAG_L1B_INPUTS = {
    "20251001": ("v001.0001", "v002"),
    "20251002": ("v001.0001", "v002"),
    "20251003": ("v002.0000", "v002"),
    "20251004": ("v001.0000", "v002"),
    "20251005": ("v001.0000", "v002"),
    "20251006": ("v001.0000", "v002"),
}
# L2 day -> its SPICE inputs: 20251003 used the predicted ephemeris, 20251004 names an
# attitude kernel the SDC does not have.
_RECON = "imap_recon_20250925_20251001_v01.bsp"
_MAG_L2_SPICE = {
    "20251001": (_RECON, "imap_2025_274_2025_275_002.ah.bc"),
    "20251002": (_RECON, "imap_2025_274_2025_275_002.ah.bc"),
    "20251003": ("imap_pred_20251001_20251101_v02.bsp", "imap_2025_276_2025_277_001.ah.bc"),
    "20251004": (_RECON, "imap_2025_277_2025_278_001.ah.bc"),
}
_CLOCK = ("naif0012.tls", "imap_sclk_0012.tsc")
# Other science levels: each made from the previous level of the same day, when there is one.
_PREVIOUS_LEVEL = {"l1a": "l0", "l1": "l0", "l1b": "l1a", "l2": "l1", "l3a": "l2"}


def demo_parents() -> dict[str, tuple[str, ...]]:
    """Each demo CDF's Parents (names as IMAP CDFs write them)."""
    from imap_cli.core.naming import parse

    names = demo_names()
    by_product: dict[tuple, list] = {}
    for name in names:
        parsed = parse(name)
        if parsed.kind == "science":
            product = (parsed.instrument, parsed.data_level, parsed.start_date)
            by_product.setdefault(product, []).append(name)
    out: dict[str, tuple[str, ...]] = {}
    for name in names:
        parsed = parse(name)
        if parsed.kind != "science" or parsed.extension != "cdf":
            continue
        day = parsed.start_date
        if parsed.instrument == "mag" and parsed.data_level == "l1a":
            out[name] = (f"imap_mag_l0_raw_{day}_v001.0000.pkts",)
        elif parsed.instrument == "mag" and parsed.data_level == "l1b":
            l1a, cal = _MAG_L1B_INPUTS[day]
            out[name] = (
                f"imap_mag_l1a_norm-mago_{day}_{l1a}.cdf",
                f"imap_mag_l1b-cal_20250901_20251231_{cal}.cdf",
            )
        elif parsed.instrument == "mag" and parsed.data_level == "l2":
            out[name] = (
                f"imap_mag_l1b_norm-mago_{day}_v001.0000.cdf",
                "imap_mag_l2-offsets_20251001_20251015_v001.cdf",
                *_MAG_L2_SPICE[day],
                *_CLOCK,
            )
        else:
            below = _PREVIOUS_LEVEL.get(parsed.data_level or "")
            found = by_product.get((parsed.instrument, below, day), [])
            if found:
                out[name] = (max(found),)
    return out


def demo_cdf_specs() -> list[tuple[str, tuple[str, ...], dt.datetime]]:
    """(name, parents, generation time) of each demo CDF that is made with cdflib."""
    from imap_cli.core.naming import parse

    parents = demo_parents()
    specs = []
    for name in demo_names():
        parsed = parse(name)
        if parsed.extension == "cdf" and parsed.kind in ("science", "ancillary"):
            specs.append((name, parents.get(name, ()), _ingested(parsed, name)))
    return specs


def _real_content(parsed, parents: tuple[str, ...]) -> bytes | None:
    """A real CDF or packet file for `parsed`, or None for a placeholder."""
    from imap_cli.server import demo_files

    if parsed.extension == "pkts" and parsed.start_date:
        return demo_files.packets(parsed.name, parsed.instrument, parsed.start_date)
    if parsed.extension == "cdf" and parsed.kind in ("science", "ancillary"):
        return demo_files.cdf(parsed.name, parents, _ingested(parsed, parsed.name))
    return None


def build_demo(root: Path) -> list[str]:
    """Write the demo archive under `root` (created if needed); return the keys written."""
    from imap_cli.core.naming import parse

    root = Path(root)
    keys = []
    parents = demo_parents()
    for name in demo_names():
        parsed = parse(name)
        path = root.joinpath(*parsed.key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_real_content(parsed, parents.get(name, ())) or _content(name))
        stamp = _ingested(parsed, name).timestamp()
        os.utime(path, (stamp, stamp))
        keys.append(parsed.key)
    from imap_cli.server.operations import write_jobs

    write_jobs(root, *demo_jobs())
    return keys


if __name__ == "__main__":
    # python -m imap_cli.server.demo: make the packaged demo CDFs again after a change here
    from imap_cli.server.demo_files import PACKAGED, write_packaged

    count = write_packaged(demo_cdf_specs())
    print(f"wrote {count} CDFs to {PACKAGED}")
