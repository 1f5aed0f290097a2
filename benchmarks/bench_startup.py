"""Start-up time: a TAB, `imap --help`, and each transfer's fixed cost, against the official client.

    python benchmarks/bench_startup.py            # 21 rounds
    python benchmarks/bench_startup.py --runs 51

Every TAB runs `imap` again, so a completion request must feel instant. The commands run in
turn, round after round, so a busy machine slows them all alike; the figures are medians of
wall time per process, and ratios against the official client's `imap-data-access -h` measured
in the same run. Targets (issue 15, with the newest Typer installed): a TAB <= 0.35x,
`imap --help` <= 1.0x. The Typer version in use is printed first.

The fixed cost of `imap query`, `imap download` and `imap upload` is the time from starting
the process to its first request arriving at a local HTTP server started here (which answers
404, so nothing is transferred); the official client's `query`, `download` and `upload` are
measured the same way, and reported beside them (no target).

Python caches compiled modules (.pyc) as users' installs do, in a temporary folder
(PYTHONPYCACHEPREFIX), even where PYTHONDONTWRITEBYTECODE is set: without the cache every
module of an editable install is compiled again on every run, which no user sees.
`--as-is` keeps the environment unchanged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path


def _script(name: str) -> str:
    """A console script of this interpreter's environment (else the one on PATH)."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        sys.exit(f"{name} is not installed in this environment")
    return found


def cases(base: dict[str, str]) -> dict[str, tuple[list[str], dict[str, str]]]:
    """name -> (argv, environment); the first is the reference."""
    imap = _script("imap")

    def bash_tab(words: str) -> dict[str, str]:
        cword = str(len(words.split()) - (0 if words.endswith(" ") else 1))
        return dict(base, _IMAP_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=cword)

    def zsh_tab(line: str) -> dict[str, str]:
        return dict(base, _IMAP_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS=line)

    return {
        "imap-data-access -h": ([_script("imap-data-access"), "-h"], base),
        "TAB: imap query --instrument s": ([imap], bash_tab("imap query --instrument s")),
        "TAB: imap config get d": ([imap], bash_tab("imap config get d")),
        "TAB (zsh, with help): imap query --": ([imap], zsh_tab("imap query --")),
        "imap --help": ([imap, "--help"], base),
        "imap query --help": ([imap, "query", "--help"], base),
    }


TARGETS = {"TAB: imap query --instrument s": 0.35, "imap --help": 1.0}

NAME = "imap_mag_l1a_norm-mago_20251017_v001.cdf"


class FirstRequest(BaseHTTPRequestHandler):
    """Notes when a request arrives, answers 404 (nothing to transfer), keeps quiet."""

    arrived = threading.Event()
    when = 0.0

    def _answer(self) -> None:
        if not FirstRequest.arrived.is_set():
            FirstRequest.when = time.perf_counter()
            FirstRequest.arrived.set()
        body = b'{"message": "Not Found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


def transfer_cases(
    base: dict[str, str], url: str, folder: Path
) -> dict[str, tuple[list[str], dict[str, str]]]:
    """name -> (argv, environment) of commands whose first request is timed."""
    upload = folder / NAME.replace("_v001.", "_v001.0001.")  # new uploads: vMMM.mmmm
    upload.write_bytes(b"x" * 1024)
    env = dict(
        base,
        IMAP_DATA_ACCESS_URL=url,
        IMAP_DATA_DIR=str(folder / "data"),
        IMAP_API_KEY="bench-key",
        IMAP_CLI_CONFIG=str(folder / "none.toml"),
    )
    imap, official = _script("imap"), _script("imap-data-access")
    return {
        "imap query (to first request)": ([imap, "query", "-i", "mag", "-o", "json"], env),
        "imap download (to first request)": ([imap, "download", NAME], env),
        "imap upload (to first request)": ([imap, "upload", str(upload)], env),
        "imap-data-access query (same)": ([official, "query", "--instrument", "mag"], env),
        "imap-data-access download (same)": ([official, "download", NAME], env),
        "imap-data-access upload (same)": ([official, "upload", str(upload)], env),
    }


def _run(name: str, argv: list[str], env: dict[str, str], first_request: bool) -> float:
    FirstRequest.arrived.clear()
    start = time.perf_counter()
    done = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if first_request:
        if not FirstRequest.arrived.wait(10):
            sys.exit(f"{name} sent no request: {done.stderr.decode()[-500:]}")
        return FirstRequest.when - start
    if done.returncode != 0:
        sys.exit(f"{name} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed


def measure(runs: int, base: dict[str, str]) -> dict[str, float]:
    """Median wall seconds per case, the cases interleaved round by round."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FirstRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with tempfile.TemporaryDirectory(prefix="imap-bench-startup-") as folder:
            plan = {name: (*case, False) for name, case in cases(base).items()}
            for name, case in transfer_cases(base, url, Path(folder)).items():
                plan[name] = (*case, True)
            times: dict[str, list[float]] = {name: [] for name in plan}
            for round_ in range(runs + 1):
                for name, (argv, env, first_request) in plan.items():
                    elapsed = _run(name, argv, env, first_request)
                    if round_:  # the first round warms the disk cache and .pyc files
                        times[name].append(elapsed)
    finally:
        server.shutdown()
    return {name: statistics.median(values) for name, values in times.items()}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="rounds (default 21)")
    parser.add_argument("--as-is", action="store_true", help="no .pyc cache set up")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="imap-bench-pycache-") as pycache:
        base = dict(os.environ)
        if not args.as_is:
            base.pop("PYTHONDONTWRITEBYTECODE", None)
            base["PYTHONPYCACHEPREFIX"] = pycache
        medians = measure(args.runs, base)
    reference_name = next(iter(medians))
    reference = medians[reference_name]
    versions = ", ".join(
        f"{name} {_version(name)}" for name in ("typer", "imap-sdc-cli", "imap-data-access")
    )
    print(f"Python {sys.version.split()[0]}; {versions}")
    print(f"median wall time of {args.runs} runs each; ratio against {reference_name}")
    over = 0
    for name, seconds in medians.items():
        ratio = seconds / reference
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            ok = ratio <= target
            over += not ok
            verdict = f"  target <= {target:.2f}x: {'ok' if ok else 'OVER'}"
        print(f"{name:40} {seconds * 1000:7.1f} ms  {ratio:5.2f}x{verdict}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
