"""A TAB answered without Typer: the generated description is current, and answers as Typer would.

cli/tab.py answers completion requests from cli/completion_spec.py. These tests hold it to
Typer's own completion (for the same lines, in all three shells' formats), to the app it was
generated from, and to its promise: no typer, click or rich in the process.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imap_cli.cli import complete, completers, tab, typer_compat
from imap_cli.core.recent import remember_keys

SPEC_FILE = Path(complete.__file__).with_name("completion_spec.py")

LINES = [
    "imap ",
    "imap q",
    "imap -",
    "imap --u",
    "imap -v ",
    "imap -vq -",
    "imap --url http://x ",
    "imap --url ",
    "imap --bogus ",
    "imap nosuch ",
    "imap =",
    "imap query ",
    "imap query -",
    "imap query --",
    "imap query --instrument s",
    "imap query --instrument=s",
    "imap query --instrument =",
    "imap query -i ",
    "imap query -ima",
    "imap query -i mag -",
    "imap query -i mag --i",
    "imap query -i mag -i ",
    "imap query --data-level l1",
    "imap query -l l3",
    "imap query --table s",
    "imap query --table spice --type lea",
    "imap query -o ",
    "imap query --format=j",
    "imap query --version ",
    "imap query -- -",
    "imap query x ",
    "imap query --bogus --in",
    "imap query -fj ",
    "imap query --force=yes --in",
    "imap query --start-date ",
    "imap 'query' --inst",
    'imap query "--inst',
    "imap -qv query --in",
    "imap config ",
    "imap config get d",
    "imap config get ",
    "imap config set ",
    "imap config set url ",
    "imap config unset a",
    "imap config show --format t",
    "imap config show -",
    "imap download ",
    "imap download imap_",
    "imap download imap/mag/",
    "imap download imap_swe_l1a_sci_20251017_v001.cdf imap_",
    "imap download a -",
    "imap download --",
    "imap upload ",
    "imap upload imap_",
    "imap upload imap_a.cdf imap_",
    "imap upload ./imap_a.cdf imap_",
    "imap upload d",
    "imap upload -",
    "imap serve -",
    "imap serve --port ",
    # commands added by other issues: their options and values come through the generator
    "imap s",
    "imap sync -",
    "imap sync --instrument m",
    "imap jobs ",
    "imap jobs -",
    "imap jobs logs -",
    "imap release --",
    "imap reprocess -",
    "imap metakernel -",
    "imap doctor -",
]

KEYS = [
    "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf",
    "imap/swe/l1a/2025/10/imap_swe_l1a_sci_20251017_v001.cdf",
]


def requests_for(line: str) -> dict[str, dict[str, str]]:
    """The environment each shell's script sets for a TAB at the end of `line`."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    fish = {"_IMAP_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": line}
    return {
        "bash": {"_IMAP_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword)},
        "zsh": {"_IMAP_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line},
        "fish get-args": {**fish, "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
        "fish is-args": {**fish, "_TYPER_COMPLETE_FISH_ACTION": "is-args"},
    }


def typer_answer(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """What Typer itself prints for this request (the app built, its own completion classes)."""
    import typer
    from typer._click.shell_completion import get_completion_class
    from typer._completion_classes import completion_init

    from imap_cli.cli.app import app

    completion_init()
    typer_compat.adapt_typer_completion()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    shell = env["_IMAP_COMPLETE"].removeprefix("complete_")
    completer = get_completion_class(shell)(
        typer.main.get_command(app), {}, "imap", "_IMAP_COMPLETE"
    )
    try:
        return 0, completer.complete() + "\n"
    except SystemExit as stop:  # fish's is-args answers by exit code
        return int(stop.code or 0), ""


def static_answer(env: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    code = tab.answer(env, out)
    return code, out.getvalue()


def help_last(text: str) -> list[str]:
    """Candidates in order, except that click orders -h and --help at random (from a set)."""
    lines = text.replace("_arguments '*: :((", "").replace("))'", "").splitlines()
    rest = [line for line in lines if not line.lstrip('"').startswith(("-h", "--help"))]
    return [*rest, *sorted(set(lines) - set(rest))]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("imap_a.cdf", "imap_b.cdf", "data/imap_c.cdf"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    monkeypatch.chdir(tmp_path)
    remember_keys(KEYS)


# Where Typer offers nothing, each shell lists local files; where the word is no path (a
# command, an option, a descriptor) the static answer says so instead.
NO_FILES = {
    "bash": (tab.NO_FILES_STATUS, "\n"),
    "zsh": (0, "return 1\n"),
    "fish get-args": (0, "\n"),
    "fish is-args": (0, ""),
}
TYPER_NOTHING = {
    "bash": (0, "\n"),
    "zsh": (0, "_files\n"),
    "fish get-args": (0, "\n"),
    "fish is-args": (1, ""),
}


@pytest.mark.parametrize("line", LINES)
def test_the_static_answer_is_typers(
    line: str, files: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = requests_for(line)
    no_files = static_answer(requests["zsh"]) == NO_FILES["zsh"]
    for shell, env in requests.items():
        expected_code, expected = typer_answer(env, monkeypatch)
        code, got = static_answer(env)
        if no_files:
            assert (expected_code, expected) == TYPER_NOTHING[shell], f"{shell}: {line!r}"
            assert (code, got) == NO_FILES[shell], f"{shell}: {line!r}"
            continue
        assert code == expected_code, shell
        assert help_last(got) == help_last(expected), f"{shell}: {line!r}"
        for frame in ("_arguments '*: :((", "_files"):  # zsh's frame around the candidates
            assert got.startswith(frame) == expected.startswith(frame)


def test_the_committed_description_is_current() -> None:
    assert SPEC_FILE.read_text(encoding="utf-8") == complete.spec_file_text(), (
        "imap_cli/cli/completion_spec.py is stale: run python -m imap_cli.cli.complete --write"
    )


def test_the_description_says_how_to_regenerate_it() -> None:
    head = SPEC_FILE.read_text(encoding="utf-8").splitlines()[:12]
    assert any("python -m imap_cli.cli.complete --write" in line for line in head)


def test_a_command_registered_in_the_app_is_described(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator walks cli/app.py's COMMANDS: a new command needs no change here."""
    from imap_cli.cli import app

    settings = {"epilog": app.EPILOG, "help": "A command added later."}
    monkeypatch.setitem(app.COMMANDS, "added", ("imap_cli.cli.upload", "upload", settings))
    spec = complete.build_spec()
    assert "added" in spec["commands"]
    added = spec["commands"]["added"]
    assert added["short_help"] == "A command added later."
    assert added["params"] == spec["commands"]["upload"]["params"]
    items = tab.candidates(spec, ["added"], "--dry")
    assert items == [("--dry-run", "Show what would happen; transfer nothing.")]


def test_callbacks_are_named_by_module_and_load_without_typer() -> None:
    """A TAB imports each callback's module: it must not bring in typer, click or rich."""
    references = set()

    def walk(node: dict) -> None:
        for param in node["params"]:
            source = param["complete"] or {}
            if "callback" in source:
                references.add(source["callback"])
        for child in node.get("commands", {}).values():
            walk(child)

    from imap_cli.cli.completion_spec import SPEC

    walk(SPEC)
    assert "imap_cli.cli.completers:download_items" in references
    modules = sorted({reference.partition(":")[0] for reference in references})
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'rich')]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


BLOCKER = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("typer", "click", "rich", "pydantic"):
            raise ImportError(f"{name} is blocked for this test")
sys.meta_path.insert(0, Blocked())
from imap_cli.cli.entry import main
main()
"""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (requests_for("imap query --instrument s")["bash"], "spacecraft\nswapi\nswe\n"),
        (requests_for("imap config get d")["fish get-args"], "data-dir\n"),
        (
            requests_for("imap query --inst")["zsh"],
            """_arguments '*: :(("--instrument":"Instrument, e.g. mag, swe, codice."))'\n""",
        ),
    ],
)
def test_a_tab_works_with_typer_click_and_rich_unimportable(
    env: dict[str, str], expected: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, expected, "")


def test_a_failing_callback_gives_no_candidates_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(incomplete: str) -> list[str]:
        raise OSError("disk gone")

    monkeypatch.setattr(completers, "download_items", broken)
    assert static_answer(requests_for("imap download imap_")["bash"]) == (0, "\n")


def test_an_unfinished_quote_is_completed_as_typed() -> None:
    assert tab.split('imap query "--inst') == ["imap", "query", "--inst"]
    assert tab.split("imap 'a b' c") == ["imap", "a b", "c"]


def test_version_alone_is_answered_without_typer_and_as_the_app_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from imap_cli.cli.app import main as app_main

    assert app_main(["--version"]) == 0
    expected = capsys.readouterr().out
    blocked = BLOCKER.replace("main()", "main(['--version'])")
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, expected, "")


@pytest.mark.parametrize(
    ("line", "paths"),
    [
        ("imap query -d ", False),  # recent descriptors: none with an empty cache
        ("imap query --descriptor no", False),
        ("imap query --instrument zz", False),  # a fixed vocabulary
        ("imap download ", False),  # recent SDC keys
        ("imap zz", False),  # a command name
        ("imap config path ", False),  # nothing to complete at all
        ("imap query --nope", False),  # an option name
        ("imap upload ", True),  # files: the shell completes what the callback does not
        ("imap upload zz", True),
        ("imap coverage --svg ", True),  # no completer: may be a path
        ("imap --data-dir ", True),
        ("imap doctor --ca-bundle ", True),
        ("imap metakernel --output ", True),
    ],
)
def test_an_empty_answer_offers_files_only_where_the_word_may_be_a_path(
    line: str, paths: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22: `imap query -d <TAB>` with no recent results listed the local files."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no recent results
    monkeypatch.chdir(tmp_path)  # an empty folder: upload_files finds nothing
    requests = requests_for(line)
    answers = {shell: static_answer(env) for shell, env in requests.items()}
    if paths:
        assert answers == TYPER_NOTHING, line
    else:
        assert answers == NO_FILES, line
