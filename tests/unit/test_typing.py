"""Type checkers see the API (issue 25): mypy passes the public modules and a typed notebook
sample, and catches a misspelt keyword and a wrong type in a caller's code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = Path(__file__).with_name("typed_sample.py")

MISTAKES = """
import imap_cli

rows = imap_cli.query(instrumnet="mag", data_level="l1b")
files = imap_cli.download_many(rows, dryrun=True)
client = imap_cli.Client(jbos=4)
count: int = imap_cli.download("imap_mag_l1b_norm-mago_20251001_v001.0002.cdf")
"""


def mypy(tmp_path: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
            *map(str, files),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_mypy_passes_the_typed_sample_and_catches_the_mistakes(tmp_path: Path) -> None:
    wrong = tmp_path / "notebook_mistakes.py"
    wrong.write_text(MISTAKES, encoding="utf-8")
    done = mypy(tmp_path, SAMPLE, wrong)
    lines = done.stdout.splitlines()
    # The typed sample is clean: every error is in the file with the mistakes.
    assert [line for line in lines if "typed_sample" in line] == [], done.stdout
    text = "\n".join(lines)
    assert 'Unexpected keyword argument "instrumnet" for "query"' in text
    assert 'Unexpected keyword argument "dryrun" for "download_many"' in text
    assert 'Unexpected keyword argument "jbos" for "Client"' in text
    assert 'Incompatible types in assignment (expression has type "Path"' in text
    assert done.returncode == 1
