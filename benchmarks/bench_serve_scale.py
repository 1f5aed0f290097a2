"""Benchmark `imap serve` over a large archive: first index, restart, incremental re-index.

    python benchmarks/bench_serve_scale.py                  # 100,000 files
    python benchmarks/bench_serve_scale.py --files 1000000  # a mission's archive

Builds an archive of N one-byte science files (10 instruments x 3,650 days x versions), then
starts `imap serve` in a child process three times, each time until its first /query answer:
1. first index (no kept catalogue): files/s;
2. restart with nothing changed: seconds from process start to the first answer, and the
   child's RSS then (VmRSS);
3. restart after 1,000 new files: the same, and how many files were re-indexed.
Targets (issue 24, at 1,000,000 files): after the first index, first answer <= 2 s and
<= 200 MiB RSS; a restart after 1,000 new files re-indexes only those.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSTRUMENTS = ["mag", "swe", "hit", "codice", "swapi", "lo", "hi", "ultra", "idex", "glows"]
DAYS = 3650
FIRST_ANSWER_TARGET = 2.0
RSS_TARGET_MIB = 200

CHILD = r"""
import json, sys, time, urllib.request
began = time.perf_counter()
from imap_cli.server import start_server
from imap_cli.server.catalogue import Catalogue
root = sys.argv[1]
catalogue = Catalogue(root, rescan_interval=None)
report = catalogue.update()
with start_server(root, catalogue=catalogue) as server:
    url = server.url + "/query?instrument=mag&start_date=20250101&end_date=20250110"
    rows = json.load(urllib.request.urlopen(url))
    answered = time.perf_counter() - began
    rss = next(int(line.split()[1]) for line in open("/proc/self/status")
               if line.startswith("VmRSS:"))
    print(json.dumps({"seconds": answered, "rss_kib": rss, "rows": len(rows),
                      "indexed": report.indexed, "new": report.new, "changed": report.changed,
                      "removed": report.removed, "folders": report.folders}))
"""


def name(index: int) -> tuple[str, str]:
    """The key folder and file name of the index-th generated file."""
    instrument = INSTRUMENTS[index % len(INSTRUMENTS)]
    day = dt.date(2025, 1, 1) + dt.timedelta(days=(index // len(INSTRUMENTS)) % DAYS)
    version = index // (len(INSTRUMENTS) * DAYS)
    file = f"imap_{instrument}_l1a_sci_{day:%Y%m%d}_v001.{version:04d}.cdf"
    return f"imap/{instrument}/l1a/{day:%Y}/{day:%m}", file


def build(root: Path, first: int, count: int) -> None:
    """Write files first .. first+count-1 (one byte each)."""
    made: set[str] = set()
    for index in range(first, first + count):
        folder, file = name(index)
        if folder not in made:
            (root / folder).mkdir(parents=True, exist_ok=True)
            made.add(folder)
        with open(root / folder / file, "wb") as handle:
            handle.write(b"x")


def serve_once(root: Path) -> dict:
    """Start a server in a child process until its first answer; what it measured."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000, help="archive size (files)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imap-serve-scale-") as work:
        root = Path(work) / "archive"
        began = time.perf_counter()
        build(root, 0, args.files)
        print(f"archive: {args.files:,} files written in {time.perf_counter() - began:.1f} s")
        # Folders must look settled (older than the racy window) for a restart to skip them.
        stamp = time.time() - 60
        for folder, _dirs, _files in os.walk(root):
            os.utime(folder, (stamp, stamp))

        first = serve_once(root)
        rate = first["indexed"] / first["seconds"]
        print(
            f"first index: {first['indexed']:,} files in {first['seconds']:.1f} s "
            f"({rate:,.0f} files/s), RSS {first['rss_kib'] / 1024:.0f} MiB"
        )
        again = serve_once(root)
        ok = again["seconds"] <= FIRST_ANSWER_TARGET and again["rss_kib"] / 1024 <= RSS_TARGET_MIB
        print(
            f"restart: first answer after {again['seconds']:.2f} s (target <= "
            f"{FIRST_ANSWER_TARGET} s), RSS {again['rss_kib'] / 1024:.0f} MiB (target <= "
            f"{RSS_TARGET_MIB} MiB), folders re-listed {again['folders']} "
            f"{'OK' if ok else 'MISSED'}"
        )
        build(root, args.files, 1000)
        after = serve_once(root)
        only = (after["new"], after["changed"], after["removed"]) == (1000, 0, 0)
        print(
            f"restart after 1,000 new files: first answer after {after['seconds']:.2f} s, "
            f"re-indexed new {after['new']}, changed {after['changed']}, removed "
            f"{after['removed']}, folders re-listed {after['folders']} "
            f"({'only the new files: OK' if only else 'MISSED'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
