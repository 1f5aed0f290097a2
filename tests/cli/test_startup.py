"""What `imap --help` and a TAB import: nothing heavy, and never the network.

Each case runs the `imap` entry point in a fresh interpreter, which then writes the names in
sys.modules to a file; the test reads them. A TAB imports neither typer, click nor rich, nor any
command's module (cli/tab.py answers from cli/completion_spec.py); `--help` may use rich's
console and table (typer's help panels) but not requests, rich.progress, werkzeug or sqlite3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from quiet_http import QuietHTTPServer

from imap_cli.cli.app import COMMANDS

PROBE = """
import atexit, json, sys
atexit.register(lambda: open(sys.argv[1], "w").write(json.dumps(sorted(sys.modules))))
from imap_cli.cli.entry import main
main(sys.argv[2:])
"""

HEAVY = ("requests", "urllib3", "rich.progress", "werkzeug", "sqlite3", "_sqlite3")
# typer.rich_utils imports these only for markup modes and tracebacks we do not use
# (imap_cli/cli/startup.py); rich.syntax pulls in pygments.
HELP_NEVER = (*HEAVY, "rich.markdown", "markdown_it", "rich.traceback", "rich.syntax", "pygments")
# A TAB: no typer, click, rich or pydantic at all, no socket (so no network), no core module
# that talks to the SDC.
TAB_NEVER = (
    *HEAVY,
    "typer",
    "click",
    "rich",
    "pydantic",
    "socket",
    "ssl",
    "imap_cli.cli.app",
    "imap_cli.core.http",
    "imap_cli.core.naming",
)
COMMAND_MODULES = {module for module, _, _ in COMMANDS.values()}


def modules_after(tmp_path: Path, argv: list[str], env: dict[str, str] | None = None) -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *argv],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return set(json.loads(out.read_text()))


def imported(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The names (or their submodules) among `modules`."""
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


SEEN = {"serve", "config"}
HELP_CASES = [
    ["--help"],
    ["-h"],
    ["query", "--help"],
    ["download", "--help"],
    ["upload", "--help"],
    ["serve", "--help"],
    ["config", "--help"],
    ["config", "show", "--help"],
    *([name, "--help"] for name in COMMANDS if name not in {"query", "download", "upload"} | SEEN),
]


@pytest.mark.parametrize("argv", HELP_CASES, ids=" ".join)
def test_help_imports_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    modules = modules_after(tmp_path, argv)
    assert imported(modules, (*HELP_NEVER, *CDF_READERS)) == []


def test_top_level_help_still_renders_with_rich_panels(tmp_path: Path) -> None:
    modules = modules_after(tmp_path, ["--help"])
    assert {"typer.rich_utils", "rich.table", "rich.panel"} <= modules


def bash_tab(line: str) -> dict[str, str]:
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    return {"_IMAP_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword)}


def zsh_tab(line: str) -> dict[str, str]:
    return {"_IMAP_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line}


def fish_tab(line: str) -> dict[str, str]:
    return {
        "_IMAP_COMPLETE": "complete_fish",
        "_TYPER_COMPLETE_ARGS": line,
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
    }


TAB_CASES = {
    "bash: query --instrument s": (bash_tab("imap query --instrument s"), "spacecraft"),
    "zsh: query -- (options with help)": (zsh_tab("imap query --"), '"--instrument":"'),
    "fish: query --data-l (options with help)": (fish_tab("imap query --data-l"), "--data-level\t"),
    "bash: config get d": (bash_tab("imap config get d"), "data-dir"),
    "bash: download imap_ (recent query results)": (bash_tab("imap download imap_"), ""),
    "bash: upload (local files)": (bash_tab("imap upload "), ""),
}


@pytest.mark.parametrize("case", list(TAB_CASES))
def test_a_tab_imports_no_command_and_nothing_heavy(case: str, tmp_path: Path) -> None:
    env, answer = TAB_CASES[case]
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert answer in done.stdout  # it did answer
    modules = set(json.loads(out.read_text()))
    assert imported(modules, TAB_NEVER) == []
    assert modules & COMMAND_MODULES == set()
    assert "imap_cli.cli.completion_spec" in modules


def test_help_stand_ins_give_the_real_rich_classes(tmp_path: Path) -> None:
    """If typer ever renders markdown or a rich traceback, it gets the real thing."""
    code = """
import sys
from imap_cli.cli.startup import install_light_help
install_light_help()
import typer.rich_utils as typer_help
assert "rich.markdown" not in sys.modules and "rich.traceback" not in sys.modules
import rich.markdown, rich.traceback
assert isinstance(typer_help._make_rich_text(text="**x**", markup_mode="markdown"),
                  rich.markdown.Markdown)
try:
    1 / 0
except ZeroDivisionError as exc:
    tb = typer_help.Traceback.from_exception(type(exc), exc, exc.__traceback__)
assert isinstance(tb, rich.traceback.Traceback)
assert not [f for f in sys.meta_path if type(f).__module__ == "imap_cli.cli.startup"]
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_tab_for_the_command_names_imports_nothing_heavy(tmp_path: Path) -> None:
    modules = modules_after(tmp_path, [], zsh_tab("imap "))
    assert imported(modules, TAB_NEVER) == []


# Each command imports what it uses: a transfer needs requests, a setting does not; none needs
# rich.markdown, and only `imap serve` the server (werkzeug, sqlite3).
# pydantic: Typer 0.29+ converts parameters through it (~100 ms); cli/plain_params.py does not.
NEVER_FOR_COMMANDS = (
    "werkzeug",
    "sqlite3",
    "_sqlite3",
    "rich.markdown",
    "markdown_it",
    "pygments",
    "pydantic",
)
# Only `imap info`, `imap parents` and load()/open() read CDFs.
CDF_READERS = ("cdflib", "numpy", "xarray", "pandas")
COMMAND_CASES = {
    "config get url": (["config", "get", "url"], ("requests", "urllib3")),
    "query": (["query", "-i", "mag", "-o", "json"], ()),
    "download": (["download", "imap_mag_l1a_norm-mago_20251017_v001.cdf"], ()),
    "upload": (["upload", "imap_mag_l1a_norm-mago_20251017_v001.0001.cdf"], ()),
}


class NotFound(BaseHTTPRequestHandler):
    """Answers every request 404, so a command stops after its first request."""

    def do_GET(self) -> None:
        self.server.requests += 1  # type: ignore[attr-defined]
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_found_server() -> Iterator[QuietHTTPServer]:
    server = QuietHTTPServer(("127.0.0.1", 0), NotFound)
    server.requests = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("case", list(COMMAND_CASES))
def test_a_command_imports_what_it_uses(
    case: str, tmp_path: Path, not_found_server: QuietHTTPServer
) -> None:
    argv, not_needed = COMMAND_CASES[case]
    (tmp_path / "imap_mag_l1a_norm-mago_20251017_v001.0001.cdf").write_bytes(b"x")
    out = tmp_path / "modules.json"
    env = {
        "IMAP_DATA_ACCESS_URL": f"http://127.0.0.1:{not_found_server.server_address[1]}",
        "IMAP_DATA_DIR": str(tmp_path / "data"),
        "IMAP_API_KEY": "test-key",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *argv],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    modules = set(json.loads(out.read_text()))
    assert imported(modules, (*NEVER_FOR_COMMANDS, *CDF_READERS, *not_needed)) == []
    if not not_needed:  # a transfer: it did reach the server, with requests
        assert not_found_server.requests >= 1  # type: ignore[attr-defined]
        assert "requests" in modules


# `imap info` imports cdflib to read a CDF; `imap parents` reads an IMAP CDF's Parents by
# itself. Neither imports a server, and they leave the other commands as light as they were
# (test_a_command_imports_what_it_uses above).
INSIDE_CASES = {
    "info": (["info", "-o", "json"], ("requests", "urllib3", "xarray", "pandas")),
    "parents": (["parents", "-o", "json"], ("cdflib", "numpy", "xarray", "pandas")),
}


@pytest.mark.parametrize("case", list(INSIDE_CASES))
def test_info_and_parents_import_cdflib_and_nothing_else_heavy(
    case: str, tmp_path: Path, not_found_server: QuietHTTPServer
) -> None:
    from imap_cli.server.demo_files import cdf

    name = "imap_mag_l2_norm-gse_20251001_v001.0000.cdf"
    data = cdf(name, (), __import__("datetime").datetime(2025, 10, 2))
    (tmp_path / name).write_bytes(data)
    argv, never = INSIDE_CASES[case]
    env = {
        "IMAP_DATA_ACCESS_URL": f"http://127.0.0.1:{not_found_server.server_address[1]}",
        "IMAP_DATA_DIR": str(tmp_path / "data"),
    }
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *argv, str(tmp_path / name)],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)  # it did read the file
    modules = set(json.loads(out.read_text()))
    assert ("cdflib" in modules) == (case == "info")
    assert imported(modules, (*NEVER_FOR_COMMANDS, *never)) == []
