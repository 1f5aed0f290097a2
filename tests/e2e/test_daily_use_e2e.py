"""Daily use without surprises, at CLI level against `imap serve --demo`: pipelines from every
query format, download's paths on stdout, tables that fit, global options anywhere, usage
errors on stderr, `-` on a terminal, and what --verify found."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

IMAP = [sys.executable, "-m", "imap_cli"]


# `imap(*argv, stdin=..., env=...)` is the in-process runner of conftest.py (its result has
# returncode, stdout and stderr, like a subprocess's); subprocesses are kept for what needs
# one: real pipes between processes, a terminal.


def mag_query(imap, fmt: str) -> str:
    done = imap("query", "-i", "mag", "-l", "l1a", "-o", fmt)
    assert done.returncode == 0, done.stderr
    return done.stdout


# --- 1. every query output feeds `imap download -` --------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "paths", "names", "table"])
def test_every_query_output_feeds_download(imap, sdc_env, fmt: str) -> None:
    keys = mag_query(imap, "paths").split()
    if fmt == "jsonl":
        text = "".join(json.dumps(r) + "\n" for r in json.loads(mag_query(imap, "json")))
    elif fmt == "names":
        text = "\n".join(k.rpartition("/")[2] for k in keys) + "\n"
    else:
        text = mag_query(imap, fmt)
    done = imap("download", "-", stdin=text)
    assert done.returncode == 0, done.stderr
    expected = [str(sdc_env.data_dir.resolve() / k) for k in keys]
    assert done.stdout.splitlines() == expected
    assert all(Path(p).is_file() for p in expected)


def test_download_takes_its_own_output(imap, sdc_env) -> None:
    """`imap download ... | imap download -`: the absolute paths inside the data dir."""
    keys = mag_query(imap, "paths").split()
    first = imap("download", *keys)
    assert first.returncode == 0 and first.stdout.startswith(str(sdc_env.data_dir.resolve()))
    again = imap("download", "-", stdin=first.stdout)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout and "skipped" in again.stderr
    outside = imap("download", "-", stdin="/elsewhere/" + keys[0] + "\n")
    assert outside.returncode == 2 and "absolute path" in outside.stderr


def test_json_default_of_a_piped_query_feeds_download(imap, sdc_env) -> None:
    query = subprocess.Popen([*IMAP, "query", "-i", "mag"], stdout=subprocess.PIPE)
    done = subprocess.run(
        [*IMAP, "download", "-"], stdin=query.stdout, capture_output=True, text=True, timeout=60
    )
    query.wait(timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(mag_query(imap, "paths").split()) + len(
        imap("query", "-i", "mag", "-l", "l1b", "-o", "paths").stdout.split()
    ) + len(imap("query", "-i", "mag", "-l", "l2", "-o", "paths").stdout.split()) + len(
        imap("query", "-i", "mag", "-l", "l0", "-o", "paths").stdout.split()
    )


@pytest.mark.parametrize(
    "text",
    [
        "INSTRUMENT  LEVEL  DESCRIPTOR  NAME\nmag  l1a  norm-mago  " + "x" * 5000 + "\n",
        "[" + '{"file_path": "imap/mag/l1a/2025/10/a.cdf"},' * 300 + "\n",  # broken JSON
        "instrument,data_level\n" + "mag,l1a\n" * 300,  # CSV without file_path
        '{"instrument": "mag"}\n' * 300,  # records without a name
    ],
)
def test_anything_else_is_one_short_error(imap, sdc_env, text: str) -> None:
    done = imap("download", "-", stdin=text)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Error", "Hint"]
    assert "-o paths" in lines[1] and all(len(line) <= 80 for line in lines)
    assert len(done.stderr) < 400  # never the input echoed back whole


def test_upload_reads_stdin_with_the_same_parser(imap, sdc_env, tmp_path: Path) -> None:
    name = "imap_mag_l1b_norm-mago_20251031_v009.0001.cdf"
    (tmp_path / name).write_bytes(b"cdf bytes")
    listing = f"file_path,instrument\n{tmp_path / name},mag\n"
    done = imap("upload", "--dry-run", "-", stdin=listing)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"imap/mag/l1b/2025/10/{name}"]
    bad = imap("upload", "-", stdin="not,a,listing\n1,2,3\n")
    assert bad.returncode == 2 and "-o paths" in bad.stderr and bad.stdout == ""


# --- 5. download's stdout is the local paths ------------------------------------------------


def test_download_prints_every_present_path_in_input_order(imap, sdc_env) -> None:
    keys = mag_query(imap, "paths").split()[:4]
    first = imap("download", keys[2])
    assert first.stdout.splitlines() == [str(sdc_env.data_dir.resolve() / keys[2])]
    names = [keys[3], keys[2].rpartition("/")[2], keys[0], keys[2]]  # a skip and a duplicate
    done = imap("download", *names)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        str(sdc_env.data_dir.resolve() / k) for k in (keys[3], keys[2], keys[0])
    ]
    assert "skipped 1" in done.stderr


def test_a_failed_file_is_not_printed_but_the_others_are(imap, sdc_env) -> None:
    keys = mag_query(imap, "paths").split()[:1]
    missing = "imap_mag_l1a_norm-mago_20240101_v001.0000.cdf"
    done = imap("download", keys[0], missing)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [str(sdc_env.data_dir.resolve() / keys[0])]
    assert missing in done.stderr


# --- 10. --verify says what it found ---------------------------------------------------------


def test_verify_reports_matched_and_differed(imap, sdc_env) -> None:
    keys = mag_query(imap, "paths").split()[:3]
    assert imap("download", *keys).returncode == 0
    changed = sdc_env.data_dir / keys[1]
    changed.write_bytes(b"not what the SDC has")
    done = imap("download", "--verify", *keys)
    assert done.returncode == 0, done.stderr
    assert "2 matched the SDC, 1 differed and was downloaded again" in done.stderr
    assert changed.read_bytes() != b"not what the SDC has"
    assert len(done.stdout.splitlines()) == 3


# --- 4. global options before or after the command -------------------------------------------


def test_global_options_work_after_the_command(imap, sdc_env, tmp_path: Path) -> None:
    quiet = imap("query", "-i", "mag", "-o", "paths", "-q")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout
    loud = imap("query", "-i", "mag", "-o", "paths")
    assert "Found" in loud.stderr
    other = tmp_path / "elsewhere"
    key = quiet.stdout.split()[0]
    done = imap("download", key, "--data-dir", str(other), env={"IMAP_DATA_DIR": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(other.resolve() / key)
    refused = imap("query", "-i", "mag", "--url", "http://127.0.0.1:9", env={"IMAP_RETRIES": "0"})
    assert refused.returncode == 3 and "127.0.0.1:9" in refused.stderr
    verbose = imap("query", "-i", "mag", "-o", "paths", "-v", "-v")
    assert verbose.returncode == 0


@pytest.mark.parametrize("command", ["query", "download", "upload", "serve", "config show"])
def test_global_options_show_in_each_commands_help(imap, command: str) -> None:
    done = imap(*command.split(), "--help", env={"COLUMNS": "100"})
    assert done.returncode == 0
    for option in ("--url", "--data-dir", "--quiet", "--verbose", "--debug"):
        assert option in done.stdout, (command, option)


# --- 7. usage errors on stderr ------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["query"], "--instrument mag"),
        (["query", "--table", "spice"], "--type"),
        (["download"], "imap download -"),
        (["upload"], "imap upload -"),
        (["release"], "imap release imap_hit_data-release-"),
        (["reprocess"], "imap reprocess --start-date"),
    ],
)
def test_a_command_without_input_is_one_error_and_a_hint(imap, argv: list[str], hint: str) -> None:
    done = imap(*argv)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: ") and lines[1].startswith("Hint: ")
    assert hint in lines[1]
    if "spice" in argv:
        assert "--instrument" not in lines[1]  # the spice table refuses it


# --- 9. `-` on a terminal says what it waits for ------------------------------------------


def test_dash_on_a_terminal_says_what_it_expects(sdc_env) -> None:
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [*IMAP, "download", "-"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
    )
    os.close(terminal)
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 30)
        assert ready, "nothing on stderr while waiting for the terminal"
        said = os.read(proc.stderr.fileno(), 4096).decode()
        assert "one per line" in said and "Ctrl-D" in said
        os.write(controller, b"\x04")  # end of input: nothing to download
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)


# --- 2. tables fit the terminal --------------------------------------------------------------

WIDE = {
    "hi": ["-i", "hi"],  # repointing column, 59-character names
    "glows": ["-i", "glows"],  # CR column, 62-character names
    "spice": ["--table", "spice", "--type", "kernels"],
    "mag": ["-i", "mag"],
}


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("which", list(WIDE))
def test_tables_fit_the_width_and_never_cut_a_name(imap, sdc_env, width: int, which: str) -> None:
    done = imap("query", *WIDE[which], "-o", "table", env={"COLUMNS": str(width)})
    assert done.returncode == 0, done.stderr
    paths = imap("query", *WIDE[which], "-o", "paths").stdout.split()
    names = [p.rpartition("/")[2] for p in paths]
    header, _rule, *rows = done.stdout.splitlines()
    assert len(rows) == len(names)
    for row, name in zip(rows, names):
        assert row.endswith(name)  # the whole name, on its own line's end
        assert len(row) <= width or row == name  # a name longer than the width stands alone
    assert len(header) <= width
    wide = imap("query", *WIDE[which], "-o", "table", env={"COLUMNS": "400"})
    assert len(wide.stdout.splitlines()[0].split()) >= len(header.split())


def test_columns_go_least_important_first(imap, sdc_env) -> None:
    def header(width: int) -> list[str]:
        out = imap("query", "-i", "hi", "-o", "table", env={"COLUMNS": str(width)}).stdout
        return out.splitlines()[0].replace("REPOINT", "REPOINT").split()

    assert header(400) == [
        "INSTRUMENT",
        "LEVEL",
        "DESCRIPTOR",
        "START",
        "REPOINT",
        "VERSION",
        "INGESTED",
        "FILENAME",
    ]
    assert "INGESTED" not in header(120) and "START" in header(120)
    assert header(80)[-1] == "FILENAME" and "REPOINT" in header(80)


# --- 8. settings: an override is said, and the data-dir hint fits its origin ---------------


def test_config_set_warns_when_the_environment_overrides_it(imap, tmp_path: Path) -> None:
    env = {"IMAP_DATA_DIR": str(tmp_path / "from-env")}
    done = imap("config", "set", "data-dir", str(tmp_path / "saved"), env=env)
    assert done.returncode == 0
    assert "Warning: IMAP_DATA_DIR is set and wins over it; `unset IMAP_DATA_DIR`" in done.stderr
    quiet = imap("config", "set", "jobs", "4")
    assert quiet.returncode == 0 and "Warning" not in quiet.stderr


@pytest.mark.parametrize(
    ("where", "hint"),
    [
        ("flag", "this one came from --data-dir."),
        ("env", "IMAP_DATA_DIR set this one; change it, or unset it."),
        ("file", "imap config set data-dir"),
    ],
)
def test_unusable_data_dir_hint_fits_its_origin(imap, sdc_env, tmp_path: Path, where, hint) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad = str(blocker / "data")
    name = mag_query(imap, "paths").split()[0]
    if where == "flag":
        done = imap("download", name, "--data-dir", bad)
    elif where == "env":
        done = imap("download", name, env={"IMAP_DATA_DIR": bad})
    else:
        assert imap("config", "set", "data-dir", bad).returncode == 0
        done = imap("download", name, env={"IMAP_DATA_DIR": ""})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[-1] == f"Hint: {hint}" or hint in done.stderr.splitlines()[-1]


def test_query_download_prints_local_paths_or_the_asked_format(imap, sdc_env) -> None:
    keys = imap("query", "-i", "mag", "-l", "l2", "-o", "paths").stdout.split()
    done = imap("query", "-i", "mag", "-l", "l2", "--download")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(sdc_env.data_dir.resolve() / k) for k in keys]
    asked = imap("query", "-i", "mag", "-l", "l2", "--download", "-o", "paths")
    assert asked.stdout.split() == keys  # the query's list, not the local paths


@pytest.mark.parametrize(
    "argv",
    [
        ["download", "-"],
        ["query", "-i", "mag", "-o", "paths"],
        ["query", "-i", "mag", "-o", "json"],
        ["config", "show"],
    ],
)
def test_a_reader_that_leaves_early_does_not_change_the_exit_code(sdc_env, argv) -> None:
    keys = subprocess.run(
        [sys.executable, "-m", "imap_cli", "query", "-i", "mag", "-o", "paths"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # the reader is gone before anything is written: EPIPE at once
    try:
        done = subprocess.run(
            [sys.executable, "-m", "imap_cli", *argv],
            input=keys if argv[-1] == "-" else None,
            stdout=write_fd,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_fd)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if argv[0] == "download":
        # the summary still comes
        assert f"Downloaded {len(keys.split())} files" in done.stderr
