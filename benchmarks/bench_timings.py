"""Wall-clock checks kept out of the test suite (a busy CI machine must not fail a test on time).

    python benchmarks/bench_timings.py

1. Parsing 30,000 file names (the valid names of tests/data/imap-filenames.tsv, repeated).
   Target: under 1 s (typically ~0.2 s).
2. `imap serve --latency`: an API call waits the latency (0.3 s here); an object download
   does not. Targets: the API call takes >= 0.3 s, the object GET < 0.3 s.
3. A PUT that stalls mid-body gets the server's RequestTimeout answer after the socket
   timeout (1 s here), not after the client gives up (5 s). Target: under 4 s.

Prints each figure with its target; exits 1 when one is missed.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests

from imap_cli.core.naming import InvalidName, parse
from imap_cli.server import start_server
from imap_cli.server.demo import build_demo

TSV = Path(__file__).resolve().parents[1] / "tests" / "data" / "imap-filenames.tsv"
LATENCY = 0.3
NAME = "imap_mag_l1a_norm-mago_20251001_v001.0000.cdf"  # in the demo archive
NEW = "imap_swe_l1a_sci_20251230_v001.0000.cdf"  # not in it


def report(what: str, seconds: float, target: str, met: bool) -> bool:
    verdict = "ok" if met else "MISSED"
    print(f"{what:<44} {seconds:8.3f} s   target {target:<10} {verdict}")
    return met


def valid_names() -> list[str]:
    lines = TSV.read_text(encoding="utf-8").split("\n")[1:]
    rows = [line.split("\t") for line in lines if line != ""]
    return [row[0] for row in rows if row[1] == "valid"]


def parse_30000() -> bool:
    base = valid_names()
    names = (base * (30000 // len(base) + 1))[:30000]
    started = time.perf_counter()
    for name in names:
        with contextlib.suppress(InvalidName):
            parse(name)
    took = time.perf_counter() - started
    return report("parse 30,000 names", took, "< 1.0 s", took < 1.0)


def timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def serve_latency(root: Path) -> bool:
    key = parse(NAME).key
    with start_server(root, latency=LATENCY) as server:
        api, answer = timed(
            lambda: requests.get(f"{server.url}/download/{key}", allow_redirects=False)
        )
        location = answer.headers["Location"]  # type: ignore[attr-defined]
        objects, _ = timed(lambda: requests.get(location))
    met = report("serve --latency 0.3: API call", api, ">= 0.3 s", api >= LATENCY)
    return report("serve --latency 0.3: object GET", objects, "< 0.3 s", objects < LATENCY) and met


def stalled_put(root: Path) -> bool:
    with start_server(root, rescan_interval=0, socket_timeout=1.0) as server:
        url = requests.get(f"{server.url}/upload/{NEW}", timeout=5).json()
        parts = urlsplit(url)
        head = (
            f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Length: 100\r\n\r\n"
        )
        started = time.perf_counter()
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
            sock.sendall(head.encode() + b"x" * 10)  # 10 of 100 bytes, then silence
            answer = b""
            with contextlib.suppress(ConnectionResetError, TimeoutError):
                while chunk := sock.recv(65536):
                    answer += chunk
        took = time.perf_counter() - started
    if b"<Code>RequestTimeout</Code>" not in answer:
        print(f"stalled PUT: no RequestTimeout answer: {answer[:200]!r}")
        return False
    return report("stalled PUT answered RequestTimeout", took, "< 4 s", took < 4)


def main() -> int:
    results = [parse_30000()]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "archive"
        build_demo(root)
        results.append(serve_latency(root))
        results.append(stalled_put(root))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
