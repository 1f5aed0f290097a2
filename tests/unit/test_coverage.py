"""core.coverage: the grid and gaps built from records, and the options checked."""

from __future__ import annotations

import datetime as dt

import pytest
import responses

from imap_cli.core.coverage import build_coverage, fetch_coverage, plan_coverage
from imap_cli.core.errors import UsageError
from imap_cli.core.http import SDCClient
from imap_cli.core.settings import resolve

URL = "https://sdc.test/api"


def row(level: str, day: str, version: str = "v001.0000", descriptor: str = "sci", **extra):
    major, minor = int(version[1:4]), int(version[5:])
    return {
        "file_path": f"imap/swapi/{level}/x_{descriptor}_{day}_{version}.cdf",
        "instrument": "swapi",
        "data_level": level,
        "descriptor": descriptor,
        "start_date": day,
        "repointing": extra.get("repointing"),
        "major_version": major,
        "minor_version": minor,
        "version": version,
    }


def test_latest_version_per_day_and_stale_days() -> None:
    rows = [
        row("l2", "20251001"),
        row("l2", "20251001", "v001.0001"),
        row("l2", "20251002", "v002.0000"),
        row("l1", "20251001"),
        row("l1", "20251002"),
    ]
    found = build_coverage(plan_coverage("swapi", start_date="20251001", end_date="20251002"), rows)
    l1, l2 = found.products
    assert (l1.label, l2.label) == ("l1 sci", "l2 sci")  # level order, not answer order
    day1, day2 = dt.date(2025, 10, 1), dt.date(2025, 10, 2)
    assert l2.versions == {day1: "v001.0001", day2: "v002.0000"} and l2.files[day1] == 2
    assert l2.stale(day1) and not l2.stale(day2) and l2.newest == "v002.0000"
    assert found.gaps == [] and found.files == 5


def test_gaps_split_where_lower_levels_stop() -> None:
    rows = [row("l0", f"202510{d:02d}") for d in (1, 2, 3, 6)]
    rows += [row("l1", f"202510{d:02d}") for d in (1, 6)]
    found = build_coverage(plan_coverage("swapi", start_date="20251001", end_date="20251006"), rows)
    gaps = [(g.data_level, g.first.day, g.last.day, g.length, g.present_below) for g in found.gaps]
    assert gaps == [
        ("l0", 4, 5, 2, ()),
        ("l1", 2, 3, 2, ("l0",)),  # l0 there: a reprocess could fill it
        ("l1", 4, 5, 2, ()),  # nothing below: missing data
    ]


def test_default_range_ends_at_the_instruments_newest_file() -> None:
    rows = [row("l1", "20251231"), row("l2", "20251201"), row("l2", "20250101")]
    found = build_coverage(plan_coverage("swapi", data_level="l2"), rows)
    assert (found.start, found.end) == (dt.date(2025, 10, 3), dt.date(2025, 12, 31))
    assert [p.label for p in found.products] == ["l2 sci"]
    assert len(found.columns) == 90 and found.files == 1
    # l2 is behind l1: its missing days show, 12-31 (l1 present) as a processing gap
    tail = [(g.first.day, g.last.day, g.present_below) for g in found.gaps[-2:]]
    assert tail == [(2, 30, ()), (31, 31, ("l1",))]


def test_repointing_columns_and_files_without_one() -> None:
    rows = [row("l1a", "20251001", repointing=n) for n in (40, 41, 43)]
    rows.append(row("l1a", "20251002"))  # no repointing
    found = build_coverage(plan_coverage("hi", start_date="20251001", end_date="20251005"), rows)
    assert found.by == "repointing" and found.columns == [40, 41, 42, 43]
    assert [(g.first, g.last) for g in found.gaps] == [(42, 42)] and found.unplaced == 1
    assert found.as_dict()["products"][0]["days"] == {
        "40": "v001.0000",
        "41": "v001.0000",
        "43": "v001.0000",
    }


def test_ancillary_files_cover_start_to_end() -> None:
    rows = [
        {"descriptor": "cal", "start_date": "20251001", "end_date": "20251003", "version": "v001"},
        {"descriptor": "cal", "start_date": "20251003", "end_date": None, "version": "v002"},
    ]
    plan = plan_coverage("mag", table="ancillary", start_date="20250930", end_date="20251005")
    assert plan.query().params == (("table", "ancillary"), ("instrument", "mag"),
                                   ("end_date", "20251005"))  # fmt: skip
    found = build_coverage(plan, rows)
    (cal,) = found.products
    assert cal.data_level is None and len(cal.versions) == 5
    assert cal.versions[dt.date(2025, 10, 3)] == "v002" and cal.stale(dt.date(2025, 10, 1))
    assert [(g.first, g.length) for g in found.gaps] == [(dt.date(2025, 9, 30), 1)]


def test_csv_rows_cover_every_product_and_day() -> None:
    rows = [row("l1", "20251001"), row("l2", "20251002")]
    found = build_coverage(plan_coverage("swapi", start_date="20251001", end_date="20251003"), rows)
    table = found.csv_rows()
    assert len(table) == 2 * 3
    assert table[0] == ["l1", "sci", "2025-10-01", "true", "v001.0000", 1]
    assert table[1] == ["l1", "sci", "2025-10-02", "false", "", 0]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "instrument"),
        ({"instrument": "nope"}, "instrument"),
        ({"instrument": "mag", "by": "week"}, "by"),
        ({"instrument": "mag", "data_level": ["l1a", "l7"]}, "data_level"),
        ({"instrument": "mag", "descriptor": "a_b"}, "descriptor"),
        ({"instrument": "mag", "start_date": "20251002", "end_date": "20251001"}, "start_date"),
        ({"instrument": "mag", "table": "spice"}, "table"),
        ({"instrument": "mag", "table": "ancillary", "by": "repointing"}, "by"),
    ],
)
def test_bad_options(options: dict, field: str) -> None:
    with pytest.raises(UsageError) as caught:
        plan_coverage(**options)
    assert caught.value.field == field


def test_plan_defaults() -> None:
    assert plan_coverage("lo").by == "repointing" and plan_coverage("swe").by == "day"
    plan = plan_coverage("mag", data_level="l1a, l1b", end_date="2025-10-31")
    assert plan.data_levels == ("l1a", "l1b")
    assert plan.start == dt.date(2025, 8, 3)  # 90 days ending at the end date
    # Every level is asked for: the lower levels of a gap are part of the answer.
    assert dict(plan.query().params) == {
        "table": "science",
        "instrument": "mag",
        "start_date": "20250803",
        "end_date": "20251031",
    }


@responses.activate
def test_one_query() -> None:
    responses.get(f"{URL}/query", json=[row("l1", "20251001")])
    client = SDCClient(resolve(flags={"url": URL}))
    found = fetch_coverage(client, plan_coverage("swapi", end_date="20251001"))
    assert len(responses.calls) == 1 and found.products[0].label == "l1 sci"


def test_default_range_starts_no_earlier_than_the_selection() -> None:
    rows = [row("l1", "20251101"), row("l1", "20251110")]
    found = build_coverage(plan_coverage("swapi"), rows)
    assert (found.start, found.end) == (dt.date(2025, 11, 1), dt.date(2025, 11, 10))
    asked = build_coverage(plan_coverage("swapi", end_date="20251110"), rows)
    assert asked.start == dt.date(2025, 8, 13)  # a range asked for is kept
