"""One 1 GiB file from nginx on 127.0.0.1: `imap download` vs `curl -o FILE URL && sync FILE`.

Starts Debian's nginx (installed with apt-get if missing) on a free port with a temporary
config, and a tiny SDC stub whose /download/<key> answers 302 to the nginx URL, as the SDC
does to S3. Prints wall time and peak RSS of each tool and the ratios to curl; the targets are
imap <= 1.15x curl's wall time and <= 100 MiB RSS. The official client (imap-data-access) is
measured too, for reference (it holds the whole file in memory).

    python benchmarks/bench_download_large.py [--size-mib 1024] [--runs 3] [--skip-official]

The helpers here (nginx, the SDC stub, measuring a child) are shared with
bench_download_many.py.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

KEY = "imap/mag/l1a/2025/01/imap_mag_l1a_norm-mago_20250101_v001.0001.cdf"
IMAP = [sys.executable, "-m", "imap_cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def nginx_binary() -> str:
    """Debian's nginx, installed with apt-get when missing."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if found:
        return found
    print("installing nginx with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=True, env=env)
    return shutil.which("nginx") or "/usr/sbin/nginx"


@contextlib.contextmanager
def nginx(root: Path) -> Iterator[str]:
    """nginx serving `root` on a free loopback port; yields its base URL."""
    binary = nginx_binary()
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    user = "user root;" if os.geteuid() == 0 else ""
    temp = " ".join(
        f"{kind}_temp_path {work}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (work / "nginx.conf").write_text(
        f"""{user}
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    {temp}
    server {{ listen 127.0.0.1:{port}; root {root}; location / {{ }} }}
}}
"""
    )
    proc = subprocess.Popen(
        [binary, "-c", str(work / "nginx.conf"), "-p", str(work)], stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def sdc_stub(objects_url: str, latency: float = 0.0) -> Iterator[str]:
    """An SDC whose /download/<key> waits `latency` s, then 302s to `<objects_url>/<key>`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if not path.startswith("/download/"):
                self.send_error(404)
                return
            time.sleep(latency)
            location = f"{objects_url}/{path[len('/download/') :]}"
            body = json.dumps({"download_url": location}).encode()
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


_MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
# the command's own stdout (imap download prints the local paths) is not ours to parse
code = subprocess.run(
    sys.argv[1:], stdin=subprocess.DEVNULL if len(sys.argv) else None, stdout=subprocess.DEVNULL
).returncode
wall = time.perf_counter() - start
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def measure(
    cmd: list[str], env: dict[str, str] | None = None, stdin: str | None = None
) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB of the largest process) of one command, in a fresh parent."""
    if stdin is not None:
        cmd = ["sh", "-c", 'exec "$@" < "$0"', stdin, *cmd]
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    wall, rss_kib, code = out.stdout.split()
    if code != "0":
        raise RuntimeError(f"{cmd[:3]}... exited {code}")
    return float(wall), int(rss_kib) / 1024


def make_file(path: Path, size: int) -> None:
    """A file of pseudo-random bytes (1 MiB pattern repeated), in the page cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for _ in range(size // len(block)):
            handle.write(block)
        handle.write(block[: size % len(block)])


def clean_env(data_dir: Path, url: str) -> dict[str, str]:
    """Settings for a child `imap` or official client: no config, no credentials."""
    return {
        "IMAP_DATA_DIR": str(data_dir),
        "IMAP_DATA_ACCESS_URL": url,
        "IMAP_CLI_CONFIG": str(data_dir.parent / "no-config.toml"),
        "IMAP_API_KEY": "",
        "IMAP_ACCESS_TOKEN": "",
    }


def row(name: str, walls: list[float], rss: list[float], base: float | None) -> str:
    wall = statistics.median(walls)
    ratio = f"{wall / base:5.2f}x" if base else "   --"
    runs = ", ".join(f"{w:.2f}" for w in walls)
    return f"{name:<34} {wall:8.3f} s  {ratio}   {max(rss):7.1f} MiB   (runs: {runs})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-official", action="store_true")
    args = parser.parse_args()
    size = args.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="bench-large-", dir=os.environ.get("BENCH_TMP")))
    try:
        root = work / "objects"
        make_file(root / KEY, size)
        with nginx(root) as objects, sdc_stub(objects) as sdc:
            url = f"{objects}/{KEY}"
            results: dict[str, tuple[list[float], list[float]]] = {}
            tools = ["curl -o FILE URL && sync FILE", "imap download"]
            if not args.skip_official:
                tools.append("official imap_data_access.download")
            for tool in tools:
                results[tool] = ([], [])
            for run in range(args.runs):
                for tool in tools:
                    data = work / f"data-{run}"
                    shutil.rmtree(data, ignore_errors=True)
                    data.mkdir()
                    target = data / KEY
                    if tool.startswith("curl"):
                        target.parent.mkdir(parents=True)
                        cmd = ["sh", "-c", f'curl -s -o "{target}" "{url}" && sync "{target}"']
                        wall, rss = measure(cmd)
                    elif tool == "imap download":
                        wall, rss = measure([*IMAP, "-q", "download", KEY], clean_env(data, sdc))
                    else:
                        code = f"import imap_data_access; imap_data_access.download({KEY!r})"
                        wall, rss = measure([sys.executable, "-c", code], clean_env(data, sdc))
                    if target.stat().st_size != size:
                        raise RuntimeError(f"{tool}: wrong size {target.stat().st_size}")
                    results[tool][0].append(wall)
                    results[tool][1].append(rss)
                    shutil.rmtree(data, ignore_errors=True)
        curl = statistics.median(results[tools[0]][0])
        print(
            f"\n1 file of {args.size_mib} MiB from nginx on 127.0.0.1 (median of {args.runs} runs)"
        )
        print(f"{'tool':<34} {'wall':>10}  {'ratio':>6}   {'peak RSS':>11}")
        for tool in tools:
            print(row(tool, *results[tool], None if tool == tools[0] else curl))
        imap_wall = statistics.median(results["imap download"][0])
        imap_rss = max(results["imap download"][1])
        ok_time = imap_wall <= 1.15 * curl
        ok_rss = imap_rss <= 100
        print(
            f"\nimap/curl wall: {imap_wall / curl:.2f}x "
            f"(target <= 1.15x: {'ok' if ok_time else 'MISSED'}); "
            f"imap peak RSS {imap_rss:.0f} MiB (target <= 100: {'ok' if ok_rss else 'MISSED'})"
        )
        return 0 if ok_time and ok_rss else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
