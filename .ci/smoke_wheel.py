"""Smoke test of an installed wheel, as a new user meets it: run by .ci/run with the Python of a
fresh virtual environment into which only the built wheel was installed (not editable).

    python .ci/smoke_wheel.py            # from anywhere; `imap` is taken beside this Python

Checks: `imap --version`; `imap serve --demo` answering `imap query`; a download from it; TAB
completion for bash (through the real script in bash), zsh and fish, including recent query
results, without importing typer, click or rich. Prints one line per check; exits 1 on the
first failure.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent
IMAP = str(BIN / "imap")


def fail(message: str) -> None:
    print(f"smoke: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def ok(message: str) -> None:
    print(f"smoke: ok: {message}")


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [IMAP, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        fail(f"imap {' '.join(args)} exited {done.returncode}: {done.stderr[-800:]}")
    return done


def tab(env: dict[str, str], cwd: Path, **request: str) -> str:
    done = subprocess.run(
        [IMAP], env={**env, **request}, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0 or done.stderr:
        fail(f"completion {request} exited {done.returncode}: {done.stderr[-800:]}")
    return done.stdout


def start_demo(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [IMAP, "serve", "--demo", "--port", "0"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in server.stdout or ():
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line.startswith("Serving ") and " at http://" in line:
            return server, line.rsplit(" at ", 1)[1].strip()
    server.kill()
    fail("imap serve --demo did not say where it serves within 60 s")
    raise AssertionError  # not reached


def main() -> int:
    import imap_cli

    work = Path(tempfile.mkdtemp(prefix="imap-smoke-"))
    try:
        return check(work, imap_cli.__version__, Path(imap_cli.__file__))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check(work: Path, version: str, package: Path) -> int:
    if BIN.parent not in package.parents:
        fail(f"imap_cli comes from {package}, not from this environment ({BIN.parent})")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAP_", "_IMAP", "PYTHON"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(work / "home"),
        XDG_CONFIG_HOME=str(work / "config"),
        XDG_CACHE_HOME=str(work / "cache"),
        XDG_DATA_HOME=str(work / "share"),
        IMAP_DATA_DIR=str(work / "data"),
    )
    got = run("--version", env=env, cwd=work).stdout
    if got != f"imap-sdc-cli {version}\n":
        fail(f"imap --version printed {got!r}")
    ok(f"imap --version: {got.strip()} (from {package.parent})")

    server, url = start_demo(env, work)
    try:
        env["IMAP_DATA_ACCESS_URL"] = url
        keys = run("query", "--instrument", "mag", "-o", "paths", env=env, cwd=work).stdout.split()
        if not keys or not all(key.startswith("imap/mag/") for key in keys):
            fail(f"imap query against the demo gave {keys[:3]}")
        ok(f"imap serve --demo at {url} answered imap query: {len(keys)} MAG files")
        run("download", keys[0], env=env, cwd=work)
        local = work / "data" / keys[0]
        if not local.is_file() or local.stat().st_size == 0:
            fail(f"imap download {keys[0]} left no file at {local}")
        ok(f"imap download: {local.relative_to(work)} ({local.stat().st_size} bytes)")
    finally:
        server.terminate()
        server.wait(timeout=30)

    line = "imap query --instrument s"
    expected = "spacecraft\nswapi\nswe\n"
    got = tab(env, work, _IMAP_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD="3")
    if got != expected:
        fail(f"bash protocol: {got!r}")
    zsh = tab(env, work, _IMAP_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS=line)
    if zsh != """_arguments '*: :(("spacecraft"\n"swapi"\n"swe"))'\n""":
        fail(f"zsh protocol: {zsh!r}")
    fish = tab(
        env,
        work,
        _IMAP_COMPLETE="complete_fish",
        _TYPER_COMPLETE_ARGS=line,
        _TYPER_COMPLETE_FISH_ACTION="get-args",
    )
    if fish != expected:
        fail(f"fish protocol: {fish!r}")
    name = keys[0].rsplit("/", 1)[1]
    words = f"imap download {name}"
    recent = tab(env, work, _IMAP_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD="2")
    if recent != f"{name}\n":
        fail(f"recent query results for imap download: {recent!r}")
    ok("completion answers bash, zsh and fish, and offers recent query results")

    bash = shutil.which("bash")
    if bash:
        script = run("--show-completion", "bash", env=env, cwd=work).stdout
        (work / "imap.bash").write_text(script)
        program = (
            f"source {work / 'imap.bash'}; COMP_WORDS=(imap query --instrument s); COMP_CWORD=3; "
            '_imap_completion imap; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(
            [bash, "--norc", "--noprofile", "-c", program],
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.stdout != expected:
            fail(f"bash's _imap_completion gave {done.stdout!r} {done.stderr!r}")
        ok("bash: the script from imap --show-completion bash completes through the wheel's imap")

    probe = subprocess.run(
        [sys.executable, "-X", "importtime", IMAP],
        env={**env, "_IMAP_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": "3"},
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
    )
    heavy = sorted(
        {
            row.rsplit("|", 1)[-1].strip().split(".")[0]
            for row in probe.stderr.splitlines()
            if row.startswith("import time:")
        }
        & {"typer", "click", "rich", "pydantic"}
    )
    if probe.stdout != expected or heavy:
        fail(f"a TAB imported {heavy} (answer {probe.stdout!r})")
    ok("a TAB imports neither typer, click, rich nor pydantic")
    return 0


if __name__ == "__main__":
    sys.exit(main())
