"""Memory of `imap sync` over many one-byte files: the first sync, then a re-run with all here.

The fake SDC of bench_download_memory.py (a separate process on 127.0.0.1, so its memory is
not counted), answering /query too: every key as a science record, in one answer (no size
limit, so no splitting is measured here). `imap sync --start-date 20000101` runs as a child;
its peak RSS is the child's ru_maxrss. Each size is synced twice: the first run downloads
every file, the second finds them all present (a daily sync's usual case).

    python benchmarks/bench_sync_memory.py [--files 100000] [--jobs 8]

What grows with the file count, by design: the query's records while they are read (about
1 KB a record as Python objects; dropped once the keys are taken), the keys themselves, and
the sync state's list of the files it brought. What must not: an object per file in the
summary (tests/unit/test_sync_memory.py checks that structurally).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_download_memory import Handler, keys_for  # noqa: E402

TARGET_MIB = 200  # the records of 100,000 files alone take about 100 MiB while read
ANSWER: bytes = b"[]"


class SyncHandler(Handler):
    """bench_download_memory's fake, and /query answering every key."""

    def do_GET(self) -> None:
        if not self.path.startswith("/query"):
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)


def record(key: str) -> dict:
    """A science record for key, as the SDC's /query answers it."""
    name = key.rsplit("/", 1)[1]
    _, instrument, level, descriptor, day, version = name[: -len(".cdf")].split("_")
    return {
        "file_path": key,
        "instrument": instrument,
        "data_level": level,
        "descriptor": descriptor,
        "start_date": day,
        "repointing": None,
        "major_version": 1,
        "minor_version": 1,
        "version": version,
        "extension": "cdf",
        "ingestion_date": "20251002 10:00:00",
        "cr": None,
        "crid": None,
        "released": True,
    }


def serve(port_file: str, files: int) -> None:
    """The fake SDC's own process: build the answer, write the port, serve until killed."""
    from http.server import ThreadingHTTPServer

    global ANSWER
    ANSWER = json.dumps([record(key) for key in keys_for(files)]).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), SyncHandler)
    server.daemon_threads = True
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def run_sync(url: str, data: Path, jobs: int) -> tuple[int, float, float, str]:
    """(exit code, seconds, peak RSS in MiB, stderr's last line) of one `imap sync`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAP_")}
    env.update(IMAP_DATA_ACCESS_URL=url, IMAP_DATA_DIR=str(data), IMAP_CLI_CONFIG=str(data / "c"))
    argv = [sys.executable, "-m", "imap_cli", "sync", "-q", "-j", str(jobs)]
    argv += ["--start-date", "20000101"]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    tail = b""
    assert proc.stderr is not None
    for line in proc.stderr:  # read as it comes so the pipe never fills
        if line.strip():
            tail = line
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    return os.waitstatus_to_exitcode(status), seconds, usage.ru_maxrss / 1024, tail.decode()


def one_size(files: int, jobs: int, work: Path) -> list[tuple]:
    """The first sync and the re-run of `files` files: (label, files, code, s, MiB, present)."""
    port_file = work / f"port-{files}"
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port_file), "--files", str(files)]
    )
    rows = []
    try:
        while not port_file.exists() or not port_file.read_text():
            if server.poll() is not None:
                raise SystemExit("the fake SDC did not start")
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        data = work / f"data-{files}"
        for label in ("first sync", "re-run"):
            code, seconds, peak, tail = run_sync(url, data, jobs)
            present = sum(1 for _ in data.rglob("*.cdf"))
            rows.append((label, files, code, seconds, peak, present, tail.strip()))
            print(
                f"{label:>10} {files:>8,} {code:>4} {seconds:>7.1f}s {peak:>7.1f} MiB", flush=True
            )
        shutil.rmtree(data, ignore_errors=True)
    finally:
        server.kill()
        server.wait()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the fake SDC's own process
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.files)
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-sync-mem-", dir=os.environ.get("BENCH_TMP")))
    rows = []
    try:
        for count in (max(1, args.files // 10), args.files):
            rows += one_size(count, args.jobs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'run':>10} {'files':>8} {'exit':>4} {'time':>8} {'peak RSS':>9}  summary")
    for label, count, code, seconds, peak, _present, tail in rows:
        print(f"{label:>10} {count:>8,} {code:>4} {seconds:>7.1f}s {peak:>7.1f} MiB  {tail[:60]}")
    worst = max(row[4] for row in rows)
    ok = all(code == 0 and present == count for _, count, code, _, _, present, _ in rows)
    ok = ok and worst <= TARGET_MIB
    print(
        f"target: peak RSS <= {TARGET_MIB} MiB at {args.files:,} files, every file present: "
        f"{'met' if ok else 'MISSED'} ({worst:.1f} MiB; growth from {rows[0][1]:,} files: "
        f"first sync {rows[2][4] - rows[0][4]:+.1f} MiB, re-run {rows[3][4] - rows[1][4]:+.1f} MiB)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
