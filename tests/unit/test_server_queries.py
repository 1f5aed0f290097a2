"""`imap serve` query semantics, table-driven, as the SDC's."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from pathlib import Path

import pytest

from imap_cli.core.naming import parse
from imap_cli.server.catalogue import Catalogue
from imap_cli.server.queries import query, spice_query
from imap_cli.server.spice import tdb_seconds

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


FILES = {
    "imap_mag_l1a_norm-mago_20251001_v001.0000.cdf": at("2025-10-02 10:00:00"),
    "imap_mag_l1a_norm-mago_20251001_v001.0001.cdf": at("2025-10-03 00:00:00"),
    "imap_mag_l1a_norm-mago_20251002_v001.0000.cdf": at("2025-10-03 23:59:59"),
    "imap_mag_l1a_norm-mago_20251002_v002.0000.cdf": at("2025-10-05 12:00:00"),
    "imap_mag_l1a_norm-mago_20251003_v002.0001.cdf": at("2025-10-04 12:00:00"),
    "imap_hi_l1b_45sensor-de_20251001-repoint00040_v001.0000.cdf": at("2025-10-02 00:00:00"),
    "imap_hi_l1b_45sensor-de_20251001-repoint00040_v001.0001.cdf": at("2025-10-02 01:00:00"),
    "imap_hi_l1b_45sensor-de_20251001-repoint00041_v001.0000.cdf": at("2025-10-02 02:00:00"),
    "imap_glows_l3b_ion-rate_20251001_v001.0000.cdf": at("2025-10-02 00:00:00"),
    "imap_glows_l3b_ion-rate_20251001-cr02301_v001.0000.cdf": at("2025-10-02 00:00:00"),
    "imap_swapi_l1_sci_20250930_v001.cdf": at("2025-10-01 00:00:00"),
    "imap_swapi_l1_sci_20250930_v002.cdf": at("2025-10-01 01:00:00"),
    "imap_mag_l1a_norm-mago_20251001_v001.0000.png": at("2025-10-02 10:00:00"),
    "imap_mag_l1b-cal_20250901_20251231_v001.cdf": at("2025-09-01 00:00:00"),
    "imap_mag_l1b-cal_20250901_20251231_v002.cdf": at("2025-09-20 00:00:00"),
    "imap_swe_esa-table_20250910_v001.csv": at("2025-09-10 00:00:00"),
    "naif0012.tls": at("2025-01-01 00:00:00"),
    "imap_sclk_0012.tsc": at("2025-01-01 00:00:00"),
    "imap_2025_274_2025_275_001.ah.bc": at("2025-10-03 00:00:00"),
    "imap_2025_274_2025_275_002.ah.bc": at("2025-10-04 00:00:00"),
    "imap_2025_280_2025_287_01.ap.bc": at("2025-10-06 12:00:00"),
    "imap_2025_274_2025_275_01.spin.csv": at("2025-10-03 00:00:00"),
    "imap_2025_276_01.repoint.csv": at("2025-10-04 00:00:00"),
}


def write_archive(root: Path, files: dict[str, dt.datetime]) -> None:
    for name, ingested in files.items():
        path = root / parse(name).key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())
        os.utime(path, (ingested.timestamp(), ingested.timestamp()))


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    root = tmp_path_factory.mktemp("archive")
    write_archive(root, FILES)
    cat = Catalogue(root, rescan_interval=None)
    report = cat.scan()
    assert report.misfits == []
    return cat


def names(body: str) -> list[str]:
    rows = json.loads(body)
    paths = [row.get("file_path") or row["file_name"] for row in rows]
    return [p.rsplit("/", 1)[-1] for p in paths]


MAG = "imap_mag_l1a_norm-mago_"
HI = "imap_hi_l1b_45sensor-de_"
SCIENCE_CASES = [
    # default: every minor of the highest major per series; older majors never
    (
        {"instrument": "mag"},
        [
            f"{MAG}20251001_v001.0000.cdf",
            f"{MAG}20251001_v001.0001.cdf",
            f"{MAG}20251002_v002.0000.cdf",
            f"{MAG}20251003_v002.0001.cdf",
        ],
    ),
    # latest=true: the single newest file of each series (case-insensitive)
    (
        {"instrument": "mag", "latest": "TRUE"},
        [
            f"{MAG}20251001_v001.0001.cdf",
            f"{MAG}20251002_v002.0000.cdf",
            f"{MAG}20251003_v002.0001.cdf",
        ],
    ),
    # latest=anything-else: the default
    (
        {"instrument": "mag", "latest": "no", "start_date": "20251002"},
        [f"{MAG}20251002_v002.0000.cdf", f"{MAG}20251003_v002.0001.cdf"],
    ),
    # version=vMMM.mmmm: that exact version, no ranking (older majors included)
    (
        {"instrument": "mag", "version": "v001.0000"},
        [f"{MAG}20251001_v001.0000.cdf", f"{MAG}20251002_v001.0000.cdf"],
    ),
    # version=vXXX: minor only, filtered BEFORE the default ranking
    (
        {"instrument": "mag", "version": "v001"},
        [f"{MAG}20251001_v001.0001.cdf", f"{MAG}20251003_v002.0001.cdf"],
    ),
    # major_version: no ranking
    (
        {"instrument": "mag", "major_version": "1"},
        [
            f"{MAG}20251001_v001.0000.cdf",
            f"{MAG}20251001_v001.0001.cdf",
            f"{MAG}20251002_v001.0000.cdf",
        ],
    ),
    (
        {"instrument": "mag", "minor_version": "0", "major_version": "2"},
        [f"{MAG}20251002_v002.0000.cdf"],
    ),
    # start_date inclusive; end_date compares the START date, inclusive
    ({"instrument": "mag", "start_date": "20251003"}, [f"{MAG}20251003_v002.0001.cdf"]),
    (
        {"instrument": "mag", "end_date": "20251001"},
        [f"{MAG}20251001_v001.0000.cdf", f"{MAG}20251001_v001.0001.cdf"],
    ),
    # ingestion dates: by day, inclusive at both ends; filters apply before ranking
    (
        {"instrument": "mag", "ingestion_start_date": "20251003", "ingestion_end_date": "20251003"},
        [f"{MAG}20251001_v001.0001.cdf", f"{MAG}20251002_v001.0000.cdf"],
    ),
    ({"instrument": "mag", "ingestion_end_date": "20251002"}, [f"{MAG}20251001_v001.0000.cdf"]),
    # repointing: an integer; each repointing is its own series
    (
        {"instrument": "hi", "repointing": "40"},
        [
            "imap_hi_l1b_45sensor-de_20251001-repoint00040_v001.0000.cdf",
            "imap_hi_l1b_45sensor-de_20251001-repoint00040_v001.0001.cdf",
        ],
    ),
    (
        {"instrument": "hi", "latest": "true"},
        [
            "imap_hi_l1b_45sensor-de_20251001-repoint00040_v001.0001.cdf",
            "imap_hi_l1b_45sensor-de_20251001-repoint00041_v001.0000.cdf",
        ],
    ),
    # NULL repointings group together, cr is not part of the series: rank() keeps the tie
    (
        {"instrument": "glows", "latest": "true"},
        [
            "imap_glows_l3b_ion-rate_20251001-cr02301_v001.0000.cdf",
            "imap_glows_l3b_ion-rate_20251001_v001.0000.cdf",
        ],
    ),
    (
        {"instrument": "glows", "cr": "2301"},
        ["imap_glows_l3b_ion-rate_20251001-cr02301_v001.0000.cdf"],
    ),
    # legacy vXXX files are major 1, minor XXX
    (
        {"instrument": "swapi"},
        ["imap_swapi_l1_sci_20250930_v001.cdf", "imap_swapi_l1_sci_20250930_v002.cdf"],
    ),
    ({"instrument": "swapi", "latest": "true"}, ["imap_swapi_l1_sci_20250930_v002.cdf"]),
    # every file is released
    ({"instrument": "swapi", "released": "false"}, []),
    (
        {"instrument": "swapi", "released": "true", "latest": "true"},
        ["imap_swapi_l1_sci_20250930_v002.cdf"],
    ),
    ({"instrument": "mag", "crid": "x"}, []),
    (
        {"file_path": f"imap/mag/l1a/2025/10/{MAG}20251003_v002.0001.cdf"},
        [f"{MAG}20251003_v002.0001.cdf"],
    ),
    ({"instrument": "ultra"}, []),
]


@pytest.mark.parametrize(("params", "expected"), SCIENCE_CASES)
def test_science_semantics(catalogue: Catalogue, params: dict, expected: list[str]) -> None:
    answer = query(catalogue, {"table": "science", **params})
    assert (answer.status, answer.content_type) == (200, "application/json")
    assert names(answer.body) == expected


ANCILLARY_CASES = [
    (
        {"instrument": "mag"},
        [
            "imap_mag_l1b-cal_20250901_20251231_v001.cdf",
            "imap_mag_l1b-cal_20250901_20251231_v002.cdf",
        ],
    ),
    # end_date compares the START date, never the file's own end date
    (
        {"end_date": "20250905"},
        [
            "imap_mag_l1b-cal_20250901_20251231_v001.cdf",
            "imap_mag_l1b-cal_20250901_20251231_v002.cdf",
        ],
    ),
    ({"start_date": "20250902"}, ["imap_swe_esa-table_20250910_v001.csv"]),
    ({"version": "v002"}, ["imap_mag_l1b-cal_20250901_20251231_v002.cdf"]),
    (
        {"ingestion_start_date": "20250910", "ingestion_end_date": "20250910"},
        ["imap_swe_esa-table_20250910_v001.csv"],
    ),
    ({"extension": "csv"}, ["imap_swe_esa-table_20250910_v001.csv"]),
]


@pytest.mark.parametrize(("params", "expected"), ANCILLARY_CASES)
def test_ancillary_semantics(catalogue: Catalogue, params: dict, expected: list[str]) -> None:
    answer = query(catalogue, {"table": "ancillary", **params})
    assert answer.status == 200
    assert names(answer.body) == expected


def test_quicklook_table_has_no_version_ranking(catalogue: Catalogue) -> None:
    answer = query(catalogue, {"table": "quicklook", "instrument": "mag"})
    assert names(answer.body) == [f"{MAG}20251001_v001.0000.png"]
    row = json.loads(answer.body)[0]
    assert row["file_path"] == f"imap/quicklook/mag/l1a/2025/10/{MAG}20251001_v001.0000.png"
    assert row["version"] == "v001.0000"


SCIENCE_VALID = (
    "['file_path', 'instrument', 'data_level', 'descriptor', 'start_date', 'repointing', "
    "'major_version', 'minor_version', 'ingestion_date', 'cr', 'crid', 'released', 'extension', "
    "'end_date', 'ingestion_start_date', 'ingestion_end_date']"
)
ANCILLARY_VALID = (
    "['file_path', 'instrument', 'descriptor', 'start_date', 'end_date', 'version', 'extension', "
    "'ingestion_date', 'released', 'ingestion_start_date', 'ingestion_end_date']"
)
SCIENCE_LIST = f"Valid query parameters are: {SCIENCE_VALID}"
ANCILLARY_LIST = f"Valid query parameters are: {ANCILLARY_VALID}"
ERROR_CASES = [
    (
        {"table": "science", "instrument": "mag", "size": "5"},
        400,
        f"size is not a valid query parameter for science table. {SCIENCE_LIST}",
    ),
    (
        {"table": "ancillary", "data_level": "l1a"},
        400,
        f"data_level is not a valid query parameter for ancillary table. {ANCILLARY_LIST}",
    ),
    (
        {"table": "ancillary", "instrument": "mag", "latest": "true"},
        400,
        "latest is not a valid query parameter for ancillary table. Valid query parameters are: "
        + ANCILLARY_VALID,
    ),
    (
        {"table": "ancillary", "repointing": "1"},
        400,
        f"repointing is not a valid query parameter for ancillary table. {ANCILLARY_LIST}",
    ),
    (
        {"table": "quicklook", "version": "v001"},
        400,
        "version is not a valid query parameter for quicklook table. Valid query parameters are: "
        + SCIENCE_VALID,
    ),
    (
        {"table": "science", "version": "vx"},
        400,
        "Invalid 'version' value. Use format 'vMMM.mmmm' or 'vXXX'.",
    ),
    (
        {"table": "science", "version": "v1.2.3"},
        400,
        "Invalid 'version' value. Use format 'vMMM.mmmm' or 'vXXX'.",
    ),
    # the version error comes before the unknown-parameter check
    (
        {"table": "science", "bogus": "1", "version": "latest"},
        400,
        "Invalid 'version' value. Use format 'vMMM.mmmm' or 'vXXX'.",
    ),
    # parameters are checked in order: a bad date before an unknown name crashes the lambda
    (
        {"table": "science", "start_date": "2025-10-01", "bogus": "1"},
        500,
        {"message": "Internal Server Error"},
    ),
    (
        {"table": "science", "bogus": "1", "start_date": "2025-10-01"},
        400,
        "bogus is not a valid query parameter for science table. Valid query parameters are: "
        + SCIENCE_VALID,
    ),
    # what Postgres cannot cast, and an unknown table: the gateway's 500
    ({"table": "science", "instrument": "foo"}, 500, {"message": "Internal Server Error"}),
    ({"table": "science", "repointing": "abc"}, 500, {"message": "Internal Server Error"}),
    ({"table": "science", "extension": "png"}, 500, {"message": "Internal Server Error"}),
    ({"table": "dependency", "instrument": "mag"}, 500, {"message": "Internal Server Error"}),
    ({"table": "spice", "kernel_type": "leapseconds"}, 500, {"message": "Internal Server Error"}),
    ({"table": "spice", "kernel_type": "no_such_type"}, 200, []),
    ({"table": "spice", "start_date": "20250101"}, 400, None),
]


@pytest.mark.parametrize(("params", "status", "body"), ERROR_CASES)
def test_errors_as_the_sdc(catalogue: Catalogue, params: dict, status: int, body) -> None:
    answer = query(catalogue, params)
    assert answer.status == status
    if body is not None:
        assert json.loads(answer.body) == body


def test_no_query_string_at_all_is_a_500(catalogue: Catalogue) -> None:
    assert query(catalogue, None).status == 500
    assert spice_query(catalogue, None).status == 500


def test_rows_carry_the_sdc_fields_in_order(catalogue: Catalogue) -> None:
    science = json.loads(
        query(catalogue, {"table": "science", "instrument": "hi", "repointing": "41"}).body
    )
    assert science == [
        {
            "file_path": f"imap/hi/l1b/2025/10/{HI}20251001-repoint00041_v001.0000.cdf",
            "instrument": "hi",
            "data_level": "l1b",
            "descriptor": "45sensor-de",
            "start_date": "20251001",
            "repointing": 41,
            "major_version": 1,
            "minor_version": 0,
            "ingestion_date": "20251002 02:00:00",
            "cr": None,
            "crid": None,
            "released": True,
            "extension": "cdf",
            "version": "v001.0000",
        }
    ]
    assert list(science[0]) == list(science[0].keys())  # key order is the SDC's column order
    ancillary = json.loads(query(catalogue, {"table": "ancillary", "instrument": "swe"}).body)
    assert ancillary == [
        {
            "file_path": "imap/ancillary/swe/imap_swe_esa-table_20250910_v001.csv",
            "instrument": "swe",
            "descriptor": "esa-table",
            "start_date": "20250910",
            "end_date": None,
            "version": "v001",
            "extension": "csv",
            "ingestion_date": "20250910 00:00:00",
            "released": True,
        }
    ]


def test_rows_are_ordered_by_file_path(catalogue: Catalogue) -> None:
    rows = json.loads(query(catalogue, {"table": "science", "start_date": "20200101"}).body)
    paths = [r["file_path"] for r in rows]
    assert paths == sorted(paths) and len(paths) > 5


def test_the_body_is_what_json_dumps_would_give(catalogue: Catalogue) -> None:
    answer = query(catalogue, {"table": "science", "instrument": "mag"})
    assert answer.body == json.dumps(json.loads(answer.body))


# --- /spice-query -------------------------------------------------------------------------

SPICE_VALID = (
    "['file_name', 'start_time', 'end_time', 'type', 'latest', 'start_ingest_date', "
    "'end_ingest_date']"
)
OCT1 = tdb_seconds(at("2025-10-01 00:00:00"))
OCT3 = tdb_seconds(at("2025-10-03 00:00:00"))
SPICE_CASES = [
    ({"type": "leapseconds"}, ["naif0012.tls"]),
    (
        {"type": "kernels"},
        [
            "imap_2025_274_2025_275_001.ah.bc",
            "imap_2025_274_2025_275_002.ah.bc",
            "imap_2025_280_2025_287_01.ap.bc",
            "naif0012.tls",
            "imap_sclk_0012.tsc",
        ],
    ),
    ({"type": "attitude_history", "latest": "true"}, ["imap_2025_274_2025_275_002.ah.bc"]),
    # coverage from the name: days 274-275 = Oct 1 00:00 .. Oct 3 00:00
    ({"type": "attitude_history", "start_time": str(OCT3 + 1)}, []),
    (
        {"type": "attitude_history", "start_time": str(OCT3 - 1), "latest": "true"},
        ["imap_2025_274_2025_275_002.ah.bc"],
    ),
    ({"type": "attitude_history", "end_time": str(OCT1 - 1)}, []),
    (
        {"type": "attitude_history", "end_time": f"{OCT1:.3f}"},
        ["imap_2025_274_2025_275_001.ah.bc", "imap_2025_274_2025_275_002.ah.bc"],
    ),
    # ingest dates compare with midnight: the end day itself is excluded
    (
        {"type": "attitude_history", "end_ingest_date": "20251004"},
        ["imap_2025_274_2025_275_001.ah.bc", "imap_2025_274_2025_275_002.ah.bc"],
    ),
    (
        {"type": "attitude_history", "start_ingest_date": "20251004"},
        ["imap_2025_274_2025_275_002.ah.bc"],
    ),
    (
        {
            "type": "attitude_predict",
            "start_ingest_date": "20251006",
            "end_ingest_date": "20251006",
        },
        [],
    ),
    ({"file_name": "naif0012.tls"}, ["naif0012.tls"]),
    # spin, repoint, thruster: their own tables
    ({"type": "spin"}, ["imap_2025_274_2025_275_01.spin.csv"]),
    ({"type": "repoint", "start_date": "20300101"}, ["imap_2025_276_01.repoint.csv"]),
    ({"type": "repoint", "end_date": "20251002"}, []),
    ({"type": "thruster"}, []),
]


@pytest.mark.parametrize(("params", "expected"), SPICE_CASES)
def test_spice_semantics(catalogue: Catalogue, params: dict, expected: list[str]) -> None:
    answer = spice_query(catalogue, params)
    assert answer.status == 200, answer.body
    assert sorted(names(answer.body)) == sorted(expected)


SPICE_ERRORS = [
    (
        {"type": "leapseconds", "start_date": "20250101"},
        f"start_date is not a valid query parameter. Valid query parameters are: {SPICE_VALID}",
    ),
    (
        {"type": "leapseconds", "version": "v001"},
        f"version is not a valid query parameter. Valid query parameters are: {SPICE_VALID}",
    ),
    ({"type": "leapseconds", "start_time": "soon"}, "Invalid value for start_time: soon"),
    (
        {"type": "leapseconds", "end_ingest_date": "2025-01-01"},
        "Invalid value for end_ingest_date: 2025-01-01",
    ),
    (
        {"type": "spin", "start_time": "0"},
        "start_time is not a valid query parameter. Valid query parameters are: "
        "['file_path', 'start_date', 'end_date', 'latest', 'start_ingest_date', 'end_ingest_date']",
    ),
    ({"type": "spin", "start_date": "x"}, "Invalid value for start_date: x"),
]


@pytest.mark.parametrize(("params", "message"), SPICE_ERRORS)
def test_spice_errors(catalogue: Catalogue, params: dict, message: str) -> None:
    answer = spice_query(catalogue, params)
    assert (answer.status, json.loads(answer.body)) == (400, message)


def test_spice_rows(catalogue: Catalogue) -> None:
    (row,) = json.loads(spice_query(catalogue, {"type": "attitude_history", "latest": "true"}).body)
    assert list(row) == [
        "file_name",
        "file_root",
        "kernel_type",
        "version",
        "min_date_j2000",
        "max_date_j2000",
        "file_intervals_j2000",
        "min_date_datetime",
        "max_date_datetime",
        "file_intervals_datetime",
        "min_date_sclk",
        "max_date_sclk",
        "file_intervals_sclk",
        "sclk_kernel",
        "lsk_kernel",
        "ingestion_date",
        "timestamp",
    ]
    assert row["file_name"] == "ck/imap_2025_274_2025_275_002.ah.bc"
    assert row["file_root"] == "imap_2025_274_2025_275_.ah.bc"
    assert (row["kernel_type"], row["version"]) == ("attitude_history", 2)
    assert row["min_date_datetime"] == "2025-10-01, 00:00:00"
    assert row["max_date_datetime"] == "2025-10-03, 00:00:00"
    assert row["min_date_j2000"] == pytest.approx(OCT1) and row["max_date_j2000"] == pytest.approx(
        OCT3
    )
    assert row["file_intervals_j2000"] == [[row["min_date_j2000"], row["max_date_j2000"]]]
    assert row["ingestion_date"] == "2025-10-04, 00:00:00"
    assert row["timestamp"] == at("2025-10-04 00:00:00").timestamp()
    (spin,) = json.loads(spice_query(catalogue, {"type": "spin"}).body)
    assert spin == {
        "file_path": "imap/spice/spin/imap_2025_274_2025_275_01.spin.csv",
        "start_date": "2025-10-01, 00:00:00",
        "end_date": "2025-10-02, 00:00:00",
        "version": "01",
        "ingestion_date": "2025-10-03, 00:00:00",
    }
    (repoint,) = json.loads(spice_query(catalogue, {"type": "repoint"}).body)
    assert "start_date" not in repoint and repoint["end_date"] == "2025-10-03, 00:00:00"


def test_tdb_matches_the_sdc_to_a_few_milliseconds() -> None:
    # A real row from the SDC: min_date_datetime 2025-04-29T23:20:06.887765 UTC.
    moment = dt.datetime(2025, 4, 29, 23, 20, 6, 887765, tzinfo=UTC)
    assert tdb_seconds(moment) == pytest.approx(799240876.0732585, abs=0.002)


@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({"start_date": "20251001", "end_date": "20251002"}, "files_day"),  # a split's window
        ({"start_date": "20251001"}, "files_day"),
        ({"instrument": "mag", "start_date": "20251001"}, "files_rank"),
        ({"instrument": "mag", "latest": "true"}, "files_rank"),
    ],
)
def test_a_query_reads_its_instrument_or_its_days_through_an_index(
    catalogue: Catalogue, params: dict, index: str
) -> None:
    """A date window over every instrument (how a large query is split) must not read the
    whole table, nor an instrument's query every file of its days."""
    from imap_cli.server.queries import _index_for, _ranked_sql

    chosen = _index_for(params)
    assert chosen == index
    sql = _ranked_sql(["tbl = ?", "start_date >= ?"], "latest_major", "row_json", chosen)
    plan = " ".join(row[3] for row in catalogue.rows("EXPLAIN QUERY PLAN " + sql, ["x", "y"]))
    assert f"USING INDEX {index} (tbl=? AND start_date>?)" in plan or (
        index == "files_rank" and f"USING INDEX {index} (tbl=?)" in plan
    )
    assert query(catalogue, params).status == 200


def test_a_catalogue_made_before_the_day_and_rank_indexes_gets_them(tmp_path: Path) -> None:
    import sqlite3

    root = tmp_path / "archive"
    write_archive(root, dict(list(FILES.items())[:3]))
    Catalogue(root, rescan_interval=None).scan()
    found = next(root.rglob("*.sqlite3"))
    with contextlib.closing(sqlite3.connect(found)) as db:  # as an earlier version made it
        db.execute("DROP INDEX files_day")
        db.execute("DROP INDEX files_rank")
        db.execute(
            "CREATE INDEX files_series ON files (tbl, instrument, data_level, descriptor, "
            "start_date)"
        )
        db.commit()
    cat = Catalogue(root, rescan_interval=None)
    cat.scan()
    indexes = [r[0] for r in cat.rows("SELECT name FROM sqlite_master WHERE type = 'index'")]
    assert "files_day" in indexes and "files_rank" in indexes
    assert "files_series" not in indexes  # files_rank begins with its columns
    assert names(query(cat, {"start_date": "20251002"}).body) == [f"{MAG}20251002_v001.0000.cdf"]


def _window_oracle(cat: Catalogue, params: dict, public: bool) -> list[str]:
    """What rank() OVER (PARTITION BY series, day, repointing ORDER BY version DESC) = 1
    keeps, as SQL says it (the SDC's own formulation), for the same filters."""
    from imap_cli.server.queries import _UNRELEASED, _condition, _science_version_mode

    params = dict(params)
    mode = _science_version_mode(params)
    where, args = ["tbl = ?"], ["science"]
    for param, value in params.items():
        _condition("science", param, value, where, args)
    if public and cat.unreleased_count:
        where.append(f"NOT {_UNRELEASED}")
    condition = " AND ".join(where)
    if mode is None:
        sql = f"SELECT key FROM files WHERE {condition} ORDER BY key"
    else:
        order = "major DESC" if mode == "latest_major" else "major DESC, minor DESC"
        sql = (
            "SELECT key FROM (SELECT key, rank() OVER (PARTITION BY instrument, data_level, "
            f"descriptor, start_date, repointing ORDER BY {order}) AS r FROM files "
            f"WHERE {condition}) WHERE r = 1 ORDER BY key"
        )
    return [row[0].rsplit("/", 1)[-1] for row in cat.rows(sql, args)]


def test_versions_are_ranked_as_the_sdcs_rank_over_partitions(tmp_path: Path) -> None:
    """The server ranks with NOT EXISTS (faster in SQLite); for random archives and filters it
    must keep exactly what the SDC's rank() keeps: ties, repointings, filters that split a
    day's versions (ingestion dates, extension, version, release) included."""
    import random

    rng = random.Random(7)
    files: dict[str, dt.datetime] = {}
    for _ in range(400):
        instrument, level = rng.choice([("mag", "l1a"), ("mag", "l2"), ("hi", "l1b")])
        descriptor = (
            rng.choice(["norm-mago", "burst-mago"]) if instrument == "mag" else "45sensor-de"
        )
        day = f"2025100{rng.randint(1, 5)}"
        if instrument == "hi":
            day += f"-repoint{rng.randint(40, 41):05d}"
        version = f"v00{rng.randint(1, 3)}.000{rng.randint(0, 2)}"
        name = f"imap_{instrument}_{level}_{descriptor}_{day}_{version}.cdf"
        files[name] = at(f"2025-10-{rng.randint(6, 9):02d} {rng.randint(0, 23):02d}:00:00")
    write_archive(tmp_path, files)
    cat = Catalogue(tmp_path, rescan_interval=None)
    cat.scan()
    # Unreleased: the newest versions of two days (the public route then ranks the older
    # ones), and a few others.
    newest_hidden = [n for n in files if "_v003." in n and ("_20251001" in n or "_20251002" in n)]
    for name in newest_hidden + rng.sample(sorted(files), 20):
        cat.mark_unreleased(parse(name).key)
    choices = {
        "instrument": ["mag", "hi"],
        "descriptor": ["norm-mago", "45sensor-de"],
        "start_date": ["20251002", "20251004"],
        "end_date": ["20251003", "20251005"],
        "ingestion_start_date": ["20251007", "20251008"],
        "ingestion_end_date": ["20251008"],
        "latest": ["true", "false"],
        "version": ["v002.0001", "1"],
        "repointing": ["40"],
        "released": ["true", "false"],
        "extension": ["cdf"],
    }
    checked = 0
    for _ in range(150):
        params = {k: rng.choice(v) for k, v in choices.items() if rng.random() < 0.3}
        for public in (False, True):
            answer = query(cat, params, public=public)
            assert answer.status == 200, params
            assert names(answer.body) == _window_oracle(cat, params, public), (params, public)
            checked += bool(names(answer.body))
    assert checked > 100  # most filter sets found something to rank
