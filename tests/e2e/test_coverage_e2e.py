"""`imap coverage` end to end: against `imap serve` over the demo archive with a small response
limit (so the one query is fetched in parts), and against the independent fake SDC."""

from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from realistic_sdc import RealisticSDC

import imap_cli
from imap_cli.server import RunningServer, start_server
from imap_cli.server.demo import build_demo

LIMIT = 6000  # bytes: about 16 science rows an answer, so swapi's ~310 rows come in parts


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("archive")
    build_demo(root)
    with start_server(root, max_response_bytes=LIMIT) as server:
        yield server


@pytest.fixture
def imap(imap, limited: RunningServer):
    return imap.against(limited.url, retries=1, prefix=("coverage",))


def _json(imap, *argv: str) -> dict:
    code, out, err = imap(*argv, "-o", "json")
    assert code == 0, err
    return json.loads(out)


def test_products_days_and_latest_versions(imap, limited: RunningServer) -> None:
    before = len(limited.requests)
    data = _json(imap, "-i", "swapi")
    assert len(limited.requests) - before > 2  # too large for one answer: asked in parts
    assert set(data) == {"instrument", "start", "end", "products", "gaps"}
    assert (data["instrument"], data["start"], data["end"]) == ("swapi", "2025-09-30", "2025-11-28")
    products = {(p["data_level"], p["descriptor"]): p for p in data["products"]}
    assert list(products) == [("l0", "raw"), ("l1", "sci"), ("l2", "sci"), ("l3a", "proton-sw")]
    assert {k: p["days_present"] for k, p in products.items()} == {
        ("l0", "raw"): 58,
        ("l1", "sci"): 57,
        ("l2", "sci"): 49,
        ("l3a", "proton-sw"): 28,
    }
    l2 = products[("l2", "sci")]["days"]
    assert l2["2025-10-01"] == "v001.0000" and l2["2025-11-05"] == "v002.0000"
    assert "2025-10-12" not in l2 and len(l2) == 49
    for product in data["products"]:
        assert product["days_present"] == len(product["days"])


def test_gaps_tell_processing_from_data(imap) -> None:
    gaps = _json(imap, "-i", "swapi", "-l", "l1,l2")["gaps"]
    assert [
        (g["data_level"], g["first"], g["last"], g["days"], g["present_below"]) for g in gaps
    ] == [
        ("l1", "2025-10-20", "2025-10-20", 1, ["l0"]),
        ("l1", "2025-10-21", "2025-10-22", 2, []),
        ("l2", "2025-10-10", "2025-10-14", 5, ["l0", "l1"]),
        ("l2", "2025-10-20", "2025-10-20", 1, ["l0"]),
        ("l2", "2025-10-21", "2025-10-22", 2, []),
        ("l2", "2025-11-26", "2025-11-28", 3, ["l0", "l1"]),
    ]
    assert {g["descriptor"] for g in gaps} == {"sci"}
    # the same range with l2 alone: it ends at the instrument's newest file, not l2's
    only = _json(imap, "-i", "swapi", "-l", "l2", "--gaps")
    assert only == [g for g in gaps if g["data_level"] == "l2"]


@pytest.mark.parametrize("width", [80, 120])
def test_table_fits_the_terminal(imap, width: int) -> None:
    code, out, err = imap("-i", "swapi", "-o", "table", env={"COLUMNS": str(width)})
    assert code == 0, err
    lines = out.splitlines()
    assert max(map(len, lines)) <= width
    rows = {" ".join(line.split()[:2]): line for line in lines if "/60" in line}
    assert list(rows) == ["l0 raw", "l1 sci", "l2 sci", "l3a proton-sw"]
    assert rows["l2 sci"].endswith(" 49/60")
    # a column a day: the two lost days are two dots; l1's unprocessed day a circle
    assert "one column" not in out
    assert rows["l0 raw"].split()[2] == "█" * 21 + "··" + "█" * 37
    assert rows["l1 sci"].split()[2][20:23] == "○··"
    l2 = rows["l2 sci"].split()[2]
    assert l2[:10] == "▒" * 10 and l2[10:15] == "○" * 5 and l2[-3:] == "○○○"
    assert "09-30" in out and "○ missing, a lower level has files" in out
    assert "l2 sci: 2025-10-10 .. 2025-10-14 (5 days), l0 and l1 present" in out
    assert "l1 sci: 2025-10-21 .. 2025-10-22 (2 days), nothing below (no data)" in out
    assert "imap reprocess -i swapi" in out
    assert "\x1b[" not in out  # not a terminal: no colour codes


@pytest.mark.parametrize(("width", "days"), [(80, 3), (120, 2)])
def test_a_wide_range_bins_days(imap, width: int, days: int) -> None:
    argv = ("-i", "swapi", "-s", "20250801", "-e", "20251130", "-o", "table")
    code, out, err = imap(*argv, env={"COLUMNS": str(width)})
    assert code == 0, err
    assert max(map(len, out.splitlines())) <= width
    assert f"one column = {days} days" in out and "some days" in out
    l0 = next(line for line in out.splitlines() if line.startswith("l0 raw")).split()[2]
    assert len(l0) == -(-122 // days) and l0.startswith("·" * (60 // days))
    assert set(l0) & set("▁▂▃▄▅▆▇")  # a column partly filled shows how much


def test_csv_one_row_per_product_and_day(imap) -> None:
    code, out, err = imap("-i", "swapi", "-o", "csv")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["data_level", "descriptor", "date", "present", "latest_version", "files"]
    assert len(rows) == 1 + 4 * 60
    assert ["l2", "sci", "2025-10-12", "false", "", "0"] in rows
    assert ["l2", "sci", "2025-11-05", "true", "v002.0000", "1"] in rows


def test_svg_and_html_files(imap, tmp_path: Path) -> None:
    svg, html = tmp_path / "cov.svg", tmp_path / "cov.html"
    code, _, err = imap("-i", "swapi", "-o", "json", "--svg", str(svg), "--html", str(html))
    assert code == 0, err
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "l3a" in svg.read_text() and "l2" in html.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    mask = os.umask(0)
    os.umask(mask)
    assert svg.stat().st_mode & 0o777 == 0o666 & ~mask or os.name == "nt"  # as any new file
    code, _, err = imap("-i", "swapi", "--svg", str(tmp_path / "no" / "cov.svg"))
    assert code == 2 and "cannot write the SVG file" in err


def test_repointing_mode(imap) -> None:
    data = _json(imap, "-i", "ultra")  # by repointing, the default for ultra
    l1a, l1b = data["products"]
    assert (l1a["data_level"], l1b["data_level"]) == ("l1a", "l1b")
    assert sorted(map(int, l1a["days"])) == [n for n in range(40, 56) if n != 50]
    assert [(g["data_level"], g["first"], g["last"], g["present_below"]) for g in data["gaps"]] == [
        ("l1a", 50, 50, []),
        ("l1b", 46, 47, ["l1a"]),
        ("l1b", 50, 50, []),
    ]
    code, out, _ = imap("-i", "ultra", "-o", "table", env={"COLUMNS": "80"})
    assert code == 0 and "repointings 40 .. 55" in out and "46 .. 47 (2 repointings)" in out
    by_day = _json(imap, "-i", "ultra", "--by", "day")
    assert by_day["products"][0]["days"]["2025-10-01"] == "v001.0000"


def test_ancillary_coverage(imap) -> None:
    data = _json(imap, "-i", "mag", "--table", "ancillary", "-s", "20251001", "-e", "20251031")
    days = {p["descriptor"]: p["days"] for p in data["products"]}
    assert days["l1b-cal"]["2025-10-31"] == "v002"  # the newer of two versions
    assert len(days["l2-offsets"]) == 15
    assert data["gaps"] == [
        {
            "data_level": None,
            "descriptor": "l2-offsets",
            "first": "2025-10-16",
            "last": "2025-10-31",
            "days": 16,
            "present_below": [],
        }
    ]


def test_empty_range_says_so(imap) -> None:
    code, out, err = imap("-i", "swapi", "-s", "20200101", "-e", "20200131", "-o", "table")
    assert code == 0 and out == ""
    assert "No science files of swapi from 2020-01-01 .. 2020-01-31 match" in err
    data = _json(imap, "-i", "swapi", "-s", "20200101", "-e", "20200131")
    assert data["products"] == [] and data["gaps"] == []


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("-i", "nope"), "not a valid instrument"),
        (("-s", "20251001"), "needs an instrument"),
        (("-i", "swapi", "--by", "week"), "'week' is not a valid --by value"),
        (("-i", "swapi", "-s", "20251010", "-e", "20251001"), "is after the end date"),
        (("-i", "swapi", "-l", "l9"), "not a valid data level"),
        (("-i", "mag", "--table", "ancillary", "-l", "l1a"), "no data level"),
        (("-i", "swapi", "-o", "paths"), "not an output format"),
        (("-i", "swapi", "-s", "2025-13-01"), "no such day"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(imap, argv: tuple[str, ...], words: str) -> None:
    code, out, err = imap(*argv)
    assert code == 2 and out == ""
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and words in errors[0], err


def test_python_api_is_the_json(imap) -> None:
    assert imap_cli.coverage(instrument="swapi", data_level=["l2"]) == _json(
        imap, "-i", "swapi", "-l", "l2"
    )


def test_independent_fake_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake answers the gateway's 500 to a large query; the grid is the same in parts."""
    with RealisticSDC() as fake:
        for day in range(1, 31):
            for level in ("l1", "l2"):
                if level == "l2" and day in (5, 6):
                    continue
                name = f"imap_swapi_{level}_sci_202510{day:02d}_v001.0000.cdf"
                fake.add_science(f"imap/swapi/{level}/2025/10/{name}", b"x")
        monkeypatch.setenv("IMAP_DATA_ACCESS_URL", fake.api_url)
        whole = imap_cli.coverage(instrument="swapi")
        fake.max_response_bytes = 4000
        assert imap_cli.coverage(instrument="swapi") == whole
        assert any(seen.status == 500 for seen in fake.seen)
    assert whole["start"] == "2025-10-01" and whole["end"] == "2025-10-30"
    l2_gaps = [g for g in whole["gaps"] if g["data_level"] == "l2"]
    assert l2_gaps[-1] == {
        "data_level": "l2",
        "descriptor": "sci",
        "first": "2025-10-05",
        "last": "2025-10-06",
        "days": 2,
        "present_below": ["l1"],
    }
