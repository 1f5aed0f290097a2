"""`imap webpoda` against the official client's `webpoda`: ULTRA (58 APIDs) over 3 pointings.

    python benchmarks/bench_webpoda.py [--latency-ms 40] [--packets 20] [--runs 3]

Both clients talk to the same `imap serve` (its PODA routes, each call delayed by --latency-ms,
as a remote LaTiS service answers; the SDC routes at no delay) over the demo archive plus ULTRA
packets: --packets per APID in each of 3 pointings (2025-10-01..03, from the demo repoint
table), received on 2025-10-05. Each run: ERT mode, `-s 20251005`, into an empty data dir: 58
`.txt` lookups, then 58 x 3 `.bin` fetches. The official client makes them one after another;
imap --jobs (default 8, as imap's jobs setting) at once. Each tool runs in a fresh process,
alternating, --runs times; best and median wall times are printed with the ratio, and the files
are compared byte for byte.
Pass: imap's best time <= 1/3 of the official client's, and the same files.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = "/ops/imap/poda/dap2/apids"
TOKEN = base64.b64encode(b"bench:bench").decode()
OFFICIAL = """
import sys
import imap_data_access.webpoda as webpoda
webpoda.WEBPODA_APID_URL = sys.argv[1]
sys.argv = ["imap-data-access", *sys.argv[2:]]
from imap_data_access.cli import main
main()
"""


def build(root: Path, packets: int) -> None:
    """The demo archive, ULTRA packets for pointings 40..42, a repoint table ingested now."""
    import datetime as dt

    from imap_cli.core.poda import APIDS
    from imap_cli.server.demo import build_demo

    build_demo(root)
    folder = root / "imap/spice/repoint"
    shutil.copy(folder / "imap_2025_276_01.repoint.csv", folder / "imap_2025_280_01.repoint.csv")
    epoch = dt.datetime(2010, 1, 1)
    start = dt.datetime(2025, 10, 1, 1, 5)
    step = dt.timedelta(days=3) / packets
    out = bytearray()
    for apid in APIDS["ultra"]:
        for i in range(packets):
            met = int((start + i * step - epoch).total_seconds())
            body = met.to_bytes(4, "big") + hashlib.sha256(f"{apid}{i}".encode()).digest() * 8
            out += ((1 << 11) | apid).to_bytes(2, "big") + ((3 << 14) | i).to_bytes(2, "big")
            out += (len(body) - 1).to_bytes(2, "big") + body
    path = root / "poda/SID1/ultra.pkts"
    path.write_bytes(bytes(out))
    stamp = dt.datetime(2025, 10, 5, 6, tzinfo=dt.timezone.utc).timestamp()
    os.utime(path, (stamp, stamp))


def delayed(seconds: float):
    """Middleware: PODA's calls wait `seconds` before answering."""

    def wrap(app):
        def call(environ, start_response):
            if environ.get("PATH_INFO", "").startswith("/ops/"):
                time.sleep(seconds)
            return app(environ, start_response)

        return call

    return wrap


def files(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in data_dir.rglob("*.pkts")}


def run(kind: str, url: str, work: Path, jobs: int) -> tuple[float, dict[str, bytes]]:
    data_dir = work / f"{kind}-{time.monotonic_ns()}"
    env = {k: v for k, v in os.environ.items() if k not in ("IMAP_API_KEY", "IMAP_ACCESS_TOKEN")}
    env.update(
        IMAP_DATA_ACCESS_URL=url,
        IMAP_DATA_DIR=str(data_dir),
        IMAP_WEBPODA_TOKEN=TOKEN,
        IMAP_WEBPODA_URL=url + ROOT,
        IMAP_CLI_CONFIG=str(work / "config.toml"),
    )
    if kind == "official":
        argv = [sys.executable, "-c", OFFICIAL, url + ROOT, "webpoda"]
        argv += ["--instrument", "ultra", "--start-date", "20251005"]
    else:
        imap = Path(sys.executable).with_name("imap")
        argv = [str(imap), "webpoda", "-i", "ultra", "-s", "20251005", "-o", "json"]
        argv += ["-j", str(jobs)]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{kind} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took, files(data_dir)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--packets", type=int, default=20, help="per APID and pointing")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=8, help="imap's -j")
    args = parser.parse_args()

    from imap_cli.server import start_server

    work = Path(tempfile.mkdtemp(prefix="bench-webpoda-"))
    try:
        build(work / "archive", args.packets)
        with start_server(
            work / "archive",
            poda_credentials="bench:bench",
            api_middleware=delayed(args.latency_ms / 1000),
        ) as server:
            times: dict[str, list[float]] = {"official": [], "imap": []}
            made: dict[str, dict[str, bytes]] = {}
            for _ in range(args.runs):
                for kind in ("official", "imap"):
                    took, made[kind] = run(kind, server.url, work, args.jobs)
                    times[kind].append(took)
        ours = made["imap"]
        same = bool(ours) and all(made["official"].get(n) == b for n, b in ours.items())
        calls = 58 + 58 * 3
        print(
            f"ULTRA, 58 APIDs x 3 pointings, {args.packets} packets each; "
            f"{calls} PODA calls at {args.latency_ms:g} ms"
        )
        for kind, values in times.items():
            print(
                f"  {kind:9s} best {min(values):6.2f} s   median {statistics.median(values):6.2f} s"
                f"   ({len(made[kind])} files)"
            )
        ratio = min(times["official"]) / min(times["imap"])
        print(f"  imap is {ratio:.1f}x faster (best vs best); same files: {same}")
        passed = same and ratio >= 3
        print("PASS" if passed else "FAIL")
        return 0 if passed else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
