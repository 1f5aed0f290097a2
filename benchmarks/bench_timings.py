"""Wall-clock checks kept out of the test suite (a busy CI machine must not fail a test on time).

    python benchmarks/bench_timings.py

1. Parsing 30,000 file names (the valid names of tests/data/imap-filenames.tsv, repeated).
   Target: under 1 s (typically ~0.2 s).
2. `imap serve --latency`: an API call waits the latency (0.3 s here); an object download
   does not. Targets: the API call takes >= 0.3 s, the object GET < 0.3 s.
3. A PUT that stalls mid-body gets the server's RequestTimeout answer after the socket
   timeout (1 s here), not after the client gives up (5 s). Target: under 4 s.
4. Ctrl-C (SIGINT) to `imap download` while bytes trickle in: the process keeps what arrived
   and exits. Target: under 2 s (the tests check that it stops, keeps and resumes).
5. Ctrl-C to `imap upload` while its requests hang on a server that never answers: the
   process exits without waiting for them. Target: under 3 s.

Prints each figure with its target; exits 1 when one is missed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
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
BIG = "imap/mag/l1a/2025/01/imap_mag_l1a_norm-mago_20250101_v001.0001.cdf"


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


def trickle(app: Callable) -> Callable:
    """Object-host middleware: bodies come 4 KiB every 20 ms (about 200 KB/s)."""

    def slowly(environ: dict, start_response: Callable) -> Iterator[bytes]:
        body = app(environ, start_response)
        try:
            for chunk in body:
                for start in range(0, len(chunk), 4096):
                    time.sleep(0.02)
                    yield bytes(chunk[start : start + 4096])
        finally:
            close = getattr(body, "close", None)
            if close:
                close()

    return slowly


def imap_env(folder: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAP_")}
    env.update(
        IMAP_DATA_ACCESS_URL=url,
        IMAP_API_KEY="bench-key-0123456789",
        IMAP_CLI_CONFIG=str(folder / "config.toml"),
        IMAP_DATA_DIR=str(folder / "data"),
        IMAP_TIMEOUT="3600",  # only Ctrl-C can end a stuck request in time
    )
    return env


def sigint_when(args: list[str], env: dict[str, str], ready: Callable[[], bool]) -> float:
    """Start `imap ARGS`, SIGINT it once ready(); seconds from the signal to its exit."""
    proc = subprocess.Popen([sys.executable, "-m", "imap_cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not ready() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not ready() or proc.poll() is not None:
            raise RuntimeError(f"imap {args[0]} never got to the point of the Ctrl-C")
        started = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        return time.perf_counter() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def sigint_download(folder: Path) -> bool:
    root = folder / "trickle"
    path = root.joinpath(*BIG.split("/"))
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(4_000_000))
    data = folder / "data"

    def flowing() -> bool:
        return any(p.stat().st_size >= 200_000 for p in data.rglob("*.part"))

    with start_server(root, objects_middleware=trickle, rescan_interval=None) as server:
        took = sigint_when(["download", BIG], imap_env(folder, server.url), flowing)
    return report("Ctrl-C to exit, download mid-body", took, "< 2.0 s", took < 2.0)


def sigint_upload(folder: Path) -> bool:
    path = folder / BIG.rsplit("/", 1)[1]
    path.write_bytes(os.urandom(200_000))
    accepted = threading.Event()
    held: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def accept() -> None:  # a server that never answers
            with contextlib.suppress(OSError):
                while True:
                    held.append(listener.accept()[0])
                    accepted.set()

        threading.Thread(target=accept, daemon=True).start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        took = sigint_when(["upload", str(path)], imap_env(folder, url), accepted.is_set)
    for conn in held:
        conn.close()
    return report("Ctrl-C to exit, upload request hanging", took, "< 3.0 s", took < 3.0)


def main() -> int:
    results = [parse_30000()]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "archive"
        build_demo(root)
        results.append(serve_latency(root))
        results.append(stalled_put(root))
        results.append(sigint_download(Path(folder)))
        results.append(sigint_upload(Path(folder)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
