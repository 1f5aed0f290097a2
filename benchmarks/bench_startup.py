"""Start-up time: a TAB and `imap --help` against the official client's `imap-data-access -h`.

    python benchmarks/bench_startup.py            # 21 rounds
    python benchmarks/bench_startup.py --runs 51

Every TAB runs `imap` again, so a completion request must feel instant. The commands run in
turn, round after round, so a busy machine slows them all alike; the figures are medians of
wall time per process, and ratios against the official client measured in the same run.
Targets (issue 7): completion <= 0.6x, `imap --help` <= 1.0x.

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
import time
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


TARGETS = {"TAB: imap query --instrument s": 0.6, "imap --help": 1.0}


def measure(runs: int, base: dict[str, str]) -> dict[str, float]:
    """Median wall seconds per case, the cases interleaved round by round."""
    plan = cases(base)
    times: dict[str, list[float]] = {name: [] for name in plan}
    for round_ in range(runs + 1):
        for name, (argv, env) in plan.items():
            start = time.perf_counter()
            done = subprocess.run(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
            )
            elapsed = time.perf_counter() - start
            if done.returncode != 0:
                sys.exit(f"{name} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
            if round_:  # the first round warms the disk cache and .pyc files
                times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


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
    print(f"median wall time of {args.runs} runs each; ratio against {reference_name}")
    over = 0
    for name, seconds in medians.items():
        ratio = seconds / reference
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            ok = ratio <= target
            over += not ok
            verdict = f"  target <= {target:.1f}x: {'ok' if ok else 'OVER'}"
        print(f"{name:40} {seconds * 1000:7.1f} ms  {ratio:5.2f}x{verdict}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
