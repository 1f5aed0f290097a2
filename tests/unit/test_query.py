"""core.query: validation, request planning, the answer's checks, and the wire with `responses`."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from imap_cli.cli.errors import exit_code_for
from imap_cli.core import query as q
from imap_cli.core import records
from imap_cli.core.errors import BadResponse, ConnectionFailed, InvalidName, UsageError
from imap_cli.core.http import SDCClient
from imap_cli.core.settings import resolve
from imap_cli.core.spice_time import tdb_seconds_past_j2000

SDC = "https://sdc.example"


def client(**changes) -> SDCClient:
    settings = replace(resolve(), **{"url": SDC, "retries": 2, **changes})
    return SDCClient(settings, sleep=lambda _: None)


def science_row(name: str, **fields) -> dict:
    parts = name.split("_")
    row = {
        "file_path": f"imap/{parts[1]}/{parts[2]}/{parts[4][:4]}/{parts[4][4:6]}/{name}",
        "instrument": parts[1],
        "data_level": parts[2],
        "descriptor": parts[3],
        "start_date": parts[4][:8],
        "repointing": None,
        "major_version": 1,
        "minor_version": 1,
        "version": "v001.0001",
        "extension": "cdf",
        "ingestion_date": "20251002 10:00:00",
        "cr": None,
        "crid": None,
        "released": True,
    }
    row.update(fields)
    return row


def sent_params(call_index: int = 0) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(responses.calls[call_index].request.url).query)


# --- planning: /query ------------------------------------------------------------------------


def test_every_filter_goes_in_the_official_order() -> None:
    plan = q.plan_query(
        extension="CDF",
        version="v002.0003",
        repointing="repoint00012",
        ingestion_end_date="2025-10-09",
        ingestion_start_date="20251008",
        end_date="2025-10-03",
        start_date="20251001",
        descriptor="norm-mago",
        data_level="L1A",
        instrument="Mag",
        table="science",
    )
    assert plan.route == "query" and plan.what == "query"
    assert plan.params == (
        ("table", "science"),
        ("instrument", "mag"),
        ("data_level", "l1a"),
        ("descriptor", "norm-mago"),
        ("start_date", "20251001"),
        ("end_date", "20251003"),
        ("ingestion_start_date", "20251008"),
        ("ingestion_end_date", "20251009"),
        ("repointing", "12"),
        ("version", "v002.0003"),  # as typed: the server splits it into major/minor
        ("extension", "cdf"),
    )


def test_science_latest_is_sent_last_and_resolved_by_the_server() -> None:
    plan = q.plan_query(instrument="mag", version="latest", start_date=dt.date(2025, 10, 1))
    assert plan.params[-1] == ("latest", "true")
    assert ("version", "latest") not in plan.params and not plan.latest_here
    assert ("start_date", "20251001") in plan.params


@pytest.mark.parametrize("table", ["ancillary", "quicklook"])
def test_latest_on_other_tables_is_resolved_here(table: str) -> None:
    plan = q.plan_query(table=table, instrument="mag", version="LATEST")
    assert plan.latest_here
    assert [k for k, _ in plan.params] == ["table", "instrument"]


@pytest.mark.parametrize(
    ("value", "sent"),
    [("repoint00012", "12"), ("12", "12"), (12, "12"), ("00012", "12"), ("Repoint99999", "99999")],
)
def test_repointing_forms(value, sent) -> None:
    assert ("repointing", sent) in q.plan_query(instrument="hi", repointing=value).params


@pytest.mark.parametrize("value", ["repoint12", "repoint000012", "-1", "100000", "r12", " "])
def test_bad_repointing_is_refused(value) -> None:
    with pytest.raises(UsageError, match="not a valid repointing"):
        q.plan_query(instrument="hi", repointing=value)


@pytest.mark.parametrize("value", ["v1.2", "v0001", "1.0002", "v001.002", "v001.00002", "newest"])
def test_bad_science_versions_are_refused(value) -> None:
    with pytest.raises(UsageError, match=r"vMMM\.mmmm"):
        q.plan_query(instrument="mag", version=value)


def test_legacy_version_is_sent_as_typed() -> None:
    assert ("version", "v003") in q.plan_query(instrument="mag", version="v003").params


def test_ancillary_versions_are_vxxx_only() -> None:
    assert ("version", "v002") in q.plan_query(table="ancillary", version="v002").params
    with pytest.raises(UsageError, match="ancillary version"):
        q.plan_query(table="ancillary", version="v001.0002")


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ({"table": "ancillary", "data_level": "l1a"}, "cannot be filtered by data level"),
        ({"table": "ancillary", "repointing": "1"}, "cannot be filtered by repointing"),
        ({"table": "spice", "instrument": "mag"}, "spice table cannot be filtered by instrument"),
        ({"table": "spice", "extension": "bc"}, "cannot be filtered by extension"),
        ({"instrument": "mag", "type": "leapseconds"}, "science table cannot be filtered by SPICE"),
    ],
)
def test_filters_a_table_cannot_take_are_refused_locally(filters, fragment) -> None:
    assert fragment in terminal_message(**filters)


def terminal_message(**filters) -> str:
    """plan_query's UsageError for `filters`, as the terminal words it."""
    from imap_cli.cli.errors import message_for

    with pytest.raises(UsageError) as caught:
        q.plan_query(**filters)
    return message_for(caught.value)


def test_choices_are_named_in_sorted_order_with_a_suggestion() -> None:
    with pytest.raises(UsageError) as caught:
        q.plan_query(instrument="magg")
    message = caught.value.message
    assert "'magg' is not a valid instrument" in message
    listed = message.split("valid values: ")[1].split(", ")
    assert listed == sorted(listed) and "mag" in listed and "l1const" in listed
    assert "Did you mean 'mag'" in caught.value.hint
    assert exit_code_for(caught.value) == 2


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ({"data_level": "l9"}, "valid data levels: l0, l1, l1a"),
        ({"table": "sciense", "instrument": "mag"}, "valid tables: ancillary, quicklook, science"),
        ({"instrument": "mag", "extension": "png"}, "for the science table; valid extensions: cdf"),
        ({"table": "quicklook", "extension": "cdf"}, "valid extensions: jpg, pdf, png"),
        ({"table": "spice", "type": "ck"}, "valid SPICE kernel types: attitude_history"),
        ({"descriptor": "norm_mago"}, "not a valid descriptor"),
        ({"instrument": "mag", "surprise": 1}, "unknown query filter 'surprise'"),
    ],
)
def test_bad_values_name_the_value_and_the_choices(filters, fragment) -> None:
    assert fragment in terminal_message(**filters)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2025-02-30", "no such day"),
        ("20251301", "no such day"),
        ("2025/10/01", "use YYYYMMDD or YYYY-MM-DD"),
        ("251001", "use YYYYMMDD"),
        ("2025-1001", "use YYYYMMDD"),
        ("２０２５１００１", "use YYYYMMDD"),  # full-width digits are not a date
    ],
)
def test_dates_must_be_real(value, fragment) -> None:
    with pytest.raises(UsageError, match=fragment) as caught:
        q.plan_query(start_date=value)
    assert repr(value) in caught.value.message


def test_leap_day_is_a_date() -> None:
    assert ("start_date", "20240229") in q.plan_query(start_date="2024-02-29").params


def test_reversed_ranges_are_refused() -> None:
    assert "start date 20251005 is after the end date 20251001" in terminal_message(
        start_date="20251005", end_date="20251001"
    )
    with pytest.raises(UsageError, match="the ingestion_start_date 20251005 is after"):
        q.plan_query(ingestion_start_date="20251005", ingestion_end_date="20251001")


@pytest.mark.parametrize(
    "filters",
    [{}, {"table": "science"}, {"version": "latest"}, {"table": "spice", "version": "latest"}],
)
def test_at_least_one_real_filter(filters) -> None:
    with pytest.raises(UsageError, match="at least one filter"):
        q.plan_query(**filters)


def test_version_and_major_minor_do_not_mix() -> None:
    assert q.plan_query(instrument="mag", major_version=2, minor_version="3").params[-2:] == (
        ("major_version", "2"),
        ("minor_version", "3"),
    )
    with pytest.raises(UsageError, match="either a version or major/minor"):
        q.plan_query(instrument="mag", version="v001.0002", major_version=1)


# --- planning: /spice-query --------------------------------------------------------------------


def test_tdb_seconds_past_j2000() -> None:
    # J2000 is 2000-01-01 12:00:00 TT = 11:58:55.816 UTC (TAI-UTC was 32 s).
    assert tdb_seconds_past_j2000(dt.datetime(2000, 1, 1, 11, 58, 55, 816000)) == 0.0
    # 2025-01-01T00:00:00 UTC is ET 788961669.18 (SPICE str2et with naif0012.tls).
    et = tdb_seconds_past_j2000(dt.datetime(2025, 1, 1))
    assert et == pytest.approx(788961669.184, abs=0.01)
    # A leap second was inserted at the end of 2016: one day later is 86401 s later.
    before = tdb_seconds_past_j2000(dt.datetime(2016, 12, 31))
    after = tdb_seconds_past_j2000(dt.datetime(2017, 1, 1))
    assert after - before == 86401.0


def test_spice_dates_become_whole_days_in_tdb() -> None:
    plan = q.plan_query(table="spice", start_date="2025-01-01", end_date="20250101")
    params = dict(plan.params)
    assert plan.route == "spice-query" and plan.what == "spice query"
    start, end = int(params["start_time"]), int(params["end_time"])
    midnight = 788961669.184
    assert midnight < start < midnight + 1  # kernels ending at midnight are left out
    assert midnight + 86400 - 1 < end < midnight + 86400  # ... and those starting the next day
    assert params["type"] == "kernels"
    for never in ("start_date", "end_date", "version", "table"):
        assert never not in params


def test_spice_ingestion_end_is_inclusive_and_latest_is_last() -> None:
    plan = q.plan_query(
        table="spice",
        type="Attitude_History",
        ingestion_start_date="2025-10-01",
        ingestion_end_date="2025-12-31",
        version="latest",
    )
    assert plan.params == (
        ("type", "attitude_history"),
        ("start_ingest_date", "20251001"),
        ("end_ingest_date", "20260101"),  # the SDC's end is exclusive of its day
        ("latest", "true"),
    )


def test_spice_refuses_versions_other_than_latest() -> None:
    with pytest.raises(UsageError, match="only knows 'latest'"):
        q.plan_query(table="spice", type="leapseconds", version="v001")


# --- planning: --filename ----------------------------------------------------------------------


def test_science_filename_derives_every_filter() -> None:
    name = "imap_hi_l1b_45sensor-de_20251017-repoint00042_v002.0003.cdf"
    plan = q.plan_query(filename=name)
    assert plan.table == "science" and plan.only_name == name
    assert plan.params == (
        ("table", "science"),
        ("instrument", "hi"),
        ("data_level", "l1b"),
        ("descriptor", "45sensor-de"),
        ("start_date", "20251017"),
        ("end_date", "20251017"),
        ("repointing", "42"),
        ("version", "v002.0003"),
        ("extension", "cdf"),
    )


def test_legacy_science_filename_asks_for_major_1() -> None:
    plan = q.plan_query(filename="imap_mag_l1a_norm-mago_20251017_v004.cdf")
    assert ("version", "v001.0004") in plan.params


def test_ancillary_filename() -> None:
    plan = q.plan_query(filename="imap_mag_calibration_20250101_20250131_v002.cdf")
    assert plan.table == "ancillary"
    assert plan.params == (
        ("table", "ancillary"),
        ("instrument", "mag"),
        ("descriptor", "calibration"),
        ("start_date", "20250101"),
        ("end_date", "20250101"),
        ("version", "v002"),
        ("extension", "cdf"),
    )


def test_quicklook_and_key_forms() -> None:
    key = "imap/quicklook/swe/l1b/2025/10/imap_swe_l1b_sci_20251001_v001.0002.png"
    plan = q.plan_query(filename=key)
    assert plan.table == "quicklook" and plan.only_name == key.rsplit("/", 1)[1]
    # quicklook takes no `version` parameter (400), only its major/minor columns
    assert plan.params[-3:] == (
        ("major_version", "1"),
        ("minor_version", "2"),
        ("extension", "png"),
    )


def test_quicklook_versions_are_split() -> None:
    plan = q.plan_query(table="quicklook", instrument="swe", version="v002.0010")
    assert plan.params[-2:] == (("major_version", "2"), ("minor_version", "10"))
    plan = q.plan_query(table="quicklook", instrument="swe", version="v003")
    assert plan.params[-1] == ("minor_version", "3")


def test_spice_filenames() -> None:
    kernel = q.plan_query(filename="imap_2025_274_2025_276_001.ah.bc")
    assert kernel.route == "spice-query"
    assert kernel.params == (("type", "kernels"), ("file_name", "imap_2025_274_2025_276_001.ah.bc"))
    spin = q.plan_query(filename="imap_2025_274_2025_275_01.spin.csv")
    assert (spin.route, spin.params) == ("spin-table", ()) and spin.only_name.endswith(".spin.csv")
    forces = q.plan_query(filename="imap_2025_274_2025_275_thruster_01.sff")
    assert (forces.route, forces.fallback_route) == ("small-forces-table", "thruster-table")


def test_spin_repoint_small_forces_tables() -> None:
    plan = q.plan_query(
        table="spice",
        type="spin",
        start_date="2025-10-01",
        end_date="20251003",
        ingestion_end_date="20251010",
        version="latest",
    )
    assert plan.route == "spin-table" and plan.fallback_route is None
    assert plan.params == (
        ("start_date", "20251001"),
        ("end_date", "20251003"),
        ("end_ingest_date", "20251011"),
        ("latest", "true"),
    )
    assert q.plan_query(table="spice", type="repoint", start_date="20251001").route == (
        "repoint-table"
    )
    for name in ("small-forces", "thruster"):
        plan = q.plan_query(table="spice", type=name)
        assert (plan.route, plan.params) == ("small-forces-table", ())
        assert plan.fallback_route == "thruster-table"
    with pytest.raises(UsageError, match="only knows 'latest'"):
        q.plan_query(table="spice", type="spin", version="v001")


def test_filename_refusals() -> None:
    with pytest.raises(UsageError, match="drop the instrument filter"):
        q.plan_query(filename="imap_mag_l1a_norm-mago_20251017_v001.0001.cdf", instrument="mag")
    with pytest.raises(UsageError, match="not in the ancillary table"):
        q.plan_query(filename="imap_mag_l1a_norm-mago_20251017_v001.0001.cdf", table="ancillary")
    with pytest.raises(UsageError, match="dependency file"):
        q.plan_query(filename="imap_mag_l1a_norm-mago_20251017_v001.0001.json")
    with pytest.raises(InvalidName):
        q.plan_query(filename="imap_nope_l1a_x_20251017_v001.cdf")


# --- the answer --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"message": "Internal\nServer Error"}, "a JSON object, not a list of files: Internal"),
        ("hello", "a JSON string"),
        (None, "a JSON null"),
        (
            [{"file_path": "x"}, ["not", "a", "record"]],
            "item 2 of the SDC's answer is a JSON array",
        ),
        ([1], "item 1 of the SDC's answer is a JSON number"),
    ],
)
def test_wrong_shapes_are_bad_responses(data, fragment) -> None:
    with pytest.raises(BadResponse, match=fragment) as caught:
        records.check_records(data)
    assert exit_code_for(caught.value) == 3


def test_latest_records_keeps_the_newest_per_series_with_ties() -> None:
    rows = [
        {"instrument": "mag", "descriptor": "cal", "start_date": "20250101", "version": "v001"},
        {"instrument": "mag", "descriptor": "cal", "start_date": "20250101", "version": "v003"},
        {"instrument": "mag", "descriptor": "cal", "start_date": "20250101", "version": "v002"},
        {"instrument": "mag", "descriptor": "cal", "start_date": "20250102", "version": "v001"},
        {"instrument": "mag", "descriptor": "cal", "start_date": "20250102", "version": "v001"},
        {"instrument": "swe", "descriptor": "cal", "start_date": "20250101", "version": "v010"},
    ]
    assert records.latest_records(rows) == [rows[1], rows[3], rows[4], rows[5]]


def test_latest_records_orders_full_versions_after_legacy() -> None:
    base = {"instrument": "mag", "data_level": "l1a", "descriptor": "x", "start_date": "20250101"}
    legacy = {**base, "version": "v009"}
    full = {**base, "version": "v001.0001"}
    split = {**base, "major_version": 2, "minor_version": 0, "version": "v002.0000"}
    assert records.latest_records([legacy, full]) == [full]
    assert records.latest_records([split, full, legacy]) == [split]


def test_record_keys() -> None:
    row = science_row("imap_mag_l1a_norm-mago_20251017_v001.0001.cdf")
    assert records.record_key(row, "science") == row["file_path"]
    kernel = {"file_name": "ck/imap_2025_274_2025_276_001.ah.bc"}
    assert records.record_key(kernel, "spice") == "imap/spice/ck/imap_2025_274_2025_276_001.ah.bc"
    spin = {"file_path": "imap_2025_274_2025_275_01.spin.csv"}
    assert records.record_key(spin, "spice") == "imap/spice/spin/imap_2025_274_2025_275_01.spin.csv"
    with pytest.raises(BadResponse, match="without a file_path"):
        records.record_keys([row, {"instrument": "mag"}], "science")


# --- the wire ----------------------------------------------------------------------------------


@responses.activate
def test_run_query_sends_the_plan_and_returns_rows_unchanged() -> None:
    rows = [science_row("imap_mag_l1a_norm-mago_20251017_v001.0001.cdf", extra={"a": [1]})]
    responses.get(f"{SDC}/query", json=rows)
    got = q.run_query(client(), instrument="mag", data_level="l1a", version="latest")
    assert got == rows
    assert sent_params() == [
        ("table", "science"),
        ("instrument", "mag"),
        ("data_level", "l1a"),
        ("latest", "true"),
    ]


@responses.activate
def test_credentials_pick_the_route() -> None:
    responses.get(f"{SDC}/api-key/spice-query", json=[])
    assert q.run_query(client(api_key="key-123456"), table="spice", type="leapseconds") == []
    assert responses.calls[0].request.headers["x-api-key"] == "key-123456"
    responses.get(f"{SDC}/authorized/query", json=[])
    assert q.run_query(client(access_token="tok-123456"), instrument="mag") == []
    assert responses.calls[1].request.headers["Authorization"] == "Bearer tok-123456"


@responses.activate
def test_filename_keeps_only_that_file() -> None:
    name = "imap_mag_l1a_norm-mago_20251017_v001.0001.cdf"
    other = "imap_mag_l1a_norm-mago_20251017_v001.0001.pkts"
    responses.get(f"{SDC}/query", json=[science_row(other), science_row(name)])
    result = q.fetch_result(client(), q.plan_query(filename=name))
    assert [r["file_path"].rsplit("/", 1)[1] for r in result.rows] == [name]
    assert result.body is None  # the body holds more than the answer: not printed verbatim


@responses.activate
def test_ancillary_latest_is_filtered_here() -> None:
    old = {"file_path": "imap/ancillary/mag/a_v001.cdf", "instrument": "mag", "descriptor": "c"}
    old.update(start_date="20250101", end_date=None, version="v001")
    new = {**old, "file_path": "imap/ancillary/mag/a_v002.cdf", "version": "v002"}
    responses.get(f"{SDC}/query", json=[old, new])
    assert q.run_query(client(), table="ancillary", instrument="mag", version="latest") == [new]
    assert ("latest", "true") not in sent_params() and ("version", "latest") not in sent_params()


@responses.activate
def test_body_is_kept_for_verbatim_json() -> None:
    body = json.dumps([science_row("imap_mag_l1a_norm-mago_20251017_v001.0001.cdf")]).encode()
    responses.get(f"{SDC}/query", body=body, content_type="application/json")
    assert q.fetch_result(client(), q.plan_query(instrument="mag")).body == body


@responses.activate
def test_nan_becomes_null_and_the_body_is_not_reused() -> None:
    responses.get(f"{SDC}/query", body=b'[{"file_path": "x", "size": NaN}]')
    result = q.fetch_result(client(), q.plan_query(instrument="mag"))
    assert result.rows == [{"file_path": "x", "size": None}] and result.body is None


@responses.activate
def test_not_json_is_a_bad_response() -> None:
    responses.get(f"{SDC}/query", body="<html>Gateway</html>", content_type="text/html")
    with pytest.raises(
        BadResponse, match=r"200 with a body that is not JSON \(text/html, 20 bytes"
    ):
        q.run_query(client(), instrument="mag")


def test_body_read_failure_is_retried(monkeypatch) -> None:
    """A connection dropped mid-body (urllib3 raises while reading) is retried, then reported."""
    attempts = []

    class Raw:
        def read(self, decode_content: bool = True) -> bytes:
            attempts.append(1)
            if len(attempts) < 2:
                raise OSError("connection reset")
            return b"[]"

    class Response:
        status_code = 200
        headers: ClassVar[dict[str, str]] = {"Content-Type": "application/json"}
        raw = Raw()

        def close(self) -> None:
            pass

    sdc = client()
    monkeypatch.setattr(sdc, "api", lambda *a, **k: Response())
    assert q.run_query(sdc, instrument="mag") == [] and len(attempts) == 2
    attempts.clear()
    Raw.read = lambda self, decode_content=True: (_ for _ in ()).throw(OSError("reset"))
    with pytest.raises(ConnectionFailed, match="dropped while reading"):
        q.run_query(sdc, instrument="mag")


@responses.activate
def test_python_api_uses_the_official_keyword_names(monkeypatch) -> None:
    import imap_cli

    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", SDC)
    rows = [science_row("imap_mag_l1a_norm-mago_20251017_v001.0001.cdf")]
    responses.get(f"{SDC}/query", json=rows)
    got = imap_cli.query(
        instrument="mag", data_level="l1a", start_date="20251017", end_date="20251017"
    )
    assert got == rows
    assert [k for k, _ in sent_params()] == [
        "table",
        "instrument",
        "data_level",
        "start_date",
        "end_date",
    ]


def test_the_last_representable_day_is_an_open_end_on_spice() -> None:
    from imap_cli.core.query import plan_query

    plan = plan_query(table="spice", end_date="99991231", ingestion_end_date="99991231")
    names = [name for name, _ in plan.params]
    assert "end_time" not in names and "end_ingest_date" not in names


def test_an_extension_of_another_table_says_which_table_has_it() -> None:
    """`--table quicklook --extension cdf` is no typo of pdf: science files are cdf."""
    with pytest.raises(UsageError) as caught:
        q.plan_query(table="quicklook", instrument="mag", extension="cdf")
    assert "science" in caught.value.message and "pdf" in caught.value.message
    assert "Did you mean" not in caught.value.hint and "table='science'" in caught.value.hint
