"""`imap coverage` vs the `imap query` it is made of: what the grid and gaps cost on top.

One instrument over 400 days, 25 products (5 levels x 5 descriptors), about 10,000 files with a
few gaps, served by `imap serve` in this process with 40 ms added to every API call like the
SDC's. Both commands ask for the same range:

  imap query    -i swapi -s S -e E -o json        (the SDC's records, as they came)
  imap coverage -i swapi -s S -e E -o json        (the same query, then the grid and gaps)
  imap coverage -i swapi -s S -e E -o table       (and the picture, at 80 columns)

Timed (wall clock, median of --runs runs each, interleaved, stdout to a file; start-up
included, as a user sees it). Target: coverage at most 1.10x the query (the query's time plus a
few percent) for -o json; the picture is shown for information.

    python benchmarks/bench_coverage.py [--days 400] [--runs 7] [--latency-ms 40]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_query import bench_env, timed  # noqa: E402

from imap_cli.server import start_server  # noqa: E402
from imap_cli.server.catalogue import Catalogue  # noqa: E402

TARGET = 1.10
LEVELS = ("l0", "l1", "l2", "l3a", "l3b")
DESCRIPTORS = ("sci", "hk", "proton-sw", "alpha-sw", "pui-sw")
FIRST = dt.date(2025, 1, 1)


def build(root: Path, days: int) -> int:
    """swapi files for `days` days from FIRST; a few days missing per level; the file count."""
    count = 0
    for n in range(days):
        day = FIRST + dt.timedelta(days=n)
        for rank, level in enumerate(LEVELS):
            if n % 37 < rank:  # higher levels lag a few days behind, every 37 days
                continue
            for descriptor in DESCRIPTORS:
                extension = "pkts" if level == "l0" else "cdf"
                name = f"imap_swapi_{level}_{descriptor}_{day:%Y%m%d}_v001.0001.{extension}"
                path = root / "imap" / "swapi" / level / f"{day:%Y}" / f"{day:%m}" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(name.encode())
                count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--latency-ms", type=int, default=40)
    args = parser.parse_args()
    imap = shutil.which("imap")
    if not imap:
        raise SystemExit("needs `imap` on PATH (pip install -e '.[test]')")
    work = Path(tempfile.mkdtemp(prefix="bench-coverage-"))
    try:
        files = build(work / "archive", args.days)
        catalogue = Catalogue(work / "archive", rescan_interval=None)
        catalogue.scan()
        env = bench_env(work)
        env.pop("NO_COLOR", None)
        env.update(XDG_CACHE_HOME=str(work / "cache"), COLUMNS="80")
        latency = args.latency_ms / 1000
        with start_server(work / "archive", catalogue=catalogue, latency=latency) as server:
            return _measure(imap, server.url, env, work, files, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(imap: str, url: str, env: dict, work: Path, files: int, args) -> int:
    last = FIRST + dt.timedelta(days=args.days - 1)
    common = ["-i", "swapi", "-s", f"{FIRST:%Y%m%d}", "-e", f"{last:%Y%m%d}"]
    cases = {
        "query -o json": [imap, "--url", url, "query", *common, "-o", "json"],
        "coverage -o json": [imap, "--url", url, "coverage", *common, "-o", "json"],
        "coverage -o table": [imap, "--url", url, "coverage", *common, "-o", "table"],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for argv in cases.values():
        timed(argv, env, work / "warm.out")  # page cache, .pyc files
    for _ in range(args.runs):  # interleaved, so a busy moment hits every case
        for name, argv in cases.items():
            times[name].append(timed(argv, env, work / f"{name}.out"))
    import json

    rows = json.loads((work / "query -o json.out").read_text())
    grid = json.loads((work / "coverage -o json.out").read_text())
    assert len(rows) == files, f"the query found {len(rows)} of {files} files"
    assert len(grid["products"]) == len(LEVELS) * len(DESCRIPTORS)
    print(f"{files:,} swapi files over {args.days} days, {args.latency_ms} ms per API call")
    print(f"python {sys.version.split()[0]}, median of {args.runs} runs, stdout to a file\n")
    base = statistics.median(times["query -o json"])
    ok = True
    for name, values in times.items():
        median = statistics.median(values)
        line = f"{name:18} {median:6.3f} s (fastest {min(values):5.3f} s)"
        if name != "query -o json":
            ratio = median / base
            line += f"   ratio {ratio:.2f}x"
            if name == "coverage -o json":
                ok = ratio <= TARGET
                line += f" (target <= {TARGET:.2f}x)"
        print(line)
    print(f"\n{len(grid['gaps'])} gaps found")
    print("verdict: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
