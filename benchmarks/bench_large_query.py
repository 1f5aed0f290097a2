"""`imap query` over an answer larger than the SDC can send at once, vs the same unlimited.

The SDC cannot send more than 6,291,556 bytes in one answer; `imap` then pages the query
(offset/limit, where the SDC has them) or splits it into start-date windows. This measures
what that costs. One archive of 19,200 science files (about 6.8 MB of /query JSON, see
large_archive.py), three `imap serve` servers over it in this process, each adding 40 ms to
every API call like the SDC's:

  unlimited        --max-response-bytes 0
  limited, paged   the production limit, /query with offset/limit (newer SDC revision)
  limited, split   the production limit, no offset/limit (most deployments)

(`imap` splits by start date in both; offset/limit only page a single day too large.)

Timed (wall clock, median of --runs runs each, interleaved, stdout to a file; the fastest
run is shown too, as the machine's other work adds noise):
  imap query --start-date 20000101 -o paths

Target: each limited case at most 1.5x the unlimited one. Every case must print the same
19,200 keys.

    python benchmarks/bench_large_query.py [--files 19200] [--runs 9] [--latency-ms 40]
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

from bench_query import timed  # noqa: E402
from large_archive import build  # noqa: E402

from imap_cli.server import start_server  # noqa: E402
from imap_cli.server.catalogue import Catalogue  # noqa: E402

TARGET = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=19_200)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--latency-ms", type=int, default=40)
    args = parser.parse_args()
    imap = shutil.which("imap")
    if not imap:
        raise SystemExit("needs `imap` on PATH (pip install -e '.[test]')")

    work = Path(tempfile.mkdtemp(prefix="bench-large-query-"))
    try:
        keys = build(work / "archive", args.files)
        catalogue = Catalogue(work / "archive", rescan_interval=None)
        catalogue.scan()
        latency = args.latency_ms / 1000
        servers = {
            "unlimited": start_server(
                work / "archive", catalogue=catalogue, latency=latency, max_response_bytes=0
            ),
            "limited, paged": start_server(work / "archive", catalogue=catalogue, latency=latency),
            "limited, split": start_server(
                work / "archive", catalogue=catalogue, latency=latency, pagination=False
            ),
        }
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("IMAP_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(
            PYTHONPYCACHEPREFIX=str(work / "pycache"),
            IMAP_CLI_CONFIG=str(work / "config.toml"),
            IMAP_DATA_DIR=str(work / "data"),
            XDG_CACHE_HOME=str(work / "cache"),
        )
        try:
            return _measure(imap, servers, env, work, keys, args)
        finally:
            for server in servers.values():
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(imap: str, servers: dict, env: dict, work: Path, keys: list[str], args) -> int:
    def argv(name: str) -> list[str]:
        return [
            imap,
            "--url",
            servers[name].url,
            "query",
            "--start-date",
            "20000101",
            "-o",
            "paths",
        ]

    times: dict[str, list[float]] = {name: [] for name in servers}
    requests: dict[str, int] = {}
    for name in servers:
        timed(argv(name), env, work / "warm.out")  # page cache, .pyc files
    for _ in range(args.runs):  # interleaved, so a busy moment hits every case
        for name, server in servers.items():
            before = len(server.requests)
            times[name].append(timed(argv(name), env, work / f"{name}.out"))
            requests[name] = len(server.requests) - before
    expected = "\n".join(keys) + "\n"
    for name in servers:
        got = (work / f"{name}.out").read_text()
        assert got == expected, f"{name}: the keys differ from the archive's"
    body = servers["unlimited"].catalogue.rows("SELECT row_json FROM files", [])
    megabytes = (2 + sum(len(r[0]) + 2 for r in body)) / 1e6
    print(
        f"{len(keys):,} science files, {megabytes:.1f} MB of /query JSON, "
        f"{args.latency_ms} ms per API call"
    )
    print(f"python {sys.version.split()[0]}, median of {args.runs} runs, stdout to a file\n")
    base = statistics.median(times["unlimited"])
    ok = True
    for name, values in times.items():
        median = statistics.median(values)
        line = f"{name:15} {median:6.3f} s (fastest {min(values):5.3f} s)  "
        line += f"{requests[name]:2d} API requests"
        if name != "unlimited":
            ratio = median / base
            ok = ok and ratio <= TARGET
            line += f"   ratio {ratio:.2f}x (target <= {TARGET:.2f}x)"
        print(line)
    if os.environ.get("BENCH_VERBOSE"):
        for name, values in times.items():
            print(name, " ".join(f"{v:.3f}" for v in values))
    print("\nverdict: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
