"""completions/imap.{bash,zsh,fish}: current, and what --show/--install-completion give."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imap_cli.cli import complete, typer_compat
from imap_cli.cli.app import script_request

COMMITTED = Path(__file__).resolve().parents[2] / "completions"
SHELLS = ("bash", "zsh", "fish")


def imap(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imap_cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def without_header(text: str) -> str:
    return "".join(line for line in text.splitlines(True) if line != complete.HEADER)


def test_committed_files_are_current() -> None:
    """Regenerate; a difference means: run the generator and commit."""
    for shell in SHELLS:
        fresh = complete.completion_file_text(shell)
        committed = (COMMITTED / f"imap.{shell}").read_text(encoding="utf-8")
        assert committed == fresh, (
            f"completions/imap.{shell} is stale: run python -m imap_cli.cli.complete --write"
        )


def test_the_generator_checks_and_writes(tmp_path: Path) -> None:
    """One command writes the scripts and the description a TAB is answered from."""
    spec = ["--spec-file", str(tmp_path / "spec.py")]
    check = [sys.executable, "-m", "imap_cli.cli.complete", "--check"]
    assert subprocess.run([*check, str(COMMITTED)], check=False).returncode == 0
    stale = subprocess.run([*check, str(tmp_path), *spec], capture_output=True, text=True)
    assert stale.returncode == 1 and f"stale: {tmp_path / 'spec.py'}" in stale.stderr
    write = [sys.executable, "-m", "imap_cli.cli.complete", "--write", str(tmp_path), *spec]
    assert subprocess.run(write, capture_output=True, check=False).returncode == 0
    assert subprocess.run([*check, str(tmp_path), *spec], check=False).returncode == 0
    assert (tmp_path / "spec.py").read_text() == complete.spec_file_text()


@pytest.mark.parametrize("shell", SHELLS)
def test_show_completion_prints_the_committed_script(shell: str) -> None:
    """The shell given explicitly wins over the one typer would detect from the parent."""
    done = imap("--show-completion", shell)
    assert done.returncode == 0, done.stderr
    committed = (COMMITTED / f"imap.{shell}").read_text(encoding="utf-8")
    assert done.stdout == without_header(committed)
    assert imap(f"--show-completion={shell}").stdout == done.stdout


def test_show_completion_without_a_shell_detects_it() -> None:
    import shellingham

    try:
        detected, _ = shellingham.detect_shell()
    except shellingham.ShellDetectionFailure:
        pytest.skip("no shell among this test's parent processes")
    done = imap("--show-completion")
    assert done.returncode == 0
    assert f"_IMAP_COMPLETE=complete_{detected}" in done.stdout


def test_the_scripts_call_imap_with_the_completion_variable() -> None:
    for shell in SHELLS:
        text = (COMMITTED / f"imap.{shell}").read_text(encoding="utf-8")
        assert f"_IMAP_COMPLETE=complete_{shell}" in text
    zsh = (COMMITTED / "imap.zsh").read_text(encoding="utf-8")
    assert zsh.startswith("#compdef imap\n"), "compinit reads only the first line"
    assert "loadautofunc" in zsh and "compdef _imap_completion imap" in zsh


def test_typer_zsh_template_still_ends_the_way_we_replace() -> None:
    from typer._completion_shared import COMPLETION_SCRIPT_ZSH

    assert COMPLETION_SCRIPT_ZSH.endswith(typer_compat.TYPER_ZSH_ENDING)


def test_source_instruction_prints_the_same_zsh_script() -> None:
    done = imap(env={"_IMAP_COMPLETE": "source_zsh"})
    assert done.returncode == 0
    assert done.stdout.strip() == imap("--show-completion", "zsh").stdout.strip()


@pytest.mark.parametrize(
    ("shell", "installed"),
    [
        ("bash", ".bash_completions/imap.sh"),
        ("zsh", ".zfunc/_imap"),
        ("fish", ".config/fish/completions/imap.fish"),
    ],
)
def test_install_completion_writes_the_script(shell: str, installed: str, tmp_path: Path) -> None:
    done = imap("--install-completion", shell, env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{shell} completion installed in {tmp_path / installed}")
    script = (tmp_path / installed).read_text(encoding="utf-8")
    assert script.strip() == imap("--show-completion", shell).stdout.strip()


def test_only_a_leading_option_with_a_shell_is_answered_before_typer() -> None:
    assert script_request(["--show-completion", "fish"]) == ("show", "fish")
    assert script_request(["--install-completion=zsh"]) == ("install", "zsh")
    assert script_request(["--show-completion"]) is None  # typer detects the shell
    assert script_request(["--show-completion", "tcsh"]) == ("show", "tcsh")
    assert script_request(["--show-completion", "--help"]) is None
    assert script_request(["query", "--show-completion", "bash"]) is None
    assert script_request(["--show-completion", "bash", "query"]) is None


def test_an_unknown_shell_is_refused() -> None:
    done = imap("--show-completion", "tcsh")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("Error: no completion for the shell 'tcsh'; shells: bash,")
