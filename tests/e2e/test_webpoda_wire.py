"""`imap webpoda` on the wire: against an independent PODA fake (fake_poda.py, written from the
protocol) and an independent SDC fake (realistic_ops.OpsSDC): request shapes, credentials,
chunked and cut bodies, 503s, ERT/SCT, backfills, pointings, midnight buffers, versioning and
uploads."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from fake_poda import PodaServer
from realistic_ops import OpsSDC
from realistic_sdc import md5_etag, multipart_etag

D = dt.datetime
API_KEY = "sdc-key-0123456789"


@pytest.fixture
def poda():
    with PodaServer() as server:
        yield server


@pytest.fixture
def sdc():
    with OpsSDC(api_keys=(API_KEY,)) as fake:
        yield fake


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def run(imap, sdc, poda, data_dir):
    runner = imap.against(sdc.api_url, data_dir=data_dir, retries=3)

    def webpoda(*argv: str, env: dict | None = None, **kw):
        base = {"IMAP_WEBPODA_URL": poda.url, "IMAP_WEBPODA_TOKEN": poda.fake.token}
        base.update(env or {})
        return runner("webpoda", *argv, env=base, **kw)

    return webpoda


def files(data_dir: Path) -> dict[str, bytes]:
    """Every file under the data dir (name -> bytes), parts included."""
    return {p.name: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}


def mag_day(poda) -> dict[str, bytes]:
    """Packets around 2025-10-01 for both MAG APIDs; returns the expected files' bytes."""
    add = poda.fake.add
    p_before = add(1052, D(2025, 9, 30, 23, 40), D(2025, 10, 1, 2))  # in 10-01's buffer
    p_outside = add(1052, D(2025, 9, 30, 23, 20), D(2025, 10, 1, 2))  # before the buffer
    a1 = add(1052, D(2025, 10, 1, 0, 0, 0, 500), D(2025, 10, 1, 1), size=40)
    b1 = add(1068, D(2025, 10, 1, 12), D(2025, 10, 1, 13))
    a2 = add(1052, D(2025, 10, 1, 23, 59, 59), D(2025, 10, 1, 23, 59, 59))
    p_after = add(1052, D(2025, 10, 2, 0, 29, 59, 999000), D(2025, 10, 2, 1))  # buffer end
    add(1068, D(2025, 10, 2, 0, 30), D(2025, 10, 2, 1))  # excluded: the bound is exclusive
    return {
        "imap_mag_l0_raw_20251001_v001.0001.pkts": p_before + a1 + a2 + p_after + b1,
        "p_outside": p_outside,
    }


def test_request_shapes_credentials_and_bytes(run, poda, sdc, data_dir):
    expected = mag_day(poda)
    ran = run("-i", "mag", "-s", "20251001", "-o", "json", env={"IMAP_API_KEY": API_KEY})
    assert ran.code == 0, ran.err
    txt = sorted(s.path + "?" + s.query for s in poda.fake.texts())
    assert txt == [
        f"/ops/imap/poda/dap2/apids/SID1/apid_{apid}.txt?ert%3E=2025-10-01T00:00:00.000000"
        "&ert%3C2025-10-01T23:59:59.999999&project(time)"
        "&formatTime(%22yyyy-MM-dd'T'HH:mm:ss%22)"
        for apid in (1052, 1068)
    ]
    days = {s.query for s in poda.fake.bins()}
    # ERT found packets of 09-30 (23:20 and 23:40 received on 10-01) and 10-01, 10-02
    assert (
        "time%3E=2025-09-30T23:30:00.000000&time%3C2025-10-02T00:30:00.000000&project(packet)"
        in days
    )
    assert all(s.headers["authorization"] == f"Basic {poda.fake.token}" for s in poda.fake.seen)
    assert not any("x-api-key" in s.headers for s in poda.fake.seen)
    assert all(s.header("authorization") is None for s in sdc.seen)
    assert any(s.header("x-api-key") == API_KEY for s in sdc.seen if s.server == "api")
    written = files(data_dir)
    name = "imap_mag_l0_raw_20251001_v001.0001.pkts"
    assert written[name] == expected[name]
    assert (data_dir / "imap/mag/l0/2025/10" / name).is_file()
    report = json.loads(ran.out)
    by_date = {d["date"]: d for d in report["days"]}
    assert by_date["2025-10-01"]["action"] == "new"
    assert by_date["2025-10-01"]["apids"] == {"1052": 4, "1068": 1}
    assert by_date["2025-10-01"]["bytes"] == len(expected[name])
    assert not [n for n in written if n.endswith(".part")]


def test_backfilled_day_in_ert_mode(run, poda, data_dir):
    late = poda.fake.add(1068, D(2025, 10, 1, 6), D(2025, 10, 5, 9))  # received 4 days later
    poda.fake.add(1052, D(2025, 10, 5, 1), D(2025, 10, 5, 2))
    ran = run("-i", "mag", "-s", "20251005", "-o", "json")
    assert ran.code == 0, ran.err
    dates = [d["date"] for d in json.loads(ran.out)["days"]]
    assert dates == ["2025-10-01", "2025-10-05"]
    assert files(data_dir)["imap_mag_l0_raw_20251001_v001.0001.pkts"] == late


def test_sct_mode_asks_every_day_and_skips_empty_ones(run, poda, data_dir):
    one = poda.fake.add(1184, D(2025, 10, 1, 12), D(2025, 10, 9))  # received long after
    ran = run(
        "-i", "swapi", "-s", "20251001", "-e", "20251003", "--query-mode", "sct", "-o", "json"
    )
    assert ran.code == 0, ran.err
    assert poda.fake.texts() == []  # SCT needs no ERT lookup
    actions = {d["date"]: d["action"] for d in json.loads(ran.out)["days"]}
    assert actions == {"2025-10-01": "new", "2025-10-02": "empty", "2025-10-03": "empty"}
    assert files(data_dir) == {"imap_swapi_l0_raw_20251001_v001.0001.pkts": one}
    windows = sorted(s.query for s in poda.fake.bins() if "apid_1184" in s.path)
    assert windows[0].startswith("time%3E=2025-09-30T23:59:00.000000&time%3C2025-10-02T00:01:00")


def test_a_cut_body_is_fetched_again_never_kept_short(run, poda, data_dir):
    expected = mag_day(poda)
    poda.fake.cut(1, "apid_1052.bin")
    ran = run("-i", "mag", "-s", "20251001", "--query-mode", "sct", "-o", "json")
    assert ran.code == 0, ran.err
    name = "imap_mag_l0_raw_20251001_v001.0001.pkts"
    assert files(data_dir)[name] == expected[name]
    assert len([s for s in poda.fake.bins() if "1052" in s.path]) == 2


def test_503s_are_retried(run, poda, data_dir):
    expected = mag_day(poda)
    poda.fake.fail(2, 503, "apid_1068.bin")
    ran = run("-i", "mag", "-s", "20251001", "--query-mode", "sct", "-o", "json")
    assert ran.code == 0, ran.err
    name = "imap_mag_l0_raw_20251001_v001.0001.pkts"
    assert files(data_dir)[name] == expected[name]


def test_a_day_that_keeps_failing_is_named_exit_1_and_nothing_left(run, poda, data_dir):
    mag_day(poda)
    poda.fake.fail(10, 503, "apid_1068.bin?time%3E=2025-09-30")
    ran = run("-i", "mag", "-s", "20251001", "-e", "20251002", "--query-mode", "sct", "-o", "json")
    assert ran.code == 1
    days = {d["date"]: d for d in json.loads(ran.out)["days"]}
    assert days["2025-10-01"]["action"] == "failed"
    assert "503" in days["2025-10-01"]["error"]
    assert days["2025-10-02"]["action"] == "new"
    assert "2025-10-01" in ran.err
    assert set(files(data_dir)) == {"imap_mag_l0_raw_20251002_v001.0001.pkts"}


def test_wrong_or_missing_poda_credentials(run, poda):
    mag_day(poda)
    ran = run("-i", "mag", "-s", "20251001", env={"IMAP_WEBPODA_TOKEN": "d3Jvbmc6d3Jvbmc="})
    assert ran.code == 4
    assert "401" in ran.err and "webpoda login" in ran.err
    ran = run("-i", "mag", "-s", "20251001", env={"IMAP_WEBPODA_TOKEN": None})
    assert ran.code == 2
    assert "PODA credentials" in ran.err


def test_dry_run_writes_nothing(run, poda, data_dir):
    expected = mag_day(poda)
    ran = run("-i", "mag", "-s", "20251001", "--query-mode", "sct", "--dry-run", "-o", "json")
    assert ran.code == 0, ran.err
    (day,) = json.loads(ran.out)["days"]
    name = "imap_mag_l0_raw_20251001_v001.0001.pkts"
    assert day["action"] == "new"
    assert day["path"].endswith(name)
    assert day["bytes"] == len(expected[name])
    assert files(data_dir) == {}


def repoint_rows(sdc, rows: list[tuple[int, str]]) -> None:
    """A repoint table in the SDC: its CSV object and the /repoint-table record."""
    from realistic_sdc import S3Object

    head = "repoint_start_utc,repoint_end_utc,repoint_id\n"
    body = head + "".join(f"x,{end},{rid}\n" for rid, end in rows)
    key = "imap/spice/repoint/imap_2025_280_01.repoint.csv"
    sdc.objects[key] = S3Object(body.encode(), md5_etag(body.encode()))
    sdc.table_rows["repoint"] = [
        {"file_path": "imap/spice/repoint/imap_2025_270_01.repoint.csv",
         "ingestion_date": "2025-10-01, 00:00:00"},
        {"file_path": key, "ingestion_date": "2025-10-09, 10:00:00"},
    ]  # fmt: skip


def test_pointings_from_the_repoint_table(run, poda, sdc, data_dir):
    repoint_rows(
        sdc,
        [
            (40, "2025-10-01 01:00:00.250000"),
            (41, "NaN"),  # never started: 40 and 41 make no pointing
            (42, "2025-10-02 01:00:00.000000"),
            (43, "2025-10-03 01:30:00.500000"),
            (44, "2025-10-04 01:00:00.000000"),
        ],
    )
    in_42 = poda.fake.add(740, D(2025, 10, 2, 5), D(2025, 10, 6))
    in_42b = poda.fake.add(754, D(2025, 10, 3, 1, 30), D(2025, 10, 6))  # before 43 begins
    poda.fake.add(740, D(2025, 10, 3, 1, 30, 0, 500000), D(2025, 10, 7))  # in 43, later ERT
    ran = run("-i", "hi", "-s", "20251006", "-o", "json")
    assert ran.code == 0, ran.err
    days = json.loads(ran.out)["days"]
    assert [(d["date"], d["repointing"]) for d in days] == [("2025-10-02", 42)]
    name = "imap_hi_l0_raw_20251002-repoint00042_v001.0001.pkts"
    assert files(data_dir)[name] == in_42 + in_42b
    assert (data_dir / "imap/hi/l0/2025/10" / name).is_file()
    queries = {s.query for s in poda.fake.bins()}
    assert queries == {
        "time%3E=2025-10-02T01:00:00.000000&time%3C2025-10-03T01:30:00.500000&project(packet)"
    }
    # SCT: the pointings overlapping the window
    ran = run("-i", "hi", "-s", "20251003", "--query-mode", "sct", "-o", "json")
    days = json.loads(ran.out)["days"]
    assert [(d["repointing"], d["action"]) for d in days] == [(42, "new"), (43, "new")]


# --- versioning against the SDC ---------------------------------------------------------------

NAME = "imap_mag_l0_raw_20251001_v001.0001.pkts"
KEY = "imap/mag/l0/2025/10/" + NAME


def test_unchanged_decided_by_md5_without_downloading(run, poda, sdc, data_dir):
    expected = mag_day(poda)[NAME]
    sdc.add_science(KEY, expected)
    ran = run("-i", "mag", "-s", "20251001", "--query-mode", "sct", "-o", "json")
    assert ran.code == 0, ran.err
    (day,) = json.loads(ran.out)["days"]
    assert day["action"] == "unchanged" and day["path"] is None
    assert "MD5" in day["detail"]
    assert files(data_dir) == {}
    gets = [s for s in sdc.seen if s.server == "s3" and s.method == "GET"]
    assert gets and all(s.header("range") == "bytes=0-0" for s in gets)


def test_changed_gets_the_next_minor_version(run, poda, sdc, data_dir):
    expected = mag_day(poda)[NAME]
    sdc.add_science(KEY, bytes(len(expected)))  # same size, other bytes
    sdc.add_science(KEY.replace("0001", "0003"), b"x" * 10)
    ran = run("-i", "mag", "-s", "20251001", "--query-mode", "sct", "-o", "json")
    assert ran.code == 0, ran.err
    (day,) = json.loads(ran.out)["days"]
    assert day["action"] == "changed"
    assert files(data_dir) == {"imap_mag_l0_raw_20251001_v001.0004.pkts": expected}


def test_same_size_multipart_etag_compares_the_bytes(run, poda, sdc, data_dir):
    expected = mag_day(poda)[NAME]
    sdc.add_science(KEY, expected, multipart=2)
    ran = run("-i", "mag", "-s", "20251001", "--query-mode", "sct", "-o", "json")
    assert ran.code == 0, ran.err
    (day,) = json.loads(ran.out)["days"]
    assert day["action"] == "unchanged"
    # the production file was downloaded to compare (and kept, as a download), nothing new
    assert set(files(data_dir)) == {NAME}
    assert md5_etag(expected) != multipart_etag(expected, 2)
    # a dry run compares the same way, and leaves nothing in the data dir
    shutil.rmtree(data_dir)
    ran = run("-i", "mag", "-s", "20251001", "--query-mode", "sct", "--dry-run", "-o", "json")
    assert json.loads(ran.out)["days"][0]["action"] == "unchanged"
    assert files(data_dir) == {}


def test_smaller_than_production_is_a_warning_with_both_sizes(run, poda, sdc, data_dir):
    expected = mag_day(poda)[NAME]
    sdc.add_science(KEY, expected + b"more bytes")
    ran = run("-i", "mag", "-s", "20251001", "--query-mode", "sct", "-o", "json")
    assert ran.code == 0, ran.err
    (day,) = json.loads(ran.out)["days"]
    assert day["action"] == "unchanged"
    assert "Warning" in ran.err
    assert f"{len(expected):,}" in ran.err and f"{len(expected) + 10:,}" in ran.err
    assert files(data_dir) == {}


def test_upload_goes_to_the_sdc(run, poda, sdc, data_dir):
    expected = mag_day(poda)[NAME]
    ran = run(
        "-i", "mag", "-s", "20251001", "--query-mode", "sct", "--upload", "-o", "json",
        env={"IMAP_API_KEY": API_KEY},
    )  # fmt: skip
    assert ran.code == 0, ran.err
    (day,) = json.loads(ran.out)["days"]
    assert day["uploaded"] is True
    assert sdc.objects[KEY].data == expected
    assert hashlib.md5(expected).hexdigest() in sdc.objects[KEY].etag


def test_a_failed_upload_is_an_error_named(run, poda, sdc, data_dir):
    mag_day(poda)
    sdc.fault("api", "status", times=10, path_contains="/upload/", status=403,
              body={"message": "Forbidden"})  # fmt: skip
    ran = run(
        "-i", "mag", "-s", "20251001", "--query-mode", "sct", "--upload", "-o", "json",
        env={"IMAP_API_KEY": API_KEY},
    )  # fmt: skip
    assert ran.code == 1
    (day,) = json.loads(ran.out)["days"]
    assert day["uploaded"] is False and "403" in day["error"]
    assert "2025-10-01" in ran.err and "upload failed" in ran.err
    assert KEY not in sdc.objects
    assert NAME in files(data_dir)  # what was made is kept for another try


def test_apids_sid_and_url_flags(run, poda, data_dir):
    mag_day(poda)
    only = poda.fake.add(1068, D(2025, 10, 1, 8), sid="SID2")
    ran = run(
        "-i", "mag", "-s", "20251001", "--query-mode", "sct", "--apids", "1068",
        "--sid", "SID2", "--webpoda-url", poda.url, "-o", "json",
        env={"IMAP_WEBPODA_URL": "http://127.0.0.1:9/nothing-listens-here"},
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert {s.path for s in poda.fake.seen} == {"/ops/imap/poda/dap2/apids/SID2/apid_1068.bin"}
    assert files(data_dir) == {NAME: only}


def test_a_matching_local_copy_is_compared_instead_of_a_download(run, poda, sdc, data_dir):
    expected = mag_day(poda)[NAME]
    sdc.add_science(KEY, expected, multipart=3)
    local = data_dir / KEY
    local.parent.mkdir(parents=True)
    local.write_bytes(expected)
    ran = run("-i", "mag", "-s", "20251001", "--query-mode", "sct", "-o", "json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["days"][0]["action"] == "unchanged"
    gets = [s for s in sdc.seen if s.server == "s3" and s.method == "GET"]
    assert gets and all(s.header("range") == "bytes=0-0" for s in gets)


def test_an_interrupted_run_leaves_only_whole_files(poda, sdc, data_dir):
    from imap_cli.core.http import SDCClient
    from imap_cli.core.settings import resolve
    from imap_cli.core.webpoda import plan_webpoda, poda_client, run_webpoda

    for day in range(1, 6):
        poda.fake.add(1052, D(2025, 10, day, 12), size=5000)
    settings = resolve(
        flags={"url": sdc.api_url, "data-dir": str(data_dir), "webpoda-url": poda.url},
        env={"IMAP_WEBPODA_TOKEN": poda.fake.token},
    )
    plan = plan_webpoda("mag", "20251001", "20251005", query_mode="sct")

    def stop(day):
        raise KeyboardInterrupt  # Ctrl-C as the first day is reported

    with (
        SDCClient(settings) as client,
        poda_client(settings) as source,
        pytest.raises(KeyboardInterrupt),
    ):
        run_webpoda(client, source, plan, data_dir=data_dir, jobs=4, on_day=stop)
    left = sorted(p.name for p in data_dir.rglob("*") if p.is_file())
    assert left == ["imap_mag_l0_raw_20251001_v001.0001.pkts"]


# --- progress ---------------------------------------------------------------------------------


def test_progress_counts_days_and_the_bytes_of_whole_answers(poda, sdc, data_dir):
    from imap_cli.core.http import SDCClient
    from imap_cli.core.settings import resolve
    from imap_cli.core.webpoda import make_files, plan_webpoda

    add = poda.fake.add
    first = add(1052, D(2025, 10, 1, 12), size=3000) + add(1068, D(2025, 10, 1, 13), size=700)
    answered = add(1052, D(2025, 10, 2, 12), size=500)  # 10-02's other APID keeps failing
    add(1068, D(2025, 10, 2, 13))
    third = add(1052, D(2025, 10, 3, 12), size=90)
    poda.fake.fail(10, 503, "apid_1068.bin?time%3E=2025-10-01T23")
    poda.fake.cut(1, "apid_1052.bin?time%3E=2025-09-30")  # 10-01's answer is cut once
    settings = resolve(
        flags={"url": sdc.api_url, "data-dir": str(data_dir), "webpoda-url": poda.url},
        env={"IMAP_WEBPODA_TOKEN": poda.fake.token, "IMAP_RETRIES": "2"},
    )
    plan = plan_webpoda("mag", "20251001", "20251003", query_mode="sct")
    seen = []
    with SDCClient(settings) as client:
        summary = make_files(client, settings, plan, jobs=4, on_progress=seen.append)
    assert [d.action for d in summary.days] == ["new", "failed", "new"]
    assert seen[0].phase == "finding" and seen[0].days is None
    assert all(s.phase == "fetching" and s.days == 3 for s in seen[1:])
    assert {day for s in seen for day in s.current} == {"20251001", "20251002", "20251003"}
    assert [s.done for s in seen] == sorted(s.done for s in seen)  # in order, never back
    last = seen[-1]
    assert (last.done, last.failed, last.current) == (3, 1, ())
    # the bytes of every whole answer, 10-02's that did answer included; none of the cut one's
    assert poda.fake.cuts == []  # the cut happened
    assert last.received == len(first) + len(answered) + len(third)


def test_the_command_draws_its_bar_on_a_terminal_and_only_there(run, poda, monkeypatch):
    import functools
    import re

    from imap_cli.cli import output

    for day in (1, 2):
        poda.fake.add(1052, D(2025, 10, day, 12), size=2000)
    argv = ("-v", "-i", "mag", "-s", "20251001", "-e", "20251002", "--query-mode", "sct")
    argv += ("--dry-run", "-o", "json")
    piped = run(*argv)
    assert piped.code == 0, piped.err
    assert "2025-10-01: new" in piped.err  # the -v lines, as before
    assert "Fetching" not in piped.err and "\x1b" not in piped.err
    with monkeypatch.context() as patch:  # stderr a terminal (stdout still a pipe)
        patch.setattr(output, "Streams", functools.partial(output.Streams, stderr_tty=True))
        ran = run(*argv, env={"COLUMNS": "100"})
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == json.loads(piped.out)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "\n", ran.err)
    assert "Fetching days 2/2" in text and "4.0 kB" in text
    # the -v day lines are printed above the bar, whole
    assert re.search(r"^2025-10-01: new \(the SDC has no L0 file for it\)$", text, re.M)
    assert text.rstrip().endswith("nothing was written.")  # the summary after the bar
