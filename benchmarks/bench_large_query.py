"""`imap query` over an answer larger than the SDC can send at once, vs the same unlimited.

The SDC cannot send more than 6,291,556 bytes in one answer; `imap` then splits the query
into start-date windows (core/split.py) and remembers the split for the next run. This
measures what that costs, at each shape of date filter. Archives of 19,200 and 96,000
science files (48 a day up to yesterday, about 6.8 and 34 MB of /query JSON, see
large_archive.py); for each, `imap serve` servers over it in this process, unlimited
(--max-response-bytes 0) and with the production limit (no offset/limit, as on most
deployments), adding 0 and 40 ms to every API call like the SDC's.

Timed (wall clock, median of --runs runs each, interleaved, stdout to a file; the fastest
run is shown too, as the machine's other work adds noise):
  unlimited          imap query --start-date 20000101 -o paths   (the baseline)
  start              the same, limited, first run (an empty cache)
  end 2099           imap query --end-date 20991231, limited, first run
  no dates           imap query --extension cdf (no date at all), limited, first run
  start, re-run      the start query again, limited, with the split remembered

Target: each limited case at most 1.5x the unlimited one. Every case must print the same keys.

    python benchmarks/bench_large_query.py [--files 19200 96000] [--runs 5] [--latency-ms 0 40]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_query import bench_env, timed  # noqa: E402
from large_archive import build  # noqa: E402

from imap_cli.server import start_server  # noqa: E402
from imap_cli.server.catalogue import Catalogue  # noqa: E402

TARGET = 1.5
# name: (limited, filters, cache: "fresh" for an empty cache each run, "kept" for a warm one)
CASES = {
    "unlimited": (False, ["--start-date", "20000101"], "fresh"),
    "start": (True, ["--start-date", "20000101"], "fresh"),
    "end 2099": (True, ["--end-date", "20991231"], "fresh"),
    "no dates": (True, ["--extension", "cdf"], "fresh"),  # every file is a .cdf
    "start, re-run": (True, ["--start-date", "20000101"], "kept"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[19_200, 96_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 40])
    args = parser.parse_args()
    imap = shutil.which("imap")
    if not imap:
        raise SystemExit("needs `imap` on PATH (pip install -e '.[test]')")
    print(f"python {sys.version.split()[0]}, median of {args.runs} runs, stdout to a file")
    ok = True
    for files in args.files:
        work = Path(tempfile.mkdtemp(prefix="bench-large-query-"))
        try:
            keys = build(work / "archive", files)
            catalogue = Catalogue(work / "archive", rescan_interval=None)
            catalogue.scan()
            for latency_ms in args.latency_ms:
                ok = _one_setting(imap, work, catalogue, keys, latency_ms, args.runs) and ok
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print("\nverdict: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


def _one_setting(
    imap: str, work: Path, catalogue: Catalogue, keys: list[str], latency_ms: int, runs: int
) -> bool:
    latency = latency_ms / 1000
    servers = {
        False: start_server(
            catalogue.root, catalogue=catalogue, latency=latency, max_response_bytes=0
        ),
        True: start_server(catalogue.root, catalogue=catalogue, latency=latency, pagination=False),
    }
    env = bench_env(work)
    try:
        return _measure(imap, servers, env, work, keys, latency_ms, runs)
    finally:
        for server in servers.values():
            server.stop()


def _measure(imap, servers, env, work: Path, keys: list[str], latency_ms: int, runs: int) -> bool:
    def once(name: str, run: int) -> tuple[float, int]:
        limited, filters, cache = CASES[name]
        server = servers[limited]
        folder = work / "cache" / (name if cache == "kept" else f"{name}-{run}")
        shutil.rmtree(folder, ignore_errors=True) if cache == "fresh" else None
        argv = [imap, "--url", server.url, "query", *filters, "-o", "paths"]
        before = len(server.requests)
        elapsed = timed(argv, {**env, "XDG_CACHE_HOME": str(folder)}, work / f"{name}.out")
        return elapsed, len(server.requests) - before

    times: dict[str, list[float]] = {name: [] for name in CASES}
    requests: dict[str, int] = {}
    for name in CASES:
        once(name, -1)  # page cache, .pyc files; and the split the re-run case remembers
    for run in range(runs):  # interleaved, so a busy moment hits every case
        for name in CASES:
            elapsed, requests[name] = once(name, run)
            times[name].append(elapsed)
    expected = "\n".join(keys) + "\n"
    for name in CASES:
        got = (work / f"{name}.out").read_text()
        assert got == expected, f"{name}: the keys differ from the archive's"
    rows = servers[False].catalogue.rows("SELECT row_json FROM files", [])
    megabytes = (2 + sum(len(r[0]) + 2 for r in rows)) / 1e6
    print(f"\n{len(keys):,} science files, {megabytes:.1f} MB of /query JSON, ", end="")
    print(f"{latency_ms} ms per API call")
    base = statistics.median(times["unlimited"])
    fastest = min(times["unlimited"])
    ok = True
    for name, values in times.items():
        median = statistics.median(values)
        line = f"{name:14} {median:6.3f} s (fastest {min(values):5.3f} s)  "
        line += f"{requests[name]:3d} API requests"
        if name != "unlimited":
            ratio = median / base
            ok = ok and ratio <= TARGET
            # The fastest runs' ratio too: on a shared machine it is the least disturbed.
            line += f"   ratio {ratio:.2f}x (fastest {min(values) / fastest:.2f}x; "
            line += f"target <= {TARGET:.2f}x)"
        print(line, flush=True)
    if os.environ.get("BENCH_VERBOSE"):
        for name, values in times.items():
            print(name, " ".join(f"{v:.3f}" for v in values))
    return ok


if __name__ == "__main__":
    sys.exit(main())
