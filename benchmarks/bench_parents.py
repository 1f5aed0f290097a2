"""`imap parents --check` over thousands of local L2 CDFs, against an SDC with 40 ms per call.

The archive (served by `imap serve` in this process, 40 ms added to every API call like the
SDC's Lambdas) holds, for --files days: a MAG L1B per day (every 10th reprocessed: a newer
version), an attitude kernel per day, reconstructed and predicted ephemerides, the leapseconds
and clock kernels and a calibration file. The data dir holds one real L2 CDF per day (written
with cdflib), whose Parents name its L1B, the calibration, its day's attitude kernel, an
ephemeris (every 50th the predicted one) and the clock kernels.

Measured: `imap parents --check FILE... -o json` (wall clock, start-up included, as a user
sees it), the API requests it made, and the verdicts. For comparison, the requests and time a
per-parent lookup (one query per distinct parent) would need at the same latency.
Targets: under 10 s and fewer than 50 queries for 2,000 files.

    python benchmarks/bench_parents.py [--files 2000] [--latency-ms 40]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_query import bench_env  # noqa: E402

from imap_cli.core.naming import parse  # noqa: E402
from imap_cli.server import start_server  # noqa: E402

FIRST = dt.date(2025, 10, 1)
TARGET_SECONDS = 10.0
TARGET_QUERIES = 50
CAL = "imap_mag_l1b-cal_20250901_20351231_v001.cdf"
CLOCK = ("naif0012.tls", "imap_sclk_0012.tsc")


def attitude(day: dt.date) -> str:
    after = day + dt.timedelta(days=1)
    return f"imap_{day:%Y}_{day:%j}_{after:%Y}_{after:%j}_01.ah.bc"


def ephemeris(day: dt.date, predicted: bool) -> str:
    start = day - dt.timedelta(days=day.toordinal() % 30)
    end = start + dt.timedelta(days=30)
    word = "pred" if predicted else "recon"
    return f"imap_{word}_{start:%Y%m%d}_{end:%Y%m%d}_v01.bsp"


def build_archive(root: Path, days: list[dt.date]) -> int:
    names = {CAL, *CLOCK}
    for n, day in enumerate(days):
        names.add(f"imap_mag_l1b_norm-mago_{day:%Y%m%d}_v001.0000.cdf")
        if n % 10 == 3:
            names.add(f"imap_mag_l1b_norm-mago_{day:%Y%m%d}_v001.0001.cdf")
        names.add(attitude(day))
        names.add(ephemeris(day, False))
        names.add(ephemeris(day, True))
    for name in names:
        path = root / parse(name).key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())
    return len(names)


def build_local(data_dir: Path, days: list[dt.date]) -> tuple[list[Path], int]:
    """One real L2 CDF per day; returns the paths and the count of distinct parents."""
    import numpy as np
    from cdflib.cdfwrite import CDF

    paths, distinct = [], set()
    for n, day in enumerate(days):
        name = f"imap_mag_l2_norm-gse_{day:%Y%m%d}_v001.0000.cdf"
        path = data_dir / parse(name).key
        path.parent.mkdir(parents=True, exist_ok=True)
        parents = [
            f"imap_mag_l1b_norm-mago_{day:%Y%m%d}_v001.0000.cdf",
            CAL,
            attitude(day),
            ephemeris(day, predicted=n % 50 == 7),
            *CLOCK,
        ]
        distinct.update(parents)
        writer = CDF(str(path), cdf_spec={"Compressed": 0})
        writer.write_globalattrs(
            {"Logical_file_id": {0: path.stem}, "Parents": dict(enumerate(parents))}
        )
        writer.write_var(
            {"Variable": "epoch", "Data_Type": 33, "Num_Elements": 1, "Rec_Vary": True,
             "Dim_Sizes": []},
            {"VAR_TYPE": "support_data"},
            np.arange(96, dtype=np.int64),
        )  # fmt: skip
        writer.close()
        paths.append(path)
    return paths, len(distinct)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=40)
    args = parser.parse_args()
    imap = shutil.which("imap")
    if not imap:
        raise SystemExit("needs `imap` on PATH (pip install -e '.[test]')")
    work = Path(tempfile.mkdtemp(prefix="bench-parents-"))
    try:
        days = [FIRST + dt.timedelta(days=n) for n in range(args.files)]
        served = build_archive(work / "archive", days)
        env = bench_env(work)
        paths, distinct = build_local(Path(env["IMAP_DATA_DIR"]), days)
        latency = args.latency_ms / 1000
        with start_server(work / "archive", latency=latency) as server:
            env["IMAP_DATA_ACCESS_URL"] = server.url
            before = len(server.requests)
            started = time.perf_counter()
            done = subprocess.run(
                [imap, "parents", "--check", *map(str, paths), "-o", "json"],
                capture_output=True,
                env=env,
                check=False,
            )
            elapsed = time.perf_counter() - started
            requests = list(server.requests)[before:]
        if done.returncode not in (0, 1):
            raise SystemExit(f"imap parents failed ({done.returncode}):\n{done.stderr.decode()}")
        verdicts = json.loads(done.stdout)
        counts = {s: sum(v["status"] == s for v in verdicts) for s in ("ok", "stale", "missing")}
        queries = [r for r in requests if r.path.endswith("query")]
        print(f"archive: {served} files; data dir: {len(paths)} L2 CDFs naming {distinct} parents")
        print(f"imap parents --check: {elapsed:.2f} s, {len(requests)} API requests "
              f"({len(queries)} queries) at {args.latency_ms} ms each")  # fmt: skip
        print(f"verdicts: {counts['ok']} ok, {counts['stale']} stale, {counts['missing']} missing")
        naive = distinct * latency
        print(f"one query per parent instead: {distinct} requests, at least {naive:.1f} s of "
              f"latency alone ({naive / max(elapsed, 1e-9):.0f}x)")  # fmt: skip
        ok = elapsed < TARGET_SECONDS and len(queries) < TARGET_QUERIES
        print(f"targets: < {TARGET_SECONDS:.0f} s and < {TARGET_QUERIES} queries: "
              f"{'met' if ok else 'MISSED'}")  # fmt: skip
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
