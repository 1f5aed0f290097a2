"""Memory flat in the file count: `imap download -j 8 -` of many one-byte files.

A minimal fake SDC (a separate process on 127.0.0.1, so its memory is not counted) answers
`/download/<key>` with a 302 to its own object route, which sends one byte with an MD5 ETag.
`imap download` runs as a child with the keys on stdin; its peak RSS is the child's ru_maxrss.

    python benchmarks/bench_download_memory.py [--files 100000] [--jobs 8]

Target: peak RSS <= 100 MiB at 100,000 files. Measured on a loaded 2-core machine: 78 MiB at
100,000 files (44 MiB at 10,000) in about 12 minutes (each file is fsynced before its rename);
`--files 20000` takes about 2.5 minutes.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TARGET_MIB = 100
BODY = b"x"
ETAG = '"' + hashlib.md5(BODY).hexdigest() + '"'


def keys_for(count: int) -> list[str]:
    """`count` distinct valid science keys: 24 products a day, day after day."""
    products = [
        (inst, level)
        for inst in ("codice", "hi", "hit", "lo", "mag", "swapi", "swe", "ultra")
        for level in ("l1a", "l1b", "l2")
    ]
    start = datetime.date(2020, 1, 1)
    out = []
    for i in range(count):
        inst, level = products[i % len(products)]
        day = start + datetime.timedelta(days=i // len(products))
        name = f"imap_{inst}_{level}_sci_{day:%Y%m%d}_v001.0001.cdf"
        out.append(f"imap/{inst}/{level}/{day:%Y}/{day:%m}/{name}")
    return out


class Handler(BaseHTTPRequestHandler):
    """/download/<key> -> 302 to /o/<key>; /o/<key> -> one byte."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/download/"):
            location = f"http://{self.headers['Host']}/o/{self.path[len('/download/') :]}"
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/o/"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.send_header("ETag", ETAG)
            self.end_headers()
            self.wfile.write(BODY)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve(port_file: str) -> None:
    """The fake SDC's process: write the port, serve until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def run_imap(url: str, data: Path, keys: Path, jobs: int) -> tuple[int, float, float, str]:
    """(exit code, seconds, peak RSS in MiB, stderr's last line) of one `imap download`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAP_")}
    env.update(IMAP_DATA_ACCESS_URL=url, IMAP_DATA_DIR=str(data), IMAP_CLI_CONFIG=str(data / "c"))
    started = time.perf_counter()
    with open(keys) as stdin:
        proc = subprocess.Popen(
            [sys.executable, "-m", "imap_cli", "download", "-j", str(jobs), "-"],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        # Only the last lines matter (the summary); read as it comes so the pipe never fills.
        tail = b""
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip():
                tail = line
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    return os.waitstatus_to_exitcode(status), seconds, usage.ru_maxrss / 1024, tail.decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the fake SDC's own process
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-mem-", dir=os.environ.get("BENCH_TMP")))
    port_file = work / "port"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    try:
        while not port_file.exists() or not port_file.read_text():
            if server.poll() is not None:
                print("the fake SDC did not start")
                return 2
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        keys = work / "keys.txt"
        keys.write_text("".join(k + "\n" for k in keys_for(args.files)))
        small = max(1, args.files // 10)
        (work / "small.txt").write_text("".join(k + "\n" for k in keys_for(small)))
        rows = []
        for count, listing in ((small, work / "small.txt"), (args.files, keys)):
            data = work / f"data-{count}"
            code, seconds, peak, tail = run_imap(url, data, listing, args.jobs)
            got = sum(1 for _ in data.rglob("*.cdf"))
            rows.append((count, code, seconds, peak, got, tail.strip()))
            shutil.rmtree(data, ignore_errors=True)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'files':>8} {'exit':>4} {'time':>8} {'files/s':>8} {'peak RSS':>9}  summary")
    for count, code, seconds, peak, _got, tail in rows:
        print(
            f"{count:>8,} {code:>4} {seconds:>7.1f}s {count / seconds:>8.0f} {peak:>7.1f} MiB"
            f"  {tail[:70]}"
        )
    count, code, _, peak, got, _ = rows[-1]
    ok = code == 0 and got == count and peak <= TARGET_MIB
    print(
        f"target: peak RSS <= {TARGET_MIB} MiB at {count:,} files, every file present: "
        f"{'met' if ok else 'MISSED'} ({peak:.1f} MiB, {got:,} files; "
        f"growth {rows[-1][3] - rows[0][3]:+.1f} MiB from {rows[0][0]:,} files)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
