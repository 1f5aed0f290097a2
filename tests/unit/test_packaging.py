"""The distribution: its name, one version, the `imap` entry point, and Typer left uncapped."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import imap_cli

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())


def test_the_distribution_is_imap_sdc_cli_with_the_package_version() -> None:
    """`imap-cli` on PyPI is someone else's e-mail tool."""
    assert PYPROJECT["project"]["name"] == "imap-sdc-cli"
    assert metadata.version("imap-sdc-cli") == imap_cli.__version__
    assert metadata.distribution("imap-sdc-cli").read_text("top_level.txt") in (None, "imap_cli\n")


def test_imap_is_the_light_entry_point() -> None:
    (script,) = [
        e
        for e in metadata.distribution("imap-sdc-cli").entry_points
        if e.group == "console_scripts"
    ]
    assert (script.name, script.value) == ("imap", "imap_cli.cli.entry:main")


def test_typer_has_no_upper_bound() -> None:
    (typer,) = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("typer")]
    assert ">=" in typer and "<" not in typer.replace(">=", "")
