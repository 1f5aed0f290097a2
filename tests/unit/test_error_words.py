"""Core speaks data, the CLI speaks flags: errors from Python name parameters, never flags;
the terminal still names the flags; no string in core spells a CLI flag."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import responses

import imap_cli
from imap_cli.cli import errors as cli_errors
from imap_cli.cli.app import main
from imap_cli.core import errors
from imap_cli.core.errors import UsageError

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]{2,}")
CORE = Path(imap_cli.__file__).parent / "core"


@pytest.fixture(autouse=True)
def sdc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", "https://sdc.example")
    monkeypatch.setenv("IMAP_DATA_DIR", str(tmp_path / "data"))


@responses.activate
def test_a_bad_data_level_from_python_names_the_parameter() -> None:
    with pytest.raises(UsageError) as caught:
        imap_cli.query(data_level="l9")
    error = caught.value
    assert "'l9' is not a valid data_level" in error.message
    assert "For example: data_level='l1a'" in error.hint
    assert not FLAG.search(error.message + error.hint)
    assert (error.field, error.value) == ("data_level", "l9") and "l1a" in error.choices
    assert len(responses.calls) == 0


@responses.activate
def test_a_bad_start_date_from_python_names_the_parameter() -> None:
    with pytest.raises(UsageError) as caught:
        imap_cli.query(instrument="mag", start_date="2025-02-30")
    error = caught.value
    assert "is not a valid start_date: there is no such day" in error.message
    assert "start date" not in error.message
    assert not FLAG.search(error.message + error.hint)
    assert error.field == "start_date" and isinstance(error.cause, ValueError)


@responses.activate
def test_the_terminal_still_names_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--data-level", "l9"]) == 2
    err = capsys.readouterr().err
    assert "Error: 'l9' is not a valid data level; valid data levels: l0," in err
    assert "For example: --data-level l1a" in err
    assert main(["query", "-i", "mag", "--start-date", "2025-02-30"]) == 2
    assert "'2025-02-30' is not a valid start date: there is no such day" in capsys.readouterr().err
    assert len(responses.calls) == 0


def test_markers_render_each_way() -> None:
    text = (
        f"{errors.word('start_date')} / {errors.plural('type')} / {errors.option('table')} / "
        f"{errors.option('data_level', 'l1a')}{errors.terminal('see-help', '.')}"
    )
    assert errors.in_python(text) == "start_date / values / table / data_level='l1a'."
    assert cli_errors.at_terminal(text) == (
        "start date / SPICE kernel types / --table / --data-level l1a; see --help"
    )
    # Text without markers, e.g. a server's message with braces, is left alone both ways.
    assert errors.in_python("{x} --y") == cli_errors.at_terminal("{x} --y") == "{x} --y"


def test_each_error_class_keeps_its_exit_code() -> None:
    # The CLI's table decides; each class's code is as documented (2 usage, 3 SDC, 4 refused).
    expected = {
        errors.IMAPError: 1,
        errors.UsageError: 2,
        errors.InvalidName: 2,
        errors.ConfigError: 2,
        errors.DataDirError: 2,
        errors.UnsafeRequest: 2,
        errors.SDCError: 1,
        errors.BadRequest: 2,
        errors.NotFound: 1,
        errors.Conflict: 1,
        errors.Refused: 4,
        errors.Unavailable: 3,
        errors.ConnectionFailed: 3,
        errors.TLSError: 3,
        errors.BadResponse: 3,
        errors.TooLarge: 3,
        errors.IntegrityError: 1,
    }
    for cls, code in expected.items():
        assert int(cli_errors.exit_code_for(cls.__new__(cls))) == code, cls
    assert not hasattr(errors, "ExitCode")
    assert {int(c) for c in cli_errors.ExitCode} == {0, 1, 2, 3, 4, 129, 130, 143}


def core_strings() -> list[tuple[str, int, str]]:
    """Every string constant in imap_cli/core, as (file, line, text)."""
    found = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((str(path.relative_to(CORE)), node.lineno, node.value))
    return found


def test_no_string_in_core_spells_a_cli_flag() -> None:
    hits = [
        f"{name}:{line}: {match}"
        for name, line, text in core_strings()
        for match in FLAG.findall(text)
    ]
    assert hits == []
