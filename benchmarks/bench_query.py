"""`imap query` vs the official `imap-data-access query` on one 33,600-row answer.

Both clients ask the SAME local server, in the same run, for a query that returns 33,600
realistic science records (about 14 MB of JSON). The server is a tiny stdlib http.server
that answers every GET /query with one prebuilt JSON array: `imap serve` would need an
archive of 33,600 files and its own indexing first, and what is measured here is the
client: start-up, the request, JSON decoding, and rendering the output.

Timed (wall clock, median of --runs runs each, stdout to a file):
  imap query ... -o table            vs  imap-data-access query ...
  imap query ... -o json             vs  imap-data-access query ... --output-format json

Targets: both ratios (ours / official) at most 1.0.

Both run with compiled bytecode cached, as after `pip install` (the official client's .pyc files
sit in site-packages): PYTHONDONTWRITEBYTECODE is dropped for the runs and PYTHONPYCACHEPREFIX
points at a temporary folder, so the untimed warm-up run caches imap's .pyc files there.

    python benchmarks/bench_query.py [--rows 33600] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

INSTRUMENTS = {
    "mag": ("l1a", "l1b", "l1c", "l2"),
    "swe": ("l1a", "l1b", "l2"),
    "hi": ("l1a", "l1b", "l1c"),
    "codice": ("l1a", "l1b", "l2"),
    "swapi": ("l1", "l2"),
    "ultra": ("l1a", "l1b"),
}
DESCRIPTORS = ("norm-mago", "norm-magi", "burst-mago", "sci", "hk", "counters-aggregated")
REPOINTED = {"hi", "ultra"}


def science_rows(count: int) -> list[dict]:
    """`count` science records shaped like the SDC's."""
    import datetime as dt

    rows: list[dict] = []
    day0 = dt.date(2025, 9, 24)
    n = 0
    while len(rows) < count:
        day = day0 + dt.timedelta(days=n // 40)
        n += 1
        for inst, levels in INSTRUMENTS.items():
            for level in levels:
                for desc in DESCRIPTORS[: 2 + (n % 3)]:
                    if len(rows) >= count:
                        break
                    start = f"{day:%Y%m%d}"
                    minor = 1 + (n % 4)
                    repoint = (n % 900) + 1 if inst in REPOINTED else None
                    stamp = f"{start}-repoint{repoint:05d}" if repoint else start
                    name = f"imap_{inst}_{level}_{desc}-{n % 7}_{stamp}_v001.{minor:04d}.cdf"
                    rows.append(
                        {
                            "file_path": f"imap/{inst}/{level}/{day:%Y/%m}/{name}",
                            "instrument": inst,
                            "data_level": level,
                            "descriptor": f"{desc}-{n % 7}",
                            "start_date": start,
                            "repointing": repoint,
                            "major_version": 1,
                            "minor_version": minor,
                            "version": f"v001.{minor:04d}",
                            "extension": "cdf",
                            "ingestion_date": f"{day + dt.timedelta(days=1):%Y%m%d} "
                            f"{n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}",
                            "cr": None,
                            "crid": None,
                            "released": True,
                        }
                    )
    return rows


def serve(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    """Answer every GET with `body` as application/json, on a free loopback port."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def bench_env(work: Path) -> dict[str, str]:
    """This environment without imap settings, with its config, data dir and bytecode cache
    in `work` (compiled once, as an installed package is)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IMAP_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        PYTHONPYCACHEPREFIX=str(work / "pycache"),
        IMAP_CLI_CONFIG=str(work / "config.toml"),
        IMAP_DATA_DIR=str(work / "data"),
    )
    return env


def timed(argv: list[str], env: dict[str, str], out: Path) -> float:
    with out.open("wb") as sink:
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=sink, stderr=subprocess.PIPE, env=env, check=False)
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=33600)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    imap = shutil.which("imap")
    official = shutil.which("imap-data-access")
    if not imap or not official:
        raise SystemExit("needs `imap` and `imap-data-access` on PATH (pip install -e '.[test]')")

    body = json.dumps(science_rows(args.rows)).encode()
    server, url = serve(body)
    work = Path(tempfile.mkdtemp(prefix="bench-query-"))
    env = bench_env(work)
    env.update(
        XDG_CACHE_HOME=str(work / "cache"),
        IMAP_DATA_ACCESS_URL=url,
    )
    (work / "data").mkdir()
    filters = ["--instrument", "mag", "--start-date", "20250101"]
    cases = {
        "table": (
            [imap, "query", *filters, "-o", "table"],
            [official, "query", *filters],
        ),
        "json": (
            [imap, "query", *filters, "-o", "json"],
            [official, "query", *filters, "--output-format", "json"],
        ),
    }
    print(f"{args.rows:,} rows, {len(body) / 1e6:.1f} MB of JSON, server {url} (stdlib)")
    print(f"python {sys.version.split()[0]}, median of {args.runs} runs, stdout to a file\n")
    ratios = {}
    try:
        for name, (ours, theirs) in cases.items():
            timed(ours, env, work / "warm.out")  # page cache, .pyc files
            timed(theirs, env, work / "warm.out")
            mine, other = [], []
            for _ in range(args.runs):  # interleaved, so a busy moment hits both
                mine.append(timed(ours, env, work / f"ours-{name}.out"))
                other.append(timed(theirs, env, work / f"official-{name}.out"))
            ours_s, theirs_s = statistics.median(mine), statistics.median(other)
            ratios[name] = ours_s / theirs_s
            print(
                f"{name:5}  imap {ours_s:6.3f} s   imap-data-access {theirs_s:6.3f} s   "
                f"ratio {ratios[name]:.2f}x (target <= 1.00x)"
            )
        parsed = json.loads((work / "ours-json.out").read_text())
        assert isinstance(parsed, list) and len(parsed) == args.rows, "imap's JSON is incomplete"
        lines = (work / "ours-table.out").read_text().count("\n")
        assert lines >= args.rows, f"imap's table has {lines} lines for {args.rows} rows"
    finally:
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print("\nverdict: " + ("PASS" if all(r <= 1.0 for r in ratios.values()) else "FAIL"))


if __name__ == "__main__":
    main()
