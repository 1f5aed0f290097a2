"""Benchmark `imap serve`: /query with 30,000 rows, and a 1 GiB download with curl vs nginx.

    python benchmarks/bench_serve.py            # both parts
    python benchmarks/bench_serve.py --query    # only the /query part
    python benchmarks/bench_serve.py --download # only the 1 GiB part

Part 1 builds an archive of 30,000 empty science files, times the scan, then times
GET /query answering all 30,000 rows (body fully received; and with JSON parsing), with the
default version ranking and with latest=true. Target: under 1 s.

Part 2 writes a 1 GiB file (in /tmp, deleted at the end), serves it with `imap serve` (a child
process) and with nginx (installed with apt-get if missing; sendfile on, then off with 1 MiB
output buffers), and downloads it with curl to /dev/null, best of 3. It prints throughputs, the
ratio to the faster nginx (target >= 0.5), the time of the first HEAD (which computes the MD5
for the ETag), and the server's RSS and peak RSS (VmRSS/VmHWM from /proc) before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROWS = 30_000
GIB = 1024**3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


# --- part 1: /query with 30,000 rows ------------------------------------------------------


def build_rows_archive(root: Path) -> int:
    from imap_cli.core.naming import parse

    combos = [
        ("mag", "l1a", "norm-mago"),
        ("mag", "l1a", "norm-magi"),
        ("mag", "l1b", "norm-mago"),
        ("swe", "l1a", "sci"),
        ("hit", "l1a", "pulse-height-events"),
        ("codice", "l1a", "hi-counters-aggregated"),
        ("lo", "l1a", "histogram"),
        ("glows", "l1a", "hist"),
        ("idex", "l1a", "sci"),
        ("ultra", "l1a", "45sensor-de"),
    ]
    import datetime as dt

    start = dt.date(2025, 1, 1)
    count = 0
    for day in range(1000):
        date = (start + dt.timedelta(days=day)).strftime("%Y%m%d")
        for instrument, level, descriptor in combos:
            for minor in range(3):
                if count >= ROWS:
                    return count
                name = f"imap_{instrument}_{level}_{descriptor}_{date}_v001.{minor:04d}.cdf"
                path = root / parse(name).key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
                count += 1
    return count


def bench_query() -> None:
    from imap_cli.server import start_server

    with tempfile.TemporaryDirectory(prefix="imap-bench-query-") as tmp:
        root = Path(tmp)
        began = time.perf_counter()
        count = build_rows_archive(root)
        print(f"archive: {count} empty files written in {time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        with start_server(root, rescan_interval=None) as server:
            print(
                f"scan + start: {time.perf_counter() - began:.2f} s ({len(server.catalogue)} rows)"
            )
            for label, params in (
                ("default ranking", {"table": "science", "start_date": "20000101"}),
                ("latest=true", {"table": "science", "start_date": "20000101", "latest": "true"}),
            ):
                transfer, parsed, size, rows = [], [], 0, 0
                for _ in range(5):
                    t0 = time.perf_counter()
                    response = requests.get(f"{server.url}/query", params=params)
                    body = response.content
                    t1 = time.perf_counter()
                    rows = len(json.loads(body))
                    t2 = time.perf_counter()
                    transfer.append(t1 - t0)
                    parsed.append(t2 - t0)
                    size = len(body)
                print(
                    f"/query {label}: {rows} rows, {size / 1e6:.1f} MB: median "
                    f"{statistics.median(transfer) * 1000:.0f} ms received, "
                    f"{statistics.median(parsed) * 1000:.0f} ms with json.loads "
                    f"(target < 1000 ms)"
                )


# --- part 2: 1 GiB through the object host vs nginx --------------------------------------


def curl(url: str) -> float:
    """Seconds for curl to fetch url to /dev/null."""
    out = subprocess.run(
        ["curl", "-s", "-f", "-o", "/dev/null", "-w", "%{time_total} %{size_download}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if int(float(out[1])) != GIB:
        raise RuntimeError(f"curl got {out[1]} bytes")
    return float(out[0])


def best_of(url: str, runs: int = 3) -> float:
    return min(curl(url) for _ in range(runs))


def ensure_nginx() -> str | None:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    print("nginx not found: installing Debian's nginx with apt-get ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=False, env=env)
    if not Path("/usr/sbin/nginx").exists():
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], check=False, env=env)
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


def start_nginx(nginx: str, root: Path, work: Path, port: int, sendfile: bool) -> subprocess.Popen:
    conf = work / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
master_process off;
worker_processes 1;
user root;
error_log stderr warn;
pid {work}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile {"on" if sendfile else "off"};
    tcp_nopush on;
    output_buffers 2 1m;
    sendfile_max_chunk 0;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""
    )
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)])
    wait_port(port)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_download() -> None:
    from imap_cli.core.naming import parse

    if not shutil.which("curl"):
        print("curl not found: skipping the download benchmark")
        return
    work = Path(tempfile.mkdtemp(prefix="imap-bench-serve-", dir="/tmp"))
    procs: list[subprocess.Popen] = []
    try:
        root = work / "root"
        key = parse("imap_mag_l1a_norm-mago_20251001_v001.0000.cdf").key
        path = root / key
        path.parent.mkdir(parents=True)
        began = time.perf_counter()
        with open(path, "wb") as handle:
            block = os.urandom(64 * 1024 * 1024)
            for _ in range(16):
                handle.write(block)
        print(f"1 GiB file written in {time.perf_counter() - began:.1f} s: {path}")
        results: dict[str, float] = {}

        def measure(label: str, proc: subprocess.Popen, api: str) -> None:
            location = requests.get(f"{api}/download/{key}", allow_redirects=False).headers[
                "Location"
            ]
            before = rss_kib(proc.pid)
            t0 = time.perf_counter()
            requests.head(location)  # first touch: the MD5 for the ETag is computed here
            cold = time.perf_counter() - t0
            seconds = best_of(location)
            after = rss_kib(proc.pid)
            results[label] = GIB / seconds
            print(
                f"{label}: {GIB / seconds / 1e6:,.0f} MB/s (best of 3, {seconds:.2f} s); "
                f"first HEAD (MD5) {cold:.2f} s; RSS {before[0] // 1024} -> "
                f"{after[0] // 1024} MiB, peak {before[1] // 1024} -> {after[1] // 1024} MiB"
            )

        api_port, objects_port = free_port(), free_port()
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "imap_cli",
                "serve",
                str(root),
                "--port",
                str(api_port),
                "--objects-port",
                str(objects_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(serve)
        wait_port(api_port)
        measure("imap serve", serve, f"http://127.0.0.1:{api_port}")
        stop(serve)

        nginx = ensure_nginx()
        if nginx is None:
            print("nginx could not be installed: no comparison")
            return
        for sendfile in (True, False):
            port = free_port()
            proc = start_nginx(nginx, root, work, port, sendfile)
            procs.append(proc)
            seconds = best_of(f"http://127.0.0.1:{port}/{key}")
            label = f"nginx (sendfile {'on' if sendfile else 'off'})"
            results[label] = GIB / seconds
            print(f"{label}: {GIB / seconds / 1e6:,.0f} MB/s (best of 3, {seconds:.2f} s)")
            stop(proc)
        best_nginx = max(v for k, v in results.items() if k.startswith("nginx"))
        print(f"imap serve / best nginx = {results['imap serve'] / best_nginx:.2f} (target >= 0.5)")
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--query", action="store_true", help="only the /query part")
    parser.add_argument("--download", action="store_true", help="only the 1 GiB part")
    args = parser.parse_args()
    both = not (args.query or args.download)
    if args.query or both:
        bench_query()
    if args.download or both:
        bench_download()


if __name__ == "__main__":
    main()
