"""`imap info` and `imap parents` at the terminal: without cdflib, bad inputs, formats."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from imap_cli.server.demo_files import cdf, packets

NAME = "imap_mag_l1b_norm-mago_20251001_v001.0000.cdf"
DEAD = "http://127.0.0.1:9"  # nothing listens: a request would fail the test


@pytest.fixture
def made(tmp_path: Path) -> Path:
    path = tmp_path / NAME
    path.write_bytes(cdf(NAME, ("naif0012.tls",), dt.datetime(2025, 10, 2)))
    return path


def test_without_cdflib_one_line_says_the_pip_line(imap, made, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "cdflib", None)
    ran = imap("info", str(made))
    assert ran.code == 2
    first = ran.err.splitlines()[0]
    assert first.startswith("Error:") and "pip install 'imap-sdc-cli[cdf]'" in first
    assert ran.err.count("Error:") == 1 and ran.out == ""


def test_parents_of_an_imap_cdf_need_no_cdflib(imap, tmp_path, monkeypatch) -> None:
    path = tmp_path / "imap_mag_l1a_norm-mago_20251001_v001.0000.cdf"
    path.write_bytes(cdf(path.name, ("a.txt", "b.txt"), dt.datetime(2025, 10, 2)))
    monkeypatch.setitem(sys.modules, "cdflib", None)
    ran = imap("parents", str(path), "-o", "json", env={"IMAP_DATA_ACCESS_URL": DEAD})
    assert ran.code == 0, ran.err
    assert [p["name"] for p in json.loads(ran.out)[0]["parents"]] == ["a.txt", "b.txt"]


def test_info_of_local_files_reads_them_in_place(imap, made, tmp_path) -> None:
    pkts = tmp_path / "imap_codice_l0_raw_20251010_v001.0000.pkts"
    pkts.write_bytes(packets(pkts.name, "codice", "20251010"))
    ran = imap("info", str(made), str(pkts), "-o", "json")
    assert ran.code == 0, ran.err
    kinds = [(Path(d["path"]).name, d["kind"]) for d in json.loads(ran.out)]
    assert kinds == [(NAME, "cdf"), (pkts.name, "pkts")]


def test_a_folder_or_nothing_is_a_usage_error(imap, tmp_path) -> None:
    ran = imap("info", str(tmp_path))
    assert ran.code == 2 and "is a folder" in ran.err
    ran = imap("parents")
    assert ran.code == 2 and "no files given" in ran.err


def test_an_unknown_format_is_refused(imap, made) -> None:
    ran = imap("info", str(made), "-o", "csv")
    assert ran.code == 2 and "'csv' is not an output format" in ran.err


def test_a_file_without_parents_lists_none_and_asks_nothing(imap, tmp_path) -> None:
    path = tmp_path / "imap_mag_l1a_norm-mago_20251001_v001.0000.cdf"
    path.write_bytes(cdf(path.name, (), dt.datetime(2025, 10, 2)))
    ran = imap("parents", str(path), "-o", "table", env={"IMAP_DATA_ACCESS_URL": DEAD})
    assert ran.code == 0, ran.err
    assert "names no parents" in ran.out
