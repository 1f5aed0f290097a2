"""Upload a 1 GiB file: peak memory and time of `imap upload` against `curl -T`.

    python benchmarks/bench_upload.py [--size-mib 1024] [--runs 5] [--no-tls] [--no-official]

The target is a minimal sink server on 127.0.0.1, written here with raw sockets so it is never
the bottleneck: `GET /upload/<name>` answers a JSON string URL (as the SDC does) pointing at
`PUT /bucket/<name>?X-Amz-Signature=...` on a second port (the "object host"), which reads and
discards the body in 1 MiB `recv_into` calls and answers 200 (with a `100 Continue` first when
asked, as S3 does: curl asks before large PUTs and otherwise waits a second). The sink checks
that every PUT carried exactly Content-Length bytes and no Transfer-Encoding.

Two kinds of URL, each compared with `curl -T FILE <signed URL>` to the same sink:
  - http://  (what `imap serve` hands out);
  - https:// (what the SDC hands out: S3), with a throw-away self-signed certificate made by the
    openssl command; imap gets it through IMAP_CA_BUNDLE, curl through --cacert.

Each tool runs in a fresh process, curl and imap interleaved (--runs times each) so that load
from other processes hits both alike; the best and median wall times and the peak RSS (wait4's
ru_maxrss) are printed. imap's wall time includes starting Python and importing requests
(about 0.2 s here), which curl does not pay; the transfer alone (GET + PUT, from imap's own
summary line) is printed too. The official client (`imap-data-access upload`), which reads the
whole file into memory, runs once for reference. Pass: imap's peak RSS <= 100 MiB and best
wall time <= 1.2 x curl's, for each kind of URL. The 1 GiB file is deleted after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

NAME = "imap_mag_l1a_norm-mago_20250102_v001.0002.cdf"
MIB = 1 << 20


class Sink:
    """A tiny HTTP/1.1 server: upload-URL answers on one port, PUT sink on another."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        scheme = "https" if tls else "http"
        self.api = self._listen()
        self.objects = self._listen()
        self.api_url = f"{scheme}://127.0.0.1:{self.api.getsockname()[1]}"
        self.objects_url = f"{scheme}://127.0.0.1:{self.objects.getsockname()[1]}"
        self.received: list[tuple[int, int, bool]] = []  # (content-length, bytes, chunked)
        for listener in (self.api, self.objects):
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    @staticmethod
    def _listen() -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        return listener

    def signed_url(self, name: str) -> str:
        return f"{self.objects_url}/bucket/{name}?X-Amz-Expires=3600&X-Amz-Signature=0f1e2d"

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_safely, args=(conn,), daemon=True).start()

    def _serve_safely(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            self._serve(conn)
        except (OSError, ValueError):
            pass  # a client that hung up; the size check in best() catches short bodies
        finally:
            conn.close()

    def _serve(self, conn: socket.socket) -> None:
        buffer = bytearray(MIB)
        view = memoryview(buffer)
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                pending += chunk
            head, _, rest = pending.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])
            }
            length = int(headers.get("content-length", "0"))
            if headers.get("expect", "").lower() == "100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            got = len(rest)
            while got < length:
                n = conn.recv_into(view)
                if not n:
                    return
                got += n
            pending = b""
            if method == "PUT":
                self.received.append((length, got, "transfer-encoding" in headers))
                body = b""
            else:
                body = json.dumps(self.signed_url(target.rsplit("/", 1)[-1])).encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )

    def close(self) -> None:
        self.api.close()
        self.objects.close()


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stderr of one child process; fail on a non-zero exit."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    err = child.stderr.read().decode(errors="replace")  # small; read before wait4
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.stderr.close()
    child.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{argv[0]} failed with exit {code}:\n{err}")
    return elapsed, usage.ru_maxrss / 1024, err  # ru_maxrss is in KiB on Linux


def transfer_seconds(stderr: str) -> float | None:
    """The time in imap's summary: `Uploaded 1 file (1.1 GB) in 0.31 s; ...`."""
    found = re.search(r"Uploaded \d+ files? \([^)]*\) in (\d+(?:\.\d+)?) s", stderr)
    return float(found.group(1)) if found else None


def make_file(folder: Path, size_mib: int) -> Path:
    path = folder / NAME
    block = os.urandom(MIB)
    with path.open("wb") as handle:
        for _ in range(size_mib):
            handle.write(block)
    return path


def make_certificate(folder: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for 127.0.0.1 (cert, key), or None without openssl."""
    if not shutil.which("openssl"):
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def compare(
    label: str, sink: Sink, path: Path, env: dict[str, str], runs: int, cacert: Path | None
) -> bool:
    """Interleaved curl/imap runs against one sink; prints figures, returns pass/fail."""
    size = path.stat().st_size
    curl = ["curl", "-sS", "-f", "-o", "/dev/null", "-T", str(path), sink.signed_url(NAME)]
    if cacert:
        curl[1:1] = ["--cacert", str(cacert)]
    imap = [shutil.which("imap") or "imap", "--url", sink.api_url, "upload", str(path)]
    figures: dict[str, dict[str, list[float]]] = {
        "curl -T": {"wall": [], "rss": []},
        "imap upload": {"wall": [], "rss": [], "transfer": []},
    }
    for _ in range(runs):
        for tool, argv in (("curl -T", curl), ("imap upload", imap)):
            before = len(sink.received)
            wall, rss, err = run(argv, env)
            fresh = sink.received[before:]
            assert fresh and all(c == size and g == size and not ch for c, g, ch in fresh), fresh
            figures[tool]["wall"].append(wall)
            figures[tool]["rss"].append(rss)
            seconds = transfer_seconds(err) if tool == "imap upload" else None
            if seconds is not None:
                figures[tool]["transfer"].append(seconds)
    print(f"\n{label}: {size / MIB:.0f} MiB to {sink.signed_url(NAME).split('?')[0]}")
    for tool, f in figures.items():
        best, median = min(f["wall"]), statistics.median(f["wall"])
        line = (
            f"  {tool:<13} best {best:5.2f} s  median {median:5.2f} s  "
            f"{size / MIB / best:6.0f} MiB/s  peak RSS {max(f['rss']):6.1f} MiB"
        )
        if f.get("transfer"):
            line += f"  (transfer alone: best {min(f['transfer']):.2f} s)"
        print(line)
    curl_best, imap_best = min(figures["curl -T"]["wall"]), min(figures["imap upload"]["wall"])
    ratio = imap_best / curl_best
    median_ratio = statistics.median(figures["imap upload"]["wall"]) / statistics.median(
        figures["curl -T"]["wall"]
    )
    rss = max(figures["imap upload"]["rss"])
    line = f"  imap / curl: {ratio:.2f}x best, {median_ratio:.2f}x median (limit 1.20x)"
    if figures["imap upload"]["transfer"]:
        line += f"; transfer alone {min(figures['imap upload']['transfer']) / curl_best:.2f}x"
    print(line + f"; imap peak RSS {rss:.1f} MiB (limit 100 MiB)", flush=True)
    return ratio <= 1.2 and rss <= 100


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-tls", action="store_true", help="skip the https comparison")
    parser.add_argument("--no-official", action="store_true", help="skip imap-data-access")
    args = parser.parse_args()
    if not shutil.which("curl"):
        raise SystemExit("curl is needed for the comparison")
    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    sinks: list[Sink] = []
    try:
        path = make_file(work, args.size_mib)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("IMAP_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"))
        }
        env["IMAP_CLI_CONFIG"] = str(work / "config.toml")
        env["IMAP_DATA_DIR"] = str(work / "data")
        print(f"imap upload vs curl -T, {os.cpu_count()} cores; curl and imap runs interleaved")
        sinks.append(Sink())
        results = [compare("http", sinks[-1], path, env, args.runs, None)]
        certificate = None if args.no_tls else make_certificate(work)
        if certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            sinks.append(Sink(context))
            tls_env = dict(env, IMAP_CA_BUNDLE=str(certificate[0]))
            results.append(compare("https", sinks[-1], path, tls_env, args.runs, certificate[0]))
        official = shutil.which("imap-data-access")
        if official and not args.no_official:
            argv = [official, "--url", sinks[0].api_url, "upload", str(path)]
            wall, rss, _ = run(argv, env)
            print(f"\nimap-data-access upload (http, once): {wall:.2f} s, peak RSS {rss:.1f} MiB")
        print("\nPASS" if all(results) else "\nFAIL")
        return 0 if all(results) else 1
    finally:
        for sink in sinks:
            sink.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
