"""Run every benchmarks/bench_*.py script, one after another, and list how each ended.

    python benchmarks/run_all.py            # all of them
    python benchmarks/run_all.py -k download  # only scripts whose name contains "download"

Each script prints its own figures and ratios and exits non-zero when it missed a target;
this runner shows their output as it comes and ends with one line per script.
"""

from __future__ import annotations

import argparse
import compileall
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description="Run every benchmarks/bench_*.py script.")
    parser.add_argument("-k", dest="pattern", default="", help="only scripts containing this")
    args = parser.parse_args()
    scripts = sorted(p for p in HERE.glob("bench_*.py") if args.pattern in p.name)
    if not scripts:
        print(f"no benchmarks/bench_*.py matches {args.pattern!r}")
        return 2
    # An installed imap runs from compiled bytecode; a checkout may have none (with
    # PYTHONDONTWRITEBYTECODE set, nothing is ever written), and compiling imap_cli's modules at
    # each start would count against imap in every start-up figure.
    compileall.compile_dir(str(HERE.parent / "imap_cli"), quiet=1)
    outcomes = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(script)]).returncode
        outcomes.append((script.name, code, time.perf_counter() - start))
    print("\n=== summary ===")
    for name, code, elapsed in outcomes:
        verdict = "targets met" if code == 0 else f"exit {code} (a target missed or it failed)"
        print(f"{name:<36} {verdict:<44} {elapsed:7.1f} s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
