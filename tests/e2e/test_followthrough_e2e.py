"""Follow-through against the independent fake SDC: `--ingested-since/--ingested-before` to the
second (the SDC filters whole days), and `--highest-level` (the best level of each day).

The fake's rows carry chosen ingestion times, on both sides of a second boundary and of
midnight; the tests read what the client asked for and what it kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from realistic_sdc import RealisticSDC, S3Object, md5_etag, science_row

import imap_cli


def _add(fake: RealisticSDC, name: str, ingested: str) -> str:
    """A science file in the fake, with its ingestion time (`YYYYMMDD HH:MM:SS`, UTC)."""
    from imap_cli.core.naming import parse

    key = parse(name).key
    data = name.encode()
    with fake.lock:
        fake.objects[key] = S3Object(data, md5_etag(data))
        fake.rows.append(science_row(key, released=True, ingested=ingested))
    return key


# day of the file -> its ingestion time; around 2025-10-01 23:59:59 / 2025-10-02 00:00:00 UTC
INGESTED = {
    1: "20250930 23:59:59",
    2: "20251001 12:00:00",
    3: "20251001 12:00:01",
    4: "20251001 23:59:59",
    5: "20251002 00:00:00",
    6: "20251002 00:00:01",
    7: "20251003 08:00:00",
}


def mag(day: int) -> str:
    return f"imap_mag_l1a_norm-mago_202509{day:02d}_v001.0001.cdf"


@pytest.fixture
def fake() -> Iterator[RealisticSDC]:
    with RealisticSDC() as sdc:
        for day, ingested in INGESTED.items():
            _add(sdc, mag(day), ingested)
        yield sdc
    assert sdc.server_errors == []


@pytest.fixture
def imap_fake(imap, fake: RealisticSDC, tmp_path: Path):
    return imap.against(fake.api_url, data_dir=tmp_path / "data")


def days_of(out: str) -> list[int]:
    return sorted(int(row["start_date"][-2:]) for row in json.loads(out))


def queries(fake: RealisticSDC) -> list[dict[str, str]]:
    return [s.query for s in fake.seen if s.server == "api" and s.path.endswith("/query")]


@pytest.mark.parametrize(
    ("args", "days"),
    [
        # at the second: 12:00:01 kept, 12:00:00 left out
        (["--ingested-since", "2025-10-01T12:00:01"], [3, 4, 5, 6, 7]),
        (["--ingested-since", "2025-10-01T12:00:00Z"], [2, 3, 4, 5, 6, 7]),
        # before is exclusive: 12:00:01 is not before 12:00:01
        (["--ingested-before", "2025-10-01T12:00:01"], [1, 2]),
        # across midnight: one second either side of 2025-10-02 00:00:00
        (
            ["--ingested-since", "2025-10-01T23:59:59", "--ingested-before", "2025-10-02T00:00:01"],
            [4, 5],
        ),
        (["--ingested-before", "2025-10-02"], [1, 2, 3, 4]),  # a date: its midnight, UTC
        # an offset: 02:00:00+02:00 is 00:00:00 UTC on the 2nd
        (["--ingested-since", "2025-10-02T02:00:00+02:00"], [5, 6, 7]),
        # a negative offset crosses midnight the other way: 19:59:59-04:00 is 23:59:59 UTC
        (["--ingested-since", "2025-10-01T19:59:59-04:00", "--ingested-before", "2025-10-02"], [4]),
    ],
)
def test_ingested_window_to_the_second(imap_fake, fake, args: list[str], days: list[int]) -> None:
    code, out, err = imap_fake("query", "-i", "mag", "-o", "json", *args)
    assert code == 0, err
    assert days_of(out) == days
    # The SDC was asked for whole days, never for times it does not understand.
    (sent,) = queries(fake)
    assert not any("ingested" in name for name in sent)
    assert sent.get("ingestion_start_date", "0") <= "20251002"


def test_the_days_asked_for_hold_the_window(imap_fake, fake) -> None:
    since, before = "2025-10-01T19:59:59-04:00", "2025-10-02T00:00:00.5Z"
    code, out, _ = imap_fake(
        "query", "-i", "mag", "-o", "json", "--ingested-since", since, "--ingested-before", before
    )
    assert code == 0
    assert days_of(out) == [4, 5]
    (sent,) = queries(fake)
    assert (sent["ingestion_start_date"], sent["ingestion_end_date"]) == ("20251001", "20251002")


def test_a_narrower_ingestion_date_wins(imap_fake, fake) -> None:
    code, out, _ = imap_fake(
        "query",
        "-i",
        "mag",
        "-o",
        "json",
        "--ingestion-start-date",
        "20251002",
        "--ingested-since",
        "2025-10-01T12:00:00",
    )
    assert code == 0
    assert days_of(out) == [5, 6, 7]
    assert queries(fake)[0]["ingestion_start_date"] == "20251002"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("yesterday", "is not a valid --ingested-since time"),
        ("2025-02-30T00:00:00", "there is no such day or time"),
        ("2025-10-01T25:00:00", "there is no such day or time"),
        ("2025-10-01T12:00:00+24:00", "there is no such day or time"),
    ],
)
def test_a_bad_time_is_one_line_and_exit_2(imap_fake, fake, value: str, words: str) -> None:
    code, out, err = imap_fake("query", "-i", "mag", "--ingested-since", value)
    assert code == 2
    assert out == ""
    assert words in err
    assert err.count("Error:") == 1 and "Hint:" in err
    assert queries(fake) == []  # nothing was sent


def test_since_after_before_is_refused(imap_fake, fake) -> None:
    code, _, err = imap_fake(
        "query",
        "-i",
        "mag",
        "--ingested-since",
        "2025-10-02",
        "--ingested-before",
        "2025-10-01T23:00:00",
    )
    assert code == 2
    assert "--ingested-since time is not before the --ingested-before time" in err
    assert queries(fake) == []


def test_download_query_and_sync_take_the_window(imap_fake, fake, tmp_path: Path) -> None:
    window = ["--ingested-since", "2025-10-01T23:59:59", "--ingested-before", "2025-10-02T00:00:01"]
    code, out, err = imap_fake("download", "--query", "-i", "mag", *window)
    assert code == 0, err
    assert sorted(Path(p).name for p in out.split()) == [mag(4), mag(5)]
    code, out, err = imap_fake(
        "sync", "-i", "mag", "--ingested-since", "2025-10-02T00:00:00", "-o", "json"
    )
    assert code == 0, err
    summary = json.loads(out)
    # 4 and 5 are here already (another filter set brought them, the files are shared)
    assert sorted(Path(p).name for p in summary["files"]) == [mag(6), mag(7)]
    assert summary["skipped"] == 1


def test_python_api_takes_the_window(imap_fake, fake) -> None:
    import datetime as dt

    rows = imap_cli.query(
        instrument="mag",
        ingested_since=dt.datetime(2025, 10, 1, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4))),
        ingested_before="2025-10-02T00:00:01",
    )
    assert sorted(r["start_date"] for r in rows) == ["20250905"]
    naive = imap_cli.query(instrument="mag", ingested_since=dt.datetime(2025, 10, 2, 0, 0, 1))
    assert sorted(r["start_date"] for r in naive) == ["20250906", "20250907"]


# --- highest level ---------------------------------------------------------------------------

# day -> the levels present that day (all with one descriptor but l2, which has two)
LEVELS = {
    1: ("l0", "l1a", "l1b", "l2"),
    2: ("l0", "l1a", "l1b"),  # no l2
    3: ("l0", "l1a"),  # no l1b, no l2
    4: ("l0",),  # only l0
    5: ("l1b", "l1c", "l1d"),  # sub-levels: l1d is the highest
    6: ("l2", "l3a"),  # a lettered l3 beats l2
    # day 7: nothing at all
}


@pytest.fixture
def levels_fake() -> Iterator[RealisticSDC]:
    with RealisticSDC() as sdc:
        for day, levels in LEVELS.items():
            for level in levels:
                descriptors = ("sci", "hk") if level == "l2" else ("sci",)
                for descriptor in descriptors:
                    ext = "pkts" if level == "l0" else "cdf"
                    for minor in (1, 2):
                        name = f"imap_swapi_{level}_{descriptor}_202510{day:02d}_v001.000{minor}"
                        _add(sdc, f"{name}.{ext}", "20251020 00:00:00")
        # another instrument the same day keeps its own best level
        _add(sdc, "imap_mag_l1a_norm-mago_20251001_v001.0001.cdf", "20251020 00:00:00")
        yield sdc


def test_highest_level_per_day(imap, levels_fake, tmp_path: Path) -> None:
    run = imap.against(levels_fake.api_url, data_dir=tmp_path / "data")
    code, out, err = run(
        "query", "-i", "swapi", "-s", "20251001", "-e", "20251007", "--highest-level", "-o", "json"
    )
    assert code == 0, err
    rows = json.loads(out)
    got = sorted((int(r["start_date"][-2:]), r["data_level"], r["descriptor"]) for r in rows)
    assert got == [
        (1, "l2", "hk"),
        (1, "l2", "sci"),
        (2, "l1b", "sci"),
        (3, "l1a", "sci"),
        (4, "l0", "sci"),
        (5, "l1d", "sci"),
        (6, "l3a", "sci"),
    ]
    assert {r["version"] for r in rows} == {"v001.0002"}  # latest version only
    # the science table resolves latest itself: asked for, not filtered here
    assert [s.query.get("latest") for s in levels_fake.seen if s.path.endswith("/query")] == [
        "true"
    ]


def test_highest_level_download_fetches_the_best_file_of_each_day(
    imap, levels_fake, tmp_path: Path
) -> None:
    run = imap.against(levels_fake.api_url, data_dir=tmp_path / "data")
    code, out, err = run(
        "download", "--query", "-i", "swapi", "-s", "20251002", "-e", "20251004", "--highest-level"
    )
    assert code == 0, err
    assert sorted(Path(p).name for p in out.split()) == [
        "imap_swapi_l0_sci_20251004_v001.0002.pkts",
        "imap_swapi_l1a_sci_20251003_v001.0002.cdf",
        "imap_swapi_l1b_sci_20251002_v001.0002.cdf",
    ]


def test_highest_level_keeps_each_instrument_apart(imap, levels_fake, tmp_path: Path) -> None:
    imap.against(levels_fake.api_url, data_dir=tmp_path / "data")  # the Python API too
    rows = imap_cli.query(start_date="20251001", end_date="20251001", highest_level=True)
    assert sorted((r["instrument"], r["data_level"]) for r in rows) == [
        ("mag", "l1a"),
        ("swapi", "l2"),
        ("swapi", "l2"),
    ]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-l", "l1a"], "chooses the data level itself"),
        (["--table", "ancillary"], "has no data levels"),
    ],
)
def test_highest_level_refusals(imap, levels_fake, args: list[str], words: str) -> None:
    run = imap.against(levels_fake.api_url)
    code, _, err = run("query", "-i", "swapi", "--highest-level", *args)
    assert code == 2
    assert words in err


# --- products --------------------------------------------------------------------------------


@pytest.fixture
def catalogue_fake() -> Iterator[RealisticSDC]:
    """Two instruments; mag l1a norm-mago has three days, versions and ingestion times."""
    with RealisticSDC() as sdc:
        files = [
            ("imap_mag_l1a_norm-mago_20251003_v001.0001.cdf", "20251004 01:00:00"),
            ("imap_mag_l1a_norm-mago_20251003_v001.0002.cdf", "20251009 10:11:12"),
            ("imap_mag_l1a_norm-mago_20251001_v001.0001.cdf", "20251002 00:00:00"),
            ("imap_mag_l1a_norm-mago_20251010_v002.0000.cdf", "20251011 23:59:59"),
            ("imap_mag_l1a_norm-magi_20251005_v001.0000.cdf", "20251006 06:00:00"),
            ("imap_mag_l2_norm-gse_20251002_v001.0003.cdf", "20251003 03:00:00"),
            ("imap_swe_l1a_sci_20250929_v001.0000.cdf", "20250930 12:00:00"),
            ("imap_swe_l1a_sci_20251101-repoint00042_v001.0000.cdf", "20251102 12:00:00"),
        ]
        for name, ingested in files:
            _add(sdc, name, ingested)
        yield sdc
    assert sdc.server_errors == []


def test_products_json(imap, catalogue_fake, tmp_path: Path) -> None:
    run = imap.against(catalogue_fake.api_url, data_dir=tmp_path / "data")
    code, out, err = run("products", "-o", "json")
    assert code == 0, err
    assert "4 products in the science table" in err
    products = json.loads(out)
    assert [tuple(p) for p in products] == [
        (
            "instrument",
            "data_level",
            "descriptor",
            "files",
            "first_date",
            "last_date",
            "latest_version",
            "last_ingested",
        )
    ] * 4
    by_name = {(p["instrument"], p["data_level"], p["descriptor"]): p for p in products}
    assert by_name[("mag", "l1a", "norm-mago")] == {
        "instrument": "mag",
        "data_level": "l1a",
        "descriptor": "norm-mago",
        "files": 3,  # the latest version of each of its three days
        "first_date": "2025-10-01",
        "last_date": "2025-10-10",
        "latest_version": "v002.0000",
        "last_ingested": "2025-10-11 23:59:59",
    }
    assert by_name[("swe", "l1a", "sci")]["files"] == 2
    assert by_name[("swe", "l1a", "sci")]["last_date"] == "2025-11-01"
    assert by_name[("mag", "l2", "norm-gse")]["latest_version"] == "v001.0003"
    # one query per instrument, each asking for the latest versions only
    asked = [s.query for s in catalogue_fake.seen if s.path.endswith("/query")]
    assert len(asked) == 13 and all(q.get("latest") == "true" for q in asked)


def test_products_one_instrument_csv_and_table(imap, catalogue_fake, tmp_path: Path) -> None:
    run = imap.against(catalogue_fake.api_url, data_dir=tmp_path / "data")
    code, out, _ = run("products", "-i", "mag", "-l", "l1a", "-o", "csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "instrument,data_level,descriptor,files,first_date,last_date,latest_version,last_ingested"
    )
    assert lines[1:] == [
        "mag,l1a,norm-magi,1,2025-10-05,2025-10-05,v001.0000,2025-10-06 06:00:00",
        "mag,l1a,norm-mago,3,2025-10-01,2025-10-10,v002.0000,2025-10-11 23:59:59",
    ]
    code, out, _ = run("products", "-i", "mag", "-o", "table", env={"COLUMNS": "60"})
    assert code == 0
    assert all(len(line) <= 60 for line in out.splitlines())
    assert "norm-gse" in out and "INGESTED" not in out


def test_products_over_a_split_query(imap, catalogue_fake, tmp_path: Path) -> None:
    catalogue_fake.max_response_bytes = 1500  # about three records an answer
    run = imap.against(catalogue_fake.api_url, data_dir=tmp_path / "data")
    code, out, err = run("products", "-i", "mag", "-o", "json")
    assert code == 0, err
    files = {p["descriptor"]: p["files"] for p in json.loads(out)}
    assert files == {"norm-magi": 1, "norm-mago": 3, "norm-gse": 1}
    assert len([s for s in catalogue_fake.seen if s.path.endswith("/query")]) > 1


def test_products_python_and_refusals(imap, catalogue_fake, tmp_path: Path) -> None:
    run = imap.against(catalogue_fake.api_url, data_dir=tmp_path / "data")
    found = imap_cli.products(instrument="swe")
    assert [(p["descriptor"], p["files"]) for p in found] == [("sci", 2)]
    code, _, err = run("products", "--table", "spice")
    assert code == 2 and "not a valid table" in err
    code, _, err = run("products", "--table", "ancillary", "-l", "l1a")
    assert code == 2 and "no data level" in err


def test_download_filters_need_query(imap_fake, fake) -> None:
    code, out, err = imap_fake("download", "-i", "mag", "--highest-level")
    assert code == 2 and out == ""
    assert "need --query" in err
    code, _, err = imap_fake("download", "--query", "-i", "mag", mag(1))
    assert code == 2 and "takes no file names" in err
    assert queries(fake) == []
