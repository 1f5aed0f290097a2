"""Every command and subcommand answers --help and -h with exit 0; commands list exit codes."""

from __future__ import annotations

import pytest
import typer.main

from imap_cli.cli.app import COMMANDS, EPILOG, app, main


def command_paths() -> list[list[str]]:
    """Every command path under `imap`, found by walking the click tree (root first)."""
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        ctx = typer.Context(command)  # type: ignore[arg-type]
        for name in getattr(command, "list_commands", lambda _ctx: [])(ctx):
            walk(command.get_command(ctx, name), [*path, name])  # type: ignore[attr-defined]

    walk(root, [])
    return paths


PATHS = command_paths()


def flat(text: str) -> str:
    """The text with line wrapping and box drawing undone, to search for a sentence."""
    return " ".join(text.replace("│", " ").split())


def test_the_walk_finds_every_command() -> None:
    found = {" ".join(p) for p in PATHS}
    assert set(COMMANDS) <= found
    assert {"config show", "config get", "config set", "config unset", "config path"} <= found


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(["imap", *p]))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_exits_0_and_shows_usage(path: list[str], flag: str, capsys) -> None:
    assert main([*path, flag]) == 0
    out, err = capsys.readouterr()
    assert f"Usage: {' '.join(['imap', *path])} " in flat(out)
    assert err == ""


@pytest.mark.parametrize("path", [[], *([name] for name in COMMANDS)], ids=lambda p: str(p))
def test_commands_state_the_exit_codes(path: list[str], capsys) -> None:
    main([*path, "--help"])
    assert flat(EPILOG) in flat(capsys.readouterr().out)


def test_every_exit_code_is_explained() -> None:
    from imap_cli.cli.errors import ExitCode

    for code in ExitCode:
        assert f"{int(code)} " in EPILOG


def test_top_level_help_lists_the_commands_as_typer_would(capsys) -> None:
    """`imap --help` reads each command's summary without building it: same text as built."""
    assert main(["--help"]) == 0
    from_summaries = capsys.readouterr().out
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    for name in COMMANDS:
        root.get_command(ctx, name)  # type: ignore[attr-defined]
    root.main(["--help"], prog_name="imap", standalone_mode=False)
    assert capsys.readouterr().out == from_summaries
    assert "config" in from_summaries and "Show and change settings" in from_summaries


def test_the_root_help_is_a_map_in_panels(capsys, monkeypatch) -> None:
    """`imap --help` groups the commands in panels, each command once, on one line at 80."""
    from imap_cli.cli.app import FIND, INSIDE, OPERATIONS, SETUP

    monkeypatch.setenv("COLUMNS", "80")
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    panels = [FIND, INSIDE, OPERATIONS, SETUP]
    assert all(f"─ {panel} ─" in out for panel in panels)
    positions = [out.index(f"─ {panel} ─") for panel in panels]
    assert positions == sorted(positions)
    for name in COMMANDS:
        (line,) = [line for line in out.splitlines() if line.startswith(f"│ {name} ")]
        assert line.endswith("│") and len(line.split()) > 2  # a summary, on this one line
    assert "─ Commands ─" not in out  # every command is in a panel


def _command_at(path: list[str]) -> object:
    command: object = typer.main.get_command(app)
    for name in path:
        command = command.get_command(typer.Context(command), name)  # type: ignore[attr-defined]
    return command


@pytest.mark.parametrize("path", [p for p in PATHS if p], ids=lambda p: " ".join(["imap", *p]))
def test_help_paragraphs_wrap_to_the_terminal_not_to_the_docstring(path: list[str]) -> None:
    """A docstring's line breaks must not reach the help (newer Typers keep them, and a
    sentence then breaks mid-line at any width): each prose paragraph is one line."""
    help_text = getattr(_command_at(path), "help", None) or ""
    for paragraph in help_text.split("\n\n"):
        lines = paragraph.split("\n")
        if any(line.startswith((" ", "- ", "* ", "\b", "\f")) for line in lines):
            continue  # a list or an indented block keeps its lines
        assert len(lines) == 1, f"imap {' '.join(path)}: {paragraph!r}"


def test_reflowed_joins_prose_and_keeps_lists() -> None:
    from imap_cli.cli.app import reflowed

    text = "First line.\n\nA sentence\nbroken here.\n\n- one\n- two\n\n  indented\n  block"
    assert reflowed(text) == (
        "First line.\n\nA sentence broken here.\n\n- one\n- two\n\n  indented\n  block"
    )
