"""The README's examples, run against `imap serve --demo` as a newcomer would paste them.

Every ```bash and ```python block runs; an HTML comment right above a block can say, as
`<!-- readme-test: DIRECTIVE; DIRECTIVE -->`:
- `skip (why)`: not run;
- `api-key`: against a demo server started with `--api-key`, with IMAP_API_KEY set (the
  operations sections say the reader needs that);
- `may-fail: TEXT`: a command containing TEXT may exit non-zero (an example of a failure);
- `setup: COMMANDS` (last): bash COMMANDS run first, for files an example needs that the README
  asks the reader to bring.
Port 8765, the README's port for the demo server, becomes a free port. The quick start's install
step is left out: the test runs in its own environment, where `imap` is installed already.
A server an example starts with `imap serve --background` outlives the block: after each block
the test stops every one left recorded (`imap serve --stop --port N`) and checks it has gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from background_servers import gone, records, terminate

from imap_cli.server import start_server

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(
    r"(?:<!--\s*readme-test:\s*(?P<marker>.*?)\s*-->\s*\n)?```(?P<lang>bash|python)\n(?P<body>.*?)```",
    re.S,
)
FAILED = "README-EXAMPLE-FAILED: "
INSTALL = re.compile(r"^python3 -m venv .*?pip install (?:-e )?\. \\\n\s*&& ", re.S)


def blocks() -> list[tuple[int, str, str, str]]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("body"))
        found.append((line, match["lang"], match["marker"] or "", match["body"]))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_readme_names_no_file_outside_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    assert "SDC-PROTOCOL" not in text and "shared/" not in text
    assert len(blocks()) >= 8


@pytest.mark.parametrize(
    ("line", "lang", "marker", "body"), blocks(), ids=[f"line{b[0]}" for b in blocks()]
)
def directives(marker: str) -> dict[str, str]:
    """`api-key; may-fail: X; setup: A; B` -> {"api-key": "", "may-fail": "X", "setup": "A; B"}."""
    head, _, setup = marker.partition("setup:")
    found = {"setup": setup.strip()} if setup.strip() else {}
    for part in head.split(";"):
        name, _, value = part.strip().partition(":")
        if name.strip():
            found[name.strip().split(" ")[0]] = value.strip()
    return found


def test_directives_are_read() -> None:
    assert directives("api-key; may-fail: --x; setup: a; b") == {
        "api-key": "",
        "may-fail": "--x",
        "setup": "a; b",
    }
    assert "skip" in directives("skip (a server runs until Ctrl-C)")


@pytest.mark.parametrize(
    ("line", "lang", "marker", "body"), blocks(), ids=[f"line{b[0]}" for b in blocks()]
)
def test_readme_example_runs_against_the_demo(
    sdc_env, demo_root: Path, tmp_path: Path, line: int, lang: str, marker: str, body: str
) -> None:
    wanted = directives(marker)
    if "skip" in wanted:
        pytest.skip(f"README line {line}: {marker}")
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),  # nothing an example writes reaches the real home
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "IMAP_DATA_ACCESS_URL": sdc_env.url,
    }
    env.pop("XDG_STATE_HOME", None)  # background servers' records and logs: in HOME too
    with contextlib.ExitStack() as stack:
        if "api-key" in wanted:
            keyed = stack.enter_context(start_server(demo_root, api_key="K", rescan_interval=0))
            env.update(IMAP_DATA_ACCESS_URL=keyed.url, IMAP_API_KEY="K")
        url = env["IMAP_DATA_ACCESS_URL"]
        try:
            done = run_block(lang, body.replace("8765", str(port)), wanted, work, env, url, port)
        finally:
            left = stop_background_servers(env, work)
    if re.search(r"imap serve .*--port 8765 .*--background", body):
        # the quick start: its server ran in the background until the end of the block
        assert port in left, f"README line {line}: no background server on port {port}"
    failed = [x[len(FAILED) :] for x in done.stderr.splitlines() if x.startswith(FAILED)]
    allowed = wanted.get("may-fail")
    unexpected = [c for c in failed if not (allowed and allowed in c)]
    assert done.returncode == 0 and not unexpected, (
        f"README line {line}: {unexpected}\n{body}\n--- stderr:\n{done.stderr[-3000:]}"
    )
    assert "Traceback" not in done.stderr
    if not failed:
        assert "Error:" not in done.stderr, done.stderr
    # an example whose names are not in the demo finds nothing, and says so (exit 0)
    assert "No files in the" not in done.stderr, f"README line {line}: {done.stderr}"


def stop_background_servers(env: dict[str, str], work: Path) -> list[int]:
    """Stop every server left in the background, as the README says (`imap serve --stop`);
    check each has gone. Returns their ports."""
    left = records(env)
    try:
        for port, record in left.items():
            done = subprocess.run(
                ["imap", "serve", "--stop", "--port", str(port)],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert f"Stopped the server at {record['url']} (pid {record['pid']})." in done.stderr
            assert gone(record["pid"])
    finally:
        for record in left.values():  # whatever failed above, no server outlives the test
            terminate(record["pid"])
    return list(left)


def run_block(
    lang: str, body: str, wanted: dict, work: Path, env: dict, url: str, port: int
) -> subprocess.CompletedProcess:
    """Run one example block in `work`; a failing bash command is named on stderr."""
    setup = wanted.get("setup", "")
    if setup:
        subprocess.run(["bash", "-c", setup], cwd=work, env=env, check=True, timeout=60)
    if INSTALL.search(body):  # the quick start: its own demo server, on the free port
        body = INSTALL.sub("", body)
        env = {k: v for k, v in env.items() if k != "IMAP_DATA_ACCESS_URL"}
    if lang == "python":
        command = [sys.executable, "-c", body.replace(f"http://127.0.0.1:{port}", url)]
    else:
        # Every command runs (a failure is named, then checked); shell jobs end with the script
        # (a server started with --background is not one: the caller stops it).
        script = (
            "set -o pipefail\n"
            f"trap 'echo \"{FAILED}$BASH_COMMAND\" >&2' ERR\n"
            "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
        )
        command = ["bash", "-c", script + body]
    return subprocess.run(
        command, cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_quick_start_uses_an_absolute_data_dir_and_says_what_to_delete() -> None:
    text = README.read_text(encoding="utf-8")
    quick = next(body for _line, _lang, _marker, body in blocks() if INSTALL.search(body))
    assert 'IMAP_DATA_DIR="$PWD/imap-data"' in quick and "=./" not in quick
    made = ["imap-data", "imap-serve.log"]
    assert f"rm -rf {' '.join(made)}" in text
    ignored = (README.parent / ".gitignore").read_text(encoding="utf-8").split()
    assert all(f"/{name}" in ignored or f"/{name}/" in ignored for name in made)


def test_the_python_example_writes_files_where_imap_serve_expects_them(
    sdc_env, tmp_path: Path
) -> None:
    from imap_cli.core.naming import parse

    (_line, lang, marker, body) = next(b for b in blocks() if "imap_cli.upload(mine)" in b[3])
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "HOME": str(tmp_path / "home"), "IMAP_DATA_ACCESS_URL": sdc_env.url}
    done = run_block(lang, body, directives(marker), work, env, sdc_env.url, 8765)
    assert done.returncode == 0, done.stderr
    files = [p for p in sdc_env.data_dir.rglob("imap_*") if p.is_file()]
    assert any("20251201" in p.name for p in files)
    for path in files:  # each file in the folder its name says (the SDC key)
        assert path.relative_to(sdc_env.data_dir).as_posix() == parse(path.name).key
