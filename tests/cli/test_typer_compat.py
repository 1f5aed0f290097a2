"""Without Typer's internals, `imap` still works and says the same things (cli/typer_compat.py).

A future Typer may drop any private name typer_compat.py reaches for. Each is a hook that may be
missing; these tests take every optional hook away in a fresh process, as such a Typer would,
and check that the commands, their help, their errors and the completions are unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from imap_cli.cli import typer_compat

RUNNER = """
import contextlib, io, json, os, sys

from imap_cli.cli import typer_compat

if sys.argv[1] == "missing":
    for name in typer_compat.HOOKS:
        if name != "click_command":  # the one Typer documents: required
            typer_compat._found[name] = None

from imap_cli.cli.entry import main

results = []
for args, env in json.loads(sys.argv[2]):
    os.environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as stop:
            code = stop.code
    for name in env:
        del os.environ[name]
    results.append([args, code, out.getvalue(), err.getvalue()])
hooks = {name: typer_compat.hook(name) is not None for name in typer_compat.HOOKS}
print(json.dumps({"results": results, "hooks": hooks, "pydantic": "pydantic" in sys.modules}))
"""

BAD_VALUES = (["query", "-i", "mag", "-j", "0"], ["download", "-j", "abc", "x"])
NOWHERE = "http://127.0.0.1:9"  # nothing listens there: the request fails at once
CASES: list[tuple[list[str], dict[str, str]]] = [
    (["--help"], {}),
    (["query", "--help"], {}),
    (["sync", "--help"], {}),
    (["config", "--help"], {}),
    (["jobs", "--help"], {}),
    (["jobs", "logs", "--help"], {}),
    (["upload", "-h"], {}),
    (["--version"], {}),
    (["query"], {}),
    (["query", "--bogus"], {}),
    (["query", "-i", "mag", "-j", "0"], {}),
    (["download", "-j", "abc", "x"], {}),
    (["metakernel", "--output", ".", "-s", "20250101"], {}),
    (["query", "-i", "nope", "--url", NOWHERE], {}),
    (["query", "-i", "mag", "--start-date", "2025-13-01", "-q"], {}),
    (["sync", "--filename", "imap_mag_l1a_norm-mago_20251017_v001.cdf", "--url", NOWHERE], {}),
    (["config", "path"], {}),
    ([], {"_IMAP_COMPLETE": "complete_bash", "COMP_WORDS": "imap query -i s", "COMP_CWORD": "3"}),
    ([], {"_IMAP_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "imap sync --data-l"}),
]


def run(hooks: str, tmp_path) -> dict:
    env = {
        **os.environ,
        "COLUMNS": "100",
        "IMAP_CLI_CONFIG": str(tmp_path / "config.toml"),
        "IMAP_DATA_DIR": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, hooks, json.dumps(CASES)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_without_typers_internals_everything_says_the_same(tmp_path) -> None:
    present = run("present", tmp_path)
    missing = run("missing", tmp_path)
    assert not any(v for k, v in missing["hooks"].items() if k != "click_command")
    for (args, *with_hooks), (_, *without) in zip(present["results"], missing["results"]):
        if args in BAD_VALUES:
            # Typer 0.29's own (pydantic) wording of a bad value differs from click's, which
            # the plain converters keep; the usage, the option named and the exit code do not
            code, out, err = without
            assert (code, out) == tuple(with_hooks[:2])
            shared = "Error: Invalid value for '--jobs' / '-j': "
            assert err.partition(shared)[0] == with_hooks[2].partition(shared)[0] != err
            continue
        assert without == with_hooks, args
    # the cases say something: help, usage errors, data errors, candidates
    texts = {" ".join(args) or "TAB": out + err for args, _, out, err in present["results"]}
    assert "Usage: imap query" in texts["query --help"]
    assert "No such option: --bogus" in texts["query --bogus"]
    assert "0 is not in the range 1<=x<=64" in texts["query -i mag -j 0"]
    assert "'abc' is not a valid integer" in texts["download -j abc x"]


def test_typer_converts_through_pydantic_only_without_the_hook(tmp_path) -> None:
    """Where Typer 0.29's slot is found, no command loads pydantic; without it, Typer does."""
    present = run("present", tmp_path)
    if not present["hooks"]["runtime_converter"]:
        pytest.skip("this Typer converts through click: there is nothing to take away")
    assert present["pydantic"] is False
    assert run("missing", tmp_path)["pydantic"] is True


def test_a_missing_hook_is_none_and_found_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def gone() -> None:
        calls.append(1)
        raise ImportError("no such module in this Typer")

    monkeypatch.setitem(typer_compat._LOADERS, "summary_help", gone)
    monkeypatch.delitem(typer_compat._found, "summary_help", raising=False)
    assert typer_compat.summary_help(object(), "jobs", {}) is None
    assert typer_compat.hook("summary_help") is None
    assert calls == [1]
    monkeypatch.delitem(typer_compat._found, "summary_help")


def test_without_the_script_hooks_typer_writes_nothing_of_ours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(typer_compat._found, "completion_shared", None)
    monkeypatch.setitem(typer_compat._found, "completion_classes", None)
    assert typer_compat.writes_scripts() is False
    assert typer_compat.completion_script("zsh") is None
    assert typer_compat.install_completion("zsh") is None
    typer_compat.adapt_typer_completion()  # nothing to adapt: no error
