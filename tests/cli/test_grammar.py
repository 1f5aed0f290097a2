"""One option grammar across every command (issue: daily use, second pass): global options
after every command and subcommand, `-o` the output format everywhere, near misses named,
click's usage errors in our Error/Hint form, value names (not Python types) in help."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_help import PATHS, flat

NOWHERE = "http://127.0.0.1:1"  # nothing listens on port 1: refused at once


@pytest.mark.parametrize(
    "argv",
    [
        ["jobs", "--url", NOWHERE, "--api-key", "K"],
        ["jobs", "logs", "mag-l1a-processing/default/0123", "--url", NOWHERE],
        ["config", "--url", NOWHERE, "show"],
        ["metakernel", "-s", "20251001", "--url", NOWHERE],
    ],
    ids=" ".join,
)
def test_global_options_after_every_command_and_subcommand(imap, argv) -> None:
    code, _out, err = imap(*argv)
    assert "No such option" not in err
    assert code in (0, 3), err


@pytest.mark.parametrize("path", [p for p in PATHS if p], ids=" ".join)
def test_every_help_lists_the_global_options(imap, path) -> None:
    code, out, _err = imap(*path, "--help", env={"COLUMNS": "120"})
    assert code == 0 and "Global options" in out and "--url" in out and "--api-key" in out


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(["imap", *p]))
def test_help_shows_value_names_not_python_types(imap, path) -> None:
    _code, out, _err = imap(*path, "--help", env={"COLUMNS": "120"})
    assert not re.search(r"<(str|int|float|list|Path|file|bool)\b", out), out
    assert "FILE..." + "]..." not in out


def test_value_names_a_user_reads(imap) -> None:
    out = flat(imap("query", "--help", env={"COLUMNS": "120"}).out)
    for shown in ("--start-date -s DATE", "--data-level -l LEVEL", "--format -o FORMAT"):
        assert shown in out
    assert "--output FILE" in flat(imap("metakernel", "--help", env={"COLUMNS": "120"}).out)


def test_metakernel_o_is_the_format_never_a_file(imap, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = imap("metakernel", "-s", "20251001", "-o", "imap.tm", "--url", NOWHERE)
    assert code == 2 and out == "" and "not an output format" in err
    assert "--output imap.tm" in err.split("Hint:")[1]
    code, _out, err = imap("metakernel", "-s", "20251001", "-o", "json", "--url", NOWHERE)
    assert code == 3 and "connection refused" in err  # json is a format: it went on
    assert list(tmp_path.iterdir()) == []  # no file named json (nor imap.tm)


@pytest.mark.parametrize(
    ("argv", "right"),
    [
        (["config", "list"], "imap config show"),
        (["query", "--latest"], "--version latest"),
        (["sync", "--latest"], "--version latest"),
        (["query", "--latest-only"], "--version latest"),
        (["-v", "2", "query"], "-vv"),
    ],
    ids=" ".join,
)
def test_near_misses_name_the_right_spelling(imap, argv, right) -> None:
    code, out, err = imap(*argv)
    assert code == 2 and out == ""
    assert err.count("Error:") == 1 and right in err.split("Hint:")[1]


@pytest.mark.parametrize(
    "argv",
    [
        ["download", "-j", "100", "x"],
        ["query", "--bogus"],
        ["query", "-i"],
        ["jobs", "logs"],
        ["nosuchcommand"],
    ],
    ids=" ".join,
)
def test_every_usage_error_is_one_error_line_and_a_hint(imap, argv) -> None:
    code, out, err = imap(*argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("Error: ") and lines[-1].startswith("Hint: ")
    assert len(lines) == 2 and "Usage:" not in err and "Try '" not in err


def test_verbose_counts_as_its_help_says(imap) -> None:
    out = imap("--help", env={"COLUMNS": "120"}).out
    assert re.search(r"--verbose\s+-v\s+More detail\.\s", out), out
    assert "[default: 0]" not in out  # a count, not a number to give


def test_sync_spells_latest_as_query_does(imap) -> None:
    out = flat(imap("sync", "--help", env={"COLUMNS": "120"}).out)
    assert "--latest-only" not in out and "--version" in out
