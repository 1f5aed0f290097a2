"""Real shells in tmux: load completions/imap.<shell>, type, press TAB, read the screen.

Skipped when tmux (or the shell) is not installed. The tmux server is private to each test
(its own socket) and killed at the end. Every wait polls the screen with a deadline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"
DEADLINE = 20.0  # seconds; a completion takes well under one

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Terminal:
    """One tmux session on a private server, with helpers to type and to read the screen."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.socket = f"imap-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.socket_path = ""
        self.tmux("new-session", "-d", "-s", "t", "-x", "160", "-y", "40", command)
        self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout

    def type(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def wait_for(self, ready: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + DEADLINE
        while True:
            screen = self.screen()
            if ready(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"waited {DEADLINE:.0f} s for {what}; the screen:\n{screen}")
            time.sleep(0.05)

    def run_and_wait(self, command: str) -> None:
        """Type a command that ends by printing READY-42, and wait for that line."""
        self.type(f"{command}; echo READY-$((40+2))", "Enter")
        self.wait_for(lambda s: "READY-42" in s.splitlines(), f"{command!r} to finish")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)
        if self.socket_path:  # tmux may leave its socket file behind
            Path(self.socket_path).unlink(missing_ok=True)


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """A PATH whose `imap` runs this checkout with this interpreter; a clean home."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "imap"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m imap_cli "$@"\n')
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "BASH_", "ZDOTDIR"))}
    env.update(HOME=str(tmp_path), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    env["TERM"] = "xterm"
    return env


@pytest.fixture
def terminal(shell_env: dict[str, str]) -> Iterator[Callable[[str], Terminal]]:
    opened: list[Terminal] = []

    def open_terminal(command: str) -> Terminal:
        opened.append(Terminal(command, shell_env))
        return opened[-1]

    yield open_terminal
    for term in opened:
        term.close()


def test_bash_lists_instruments_after_two_tabs(terminal: Callable[[str], Terminal]) -> None:
    term = terminal("bash --norc --noprofile")
    term.run_and_wait(f"PS1='$ '; source {COMPLETIONS / 'imap.bash'}")
    term.type("imap query --instrument s", "Tab", "Tab")
    screen = term.wait_for(
        lambda s: all(word in s.split() for word in ("spacecraft", "swapi", "swe")),
        "the candidates",
    )
    assert "$ imap query --instrument s" in screen


def test_bash_completes_a_config_key_in_place(terminal: Callable[[str], Terminal]) -> None:
    term = terminal("bash --norc --noprofile")
    term.run_and_wait(f"PS1='$ '; source {COMPLETIONS / 'imap.bash'}")
    term.type("imap config get d", "Tab")
    term.wait_for(lambda s: "$ imap config get data-dir" in s, "data-dir on the command line")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_from_fpath_completes_on_the_first_tab(
    terminal: Callable[[str], Terminal], tmp_path: Path
) -> None:
    """The file named `_imap` in a folder on $fpath before compinit: how most users load it."""
    functions = tmp_path / "zfunc"
    functions.mkdir()
    shutil.copy(COMPLETIONS / "imap.zsh", functions / "_imap")
    term = terminal("zsh -f")
    term.run_and_wait(f"PS1='%% '; fpath=({functions} $fpath); autoload -Uz compinit; compinit -u")
    for attempt in range(2):  # the first TAB, and every later one
        term.type("C-u", "imap config get d", "Tab")
        term.wait_for(lambda s: "% imap config get data-dir" in s, f"TAB number {attempt + 1}")
        term.type("C-u")
        term.wait_for(lambda s: "% imap config get data-dir" not in s, "the line to clear")


@pytest.fixture
def descriptor_files(tmp_path: Path) -> Path:
    """A folder holding files named like descriptors, and an empty cache (no recent results)."""
    folder = tmp_path / "work"
    folder.mkdir()
    for name in ("norm-mago", "burst-mago"):
        (folder / name).write_text("x")
    return folder


def test_bash_offers_no_files_for_a_descriptor(
    terminal: Callable[[str], Terminal], descriptor_files: Path, tmp_path: Path
) -> None:
    """Issue 22: with no recent query results, `imap query -d <TAB>` listed the local files.

    The keys after the TABs are read only once the completion has finished, so the marker
    on the command line shows the TABs are done."""
    term = terminal("bash --norc --noprofile")
    term.run_and_wait(
        f"PS1='$ '; export XDG_CACHE_HOME={tmp_path / 'empty-cache'}; "
        f"cd {descriptor_files}; source {COMPLETIONS / 'imap.bash'}"
    )
    term.type("imap query -d ", "Tab", "Tab", "Z")
    screen = term.wait_for(lambda s: "$ imap query -d Z" in s, "the TABs to be done")
    assert "mago" not in screen
    term.type("C-u", "imap query -d n", "Tab", "Tab", "Z")
    screen = term.wait_for(lambda s: "$ imap query -d nZ" in s, "the TABs to be done")
    assert "mago" not in screen
    # where the word may be a path, the files are still offered
    term.type("C-u", "imap upload ", "Tab", "Tab")
    term.wait_for(lambda s: "norm-mago" in s and "burst-mago" in s, "the files")
    term.type("C-u", "imap coverage --svg n", "Tab")
    term.wait_for(lambda s: "$ imap coverage --svg norm-mago" in s, "the file name")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_offers_no_files_for_a_descriptor(
    terminal: Callable[[str], Terminal], descriptor_files: Path, tmp_path: Path
) -> None:
    term = terminal("zsh -f")
    term.run_and_wait(
        f"PS1='%% '; export XDG_CACHE_HOME={tmp_path / 'empty-cache'}; cd {descriptor_files}; "
        f"autoload -Uz compinit; compinit -u; source {COMPLETIONS / 'imap.zsh'}"
    )
    term.type("imap query -d ", "Tab", "Z")
    screen = term.wait_for(lambda s: "% imap query -d Z" in s, "the TAB to be done")
    assert "mago" not in screen
    term.type("C-u", "imap upload n", "Tab")
    term.wait_for(lambda s: "% imap upload norm-mago" in s, "the file name")
