"""Tab completion: the callbacks, and `imap` answering each shell's completion protocol.

Each protocol test runs `imap` in a subprocess with the variables the shell's script sets
(typer 0.28, typer/_completion_classes.py):
  bash  _IMAP_COMPLETE=complete_bash, COMP_WORDS (the line), COMP_CWORD (index of the word)
  zsh   _IMAP_COMPLETE=complete_zsh, _TYPER_COMPLETE_ARGS (the line up to the cursor)
  fish  _IMAP_COMPLETE=complete_fish, _TYPER_COMPLETE_ARGS, _TYPER_COMPLETE_FISH_ACTION
        (get-args: print the candidates; is-args: exit 0 when there are some, else 1)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imap_cli.cli import completers
from imap_cli.cli.completion_spec import SPEC
from imap_cli.core import settings, vocabulary
from imap_cli.core.recent import remember_keys


def run_completion(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imap_cli"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def bash(line: str) -> list[str]:
    """The candidates bash gets for `line` (the cursor at its end)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    done = run_completion(
        {"_IMAP_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword)}
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout.splitlines()


def zsh(line: str) -> str:
    done = run_completion({"_IMAP_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout.strip()


def fish(line: str, action: str = "get-args") -> subprocess.CompletedProcess[str]:
    return run_completion(
        {
            "_IMAP_COMPLETE": "complete_fish",
            "_TYPER_COMPLETE_ARGS": line,
            "_TYPER_COMPLETE_FISH_ACTION": action,
        }
    )


# --- the three protocols ---------------------------------------------------------------------


def test_bash_completes_an_instrument() -> None:
    assert bash("imap query --instrument s") == ["spacecraft", "swapi", "swe"]


def test_zsh_completes_an_instrument() -> None:
    assert zsh("imap query --instrument s") == (
        """_arguments '*: :(("spacecraft"\n"swapi"\n"swe"))'"""
    )


def test_zsh_describes_options_with_their_help_as_plain_text() -> None:
    out = zsh("imap query --inst")
    assert out == """_arguments '*: :(("--instrument":"Instrument, e.g. mag, swe, codice."))'"""


def test_zsh_falls_back_to_files_when_nothing_matches_and_the_word_may_be_a_path() -> None:
    assert zsh("imap coverage --svg zz") == "_files"
    # an instrument is no path: no matches, and no file names either (issue 22)
    assert zsh("imap query --instrument zz") == "return 1"


def test_fish_completes_an_instrument_and_says_files_are_not_wanted() -> None:
    got = fish("imap query --instrument s")
    assert got.returncode == 0 and got.stdout.splitlines() == ["spacecraft", "swapi", "swe"]
    assert fish("imap query --instrument s", "is-args").returncode == 0
    # no candidate for a word that is no path: exit 0, so fish offers nothing (issue 22)
    assert fish("imap query --instrument zz", "is-args").returncode == 0
    # no candidate where the word may be a path: exit 1, so fish offers files instead
    assert fish("imap coverage --svg zz", "is-args").returncode == 1


def test_fish_shows_option_help_after_a_tab() -> None:
    got = fish("imap query --data-l")
    assert got.stdout.splitlines() == ["--data-level\tData level, e.g. l1a, l2."]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "imap ",
            [  # in the order of `imap --help`'s panels
                "query",
                "download",
                "sync",
                "coverage",
                "products",
                "info",
                "parents",
                "metakernel",
                "upload",
                "jobs",
                "reprocess",
                "release",
                "webpoda",
                "config",
                "doctor",
                "serve",
            ],
        ),
        ("imap doctor -o ", ["json", "text"]),
        ("imap config ", ["show", "get", "set", "unset", "path"]),
        ("imap config get d", ["data-dir"]),
        ("imap config set ", list(settings.KEYS)),
        ("imap config unset a", ["api-key"]),
        ("imap query --data-level l1", ["l1", "l1a", "l1b", "l1c", "l1ca", "l1cb", "l1d"]),
        ("imap query -l l3", ["l3", "l3a", "l3b", "l3c", "l3d", "l3e"]),
        ("imap query --table s", ["science", "spice"]),
        ("imap query --extension p", ["pdf", "pgm", "pkts", "png"]),
        ("imap query --table spice --type lea", ["leapseconds"]),
        ("imap query --format j", ["json"]),
        ("imap query -o ", ["csv", "json", "paths", "table"]),
        ("imap query --version ", ["latest"]),
        ("imap query -i mag --version l", ["latest"]),
        ("imap config show --format t", ["table"]),
    ],
)
def test_bash_completes_values(line: str, expected: list[str]) -> None:
    assert bash(line) == expected


# --- the callbacks ---------------------------------------------------------------------------


def test_static_lists_are_the_library_ones() -> None:
    """A TAB answers them from the generated spec, which takes them from core."""
    from imap_cli.core import query as query_module

    query = {p["name"]: p["complete"] for p in SPEC["commands"]["query"]["params"]}
    assert query["instrument"]["choices"] == list(vocabulary.INSTRUMENTS)
    assert query["data_level"]["choices"] == list(vocabulary.DATA_LEVELS)
    # what the spice table accepts, less its old names (issue: completion offers what it takes)
    assert query["kernel_type"]["choices"] == list(query_module.offered_kernel_types())
    every_extension = {ext for exts in vocabulary.EXTENSIONS.values() for ext in exts}
    assert query["extension"]["choices"] == sorted(every_extension)
    get = {
        p["name"]: p["complete"] for p in SPEC["commands"]["config"]["commands"]["get"]["params"]
    }
    assert get["key"]["choices"] == list(settings.KEYS)


def test_value_callbacks_filter_by_prefix() -> None:
    assert completers.vocabulary("instruments")("hi") == ["hi", "hit"]
    assert completers.vocabulary("instruments")("x") == []
    assert completers.vocabulary("versions")("") == ["latest"]
    assert completers.vocabulary("tables")("") == ["ancillary", "quicklook", "science", "spice"]
    assert completers.vocabulary("formats")("c") == ["csv"]
    assert completers.vocabulary("spice_types")("ephemeris_p") == ["ephemeris_predicted"]
    assert completers.vocabulary("config_keys")("") == list(settings.KEYS)


KEYS = [
    "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf",
    "imap/mag/l1b/2025/10/imap_mag_l1b_norm-mago_20251017_v002.cdf",
    "imap/swe/l1a/2025/10/imap_swe_l1a_sci_20251017_v001.cdf",
]


class FakeContext:
    def __init__(self, **params: object) -> None:
        self.params = params


def test_download_items_are_filenames_then_keys_once_a_slash_is_typed() -> None:
    remember_keys(KEYS)
    assert completers.download_items("") == sorted(k.rsplit("/", 1)[1] for k in KEYS)
    assert completers.download_items("imap_mag") == [
        "imap_mag_l1a_norm-mago_20251017_v001.cdf",
        "imap_mag_l1b_norm-mago_20251017_v002.cdf",
    ]
    assert completers.download_items("imap/mag/l1b/") == [KEYS[1]]
    assert completers.download_items("imap/hi/") == []


def test_download_items_leave_out_what_is_typed_already() -> None:
    remember_keys(KEYS)
    typed = FakeContext(items=["imap_swe_l1a_sci_20251017_v001.cdf"], force=False)
    assert completers.download_items("imap_swe", typed) == []
    assert len(completers.download_items("", typed)) == 2


def test_download_items_without_recent_results_is_empty() -> None:
    assert completers.download_items("imap") == []


def test_download_items_read_the_cache_file_of_core_recent(tmp_path: Path) -> None:
    from imap_cli.core.recent import recent_keys_path

    recent_keys_path().parent.mkdir(parents=True, exist_ok=True)
    recent_keys_path().write_text(f"{KEYS[2]}\n", encoding="utf-8")
    assert completers.download_items("imap_s") == ["imap_swe_l1a_sci_20251017_v001.cdf"]


@pytest.fixture
def work_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("imap_a.cdf", "imap_b.cdf", "notes.txt", ".hidden.cdf", "data/imap_c.cdf"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "imap_dir").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_upload_files_lists_local_files_and_folders(work_dir: Path) -> None:
    assert completers.upload_files("") == [
        "imap_a.cdf",
        "imap_b.cdf",
        "notes.txt",
        "data/",
        "imap_dir/",
    ]
    assert completers.upload_files("imap_") == ["imap_a.cdf", "imap_b.cdf", "imap_dir/"]
    assert completers.upload_files("data/") == ["data/imap_c.cdf"]
    assert completers.upload_files(f"{work_dir}/n") == [f"{work_dir}/notes.txt"]
    assert completers.upload_files(".h") == [".hidden.cdf"]


def test_upload_files_leaves_folders_alone_to_the_shell(work_dir: Path) -> None:
    """Only folders match: nothing, so the shell's own path completion descends into them."""
    assert completers.upload_files("da") == []
    assert completers.upload_files("missing/") == []


def test_upload_files_leave_out_files_typed_already(work_dir: Path) -> None:
    typed = FakeContext(files=[Path("imap_a.cdf")])
    assert completers.upload_files("imap_", typed) == ["imap_b.cdf", "imap_dir/"]


def test_plain_text_removes_rich_markup_like_rich_does() -> None:
    from rich.text import Text

    from imap_cli.cli.typer_compat import plain_text

    for text in ("plain, e.g. [x]", "[bold]bold[/bold] and [red]red[/]", r"literal \[bold]"):
        assert plain_text(text) == Text.from_markup(text).plain


# --- arguments of other commands (wired in their modules) ------------------------------------


def _has_completion(command: str) -> bool:
    from imap_cli.cli.app import _load_command

    params = _load_command(command).params
    argument = next(p for p in params if p.param_type_name == "argument")
    return argument._custom_shell_complete is not None


def test_imap_download_completes_recent_query_results() -> None:
    if not _has_completion("download"):
        pytest.skip("attach autocompletion=completers.download_items to imap download's argument")
    remember_keys(KEYS)
    assert bash("imap download imap_swe") == ["imap_swe_l1a_sci_20251017_v001.cdf"]
    assert bash("imap download imap/mag/l1a/") == [KEYS[0]]


def test_imap_upload_completes_local_files(work_dir: Path) -> None:
    if not _has_completion("upload"):
        pytest.skip("attach autocompletion=completers.upload_files to imap upload's argument")
    assert bash("imap upload imap_") == ["imap_a.cdf", "imap_b.cdf", "imap_dir/"]
