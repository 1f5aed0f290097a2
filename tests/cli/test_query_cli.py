"""`imap query` through app.main against `responses`: formats, counts, failures, exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from imap_cli.cli.app import main
from imap_cli.cli.output import Output, Streams
from imap_cli.cli.query import show_results
from imap_cli.core.recent import recent_keys

SDC = "https://sdc.example"
QUERY = f"{SDC}/query"
SPICE = f"{SDC}/spice-query"


def science(name: str, **fields) -> dict:
    parts = name.split("_")
    row = {
        "file_path": f"imap/{parts[1]}/{parts[2]}/{parts[4][:4]}/{parts[4][4:6]}/{name}",
        "instrument": parts[1],
        "data_level": parts[2],
        "descriptor": parts[3],
        "start_date": parts[4][:8],
        "repointing": None,
        "major_version": 1,
        "minor_version": 2,
        "version": "v001.0002",
        "extension": "cdf",
        "ingestion_date": "20251002 10:00:00",
        "cr": None,
        "crid": None,
        "released": True,
    }
    row.update(fields)
    return row


MAG = science("imap_mag_l1a_norm-mago_20251001_v001.0002.cdf")
MAG2 = science("imap_mag_l1a_norm-magi_20251002_v001.0002.cdf")
HI = science("imap_hi_l1b_45sensor-de_20251001-repoint00042_v001.0002.cdf", repointing=42)
KERNEL = {
    "file_name": "ck/imap_2025_274_2025_276_001.ah.bc",
    "file_root": "imap_2025_274_2025_276.ah.bc",
    "kernel_type": "attitude_history",
    "version": 1,
    "min_date_j2000": 812548869.18,
    "max_date_j2000": 812721669.18,
    "file_intervals_j2000": [[812548869.18, 812721669.18]],
    "min_date_datetime": "2025-10-01, 00:00:00",
    "max_date_datetime": "2025-10-03, 00:00:00",
    "ingestion_date": "2025-10-04, 01:02:03",
    "timestamp": 1759539723.0,
}


@pytest.fixture(autouse=True)
def sdc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", SDC)
    monkeypatch.setenv("IMAP_RETRIES", "2")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["query", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def params(index: int = 0) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(responses.calls[index].request.url).query)


# --- formats -----------------------------------------------------------------------------------


@responses.activate
def test_json_is_the_default_into_a_pipe_and_is_the_sdc_records(capsys) -> None:
    body = json.dumps([MAG, MAG2])
    responses.get(QUERY, body=body, content_type="application/json")
    code, out, err = run(capsys, "--instrument", "mag", "--start-date", "2025-10-01")
    assert code == 0
    assert json.loads(out) == [MAG, MAG2] and out == body + "\n"
    assert err == "Found 2 files in the science table\n"
    assert params() == [("table", "science"), ("instrument", "mag"), ("start_date", "20251001")]


@responses.activate
def test_json_after_client_side_filtering_is_still_valid(capsys) -> None:
    old = {"file_path": "imap/ancillary/mag/a_v001.cdf", "instrument": "mag", "descriptor": "c"}
    old.update(start_date="20250101", end_date=None, version="v001", ingestion_date="x")
    new = {**old, "file_path": "imap/ancillary/mag/a_v002.cdf", "version": "v002"}
    responses.get(QUERY, json=[old, new])
    code, out, err = run(capsys, "--table", "ancillary", "-i", "mag", "--version", "latest")
    assert code == 0 and json.loads(out) == [new]
    assert "Found 1 file in the ancillary table" in err


@responses.activate
def test_paths_are_sdc_keys_for_download(capsys) -> None:
    responses.get(QUERY, json=[MAG, MAG2])
    code, out, _ = run(capsys, "-i", "mag", "-o", "paths")
    assert code == 0 and out.splitlines() == [MAG["file_path"], MAG2["file_path"]]
    assert recent_keys()[:2] == [MAG["file_path"], MAG2["file_path"]]


@responses.activate
def test_spice_paths_and_table(capsys) -> None:
    responses.get(SPICE, json=[KERNEL])
    code, out, err = run(capsys, "--table", "spice", "--type", "attitude_history", "-o", "paths")
    assert code == 0 and out == "imap/spice/ck/imap_2025_274_2025_276_001.ah.bc\n"
    assert params() == [("type", "attitude_history")]
    assert "Found 1 file in the spice table" in err
    code, out, _ = run(capsys, "--table", "spice", "--type", "attitude_history", "-o", "table")
    header, _, line = out.splitlines()
    assert header.split("  ")[0] == "KERNEL TYPE" and header.endswith("FILENAME")
    # dates as in every table (midnight: the date alone), the version as the file name has it
    assert line.split() == [
        "attitude_history",
        "2025-10-01",
        "2025-10-03",
        "2025-10-04",
        "01:02",
        "001",
        "imap_2025_274_2025_276_001.ah.bc",
    ]


@responses.activate
def test_table_columns_for_science(capsys) -> None:
    responses.get(QUERY, json=[MAG, MAG2])
    code, out, _ = run(capsys, "-i", "mag", "-o", "table")
    assert code == 0
    header, rule, *lines = out.splitlines()
    assert header.split() == [
        "INSTRUMENT",
        "LEVEL",
        "DESCRIPTOR",
        "START",
        "VERSION",
        "INGESTED",
        "FILENAME",
    ]
    assert set(rule) <= {"─", " "}
    assert lines[0].split() == [
        "mag",
        "l1a",
        "norm-mago",
        "2025-10-01",
        "v001.0002",
        "2025-10-02",
        "10:00",
        "imap_mag_l1a_norm-mago_20251001_v001.0002.cdf",
    ]
    assert len({len(line) for line in lines}) == 1  # aligned


@responses.activate
def test_repointing_and_cr_columns_only_when_present(capsys) -> None:
    with_cr = science("imap_glows_l3a_hist_20251001-cr02301_v001.0002.cdf", cr=2301)
    responses.get(QUERY, json=[MAG, HI, with_cr])
    _, out, _ = run(capsys, "-i", "mag", "-o", "table")
    header = out.splitlines()[0].split()
    assert header[4:6] == ["REPOINT", "CR"]
    hi_line = out.splitlines()[3]
    assert "  42  " in hi_line


@responses.activate
def test_ancillary_table_has_end_dates(capsys) -> None:
    row = {
        "file_path": "imap/ancillary/mag/imap_mag_cal_20250101_20250131_v002.cdf",
        "instrument": "mag",
        "descriptor": "cal",
        "start_date": "20250101",
        "end_date": "20250131",
        "version": "v002",
        "extension": "cdf",
        "ingestion_date": "20250201 00:00:00",
        "released": True,
    }
    responses.get(QUERY, json=[row])
    _, out, _ = run(capsys, "--table", "ancillary", "-i", "mag", "-o", "table")
    assert out.splitlines()[0].split()[:4] == ["INSTRUMENT", "DESCRIPTOR", "START", "END"]
    assert "20250131" in out.splitlines()[2]


@responses.activate
def test_csv_has_a_header_and_the_union_of_fields(capsys) -> None:
    extra = {**MAG2, "new_field": [1, 2], "released": False}
    responses.get(QUERY, json=[MAG, extra])
    code, out, _ = run(capsys, "-i", "mag", "-o", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0][:2] == ["file_path", "instrument"]
    assert rows[0][-1] == "new_field" and len(rows) == 3
    first, second = (dict(zip(rows[0], r)) for r in rows[1:])
    assert first["repointing"] == "" and first["released"] == "true" and first["new_field"] == ""
    assert second["new_field"] == "[1,2]" and second["released"] == "false"


@responses.activate
@pytest.mark.parametrize("fmt", ["table", "json", "csv", "paths"])
def test_nothing_found_is_friendly_and_exit_0(capsys, fmt) -> None:
    responses.get(QUERY, json=[])
    code, out, err = run(capsys, "-i", "mag", "-s", "20300101", "-o", fmt)
    assert code == 0 and "No files in the science table match these filters" in err
    if fmt == "json":
        assert json.loads(out) == []
    elif fmt == "csv":
        assert out.startswith("file_path,instrument,data_level")
    else:
        assert out == ""


def test_table_on_a_terminal_is_bold_and_safe() -> None:
    out = io.StringIO()
    streams = Streams(stdout=out, stderr=io.StringIO(), stdout_tty=True, stderr_tty=False, env={})
    evil = science("imap_mag_l1a_norm-mago_20251001_v001.0002.cdf", descriptor="a\x1b[2Jb\nc")
    show_results(Output(streams), [evil, MAG], "science", "table")
    text = out.getvalue()
    assert text.startswith("\x1b[1mINSTRUMENT")
    assert "\x1b[2J" not in text and "a?[2Jb?c" in text
    assert len(text.splitlines()) == 4


def test_json_on_a_terminal_is_indented() -> None:
    out = io.StringIO()
    streams = Streams(stdout=out, stderr=io.StringIO(), stdout_tty=True, stderr_tty=False, env={})
    show_results(Output(streams), [MAG], "science", "json", body=b"[...]")
    assert out.getvalue().startswith('[\n  {\n    "file_path"')


def test_quiet_hides_the_count(capsys) -> None:
    with responses.RequestsMock() as mock:
        mock.get(QUERY, json=[MAG])
        code = main(["-q", "query", "-i", "mag", "-o", "paths"])
    out, err = capsys.readouterr()
    assert code == 0 and err == "" and out == MAG["file_path"] + "\n"


# --- filters -----------------------------------------------------------------------------------


@responses.activate
def test_filename_returns_only_that_file(capsys) -> None:
    responses.get(QUERY, json=[MAG, science("imap_mag_l1a_norm-mago_20251001_v001.0001.cdf")])
    code, out, err = run(capsys, "--filename", "imap_mag_l1a_norm-mago_20251001_v001.0002.cdf")
    assert code == 0 and json.loads(out) == [MAG] and "Found 1 file" in err
    assert ("version", "v001.0002") in params() and ("end_date", "20251001") in params()


@responses.activate
def test_filename_picks_its_table(capsys) -> None:
    responses.get(SPICE, json=[KERNEL])
    code, out, _ = run(capsys, "--filename", "imap_2025_274_2025_276_001.ah.bc", "-o", "paths")
    assert code == 0 and out == "imap/spice/ck/imap_2025_274_2025_276_001.ah.bc\n"
    assert params() == [("type", "kernels"), ("file_name", "imap_2025_274_2025_276_001.ah.bc")]


@responses.activate
def test_spice_never_gets_dates_or_versions(capsys) -> None:
    responses.get(SPICE, json=[])
    argv = ["--table", "spice", "-s", "20251001", "-e", "20251002", "--version", "latest"]
    code, _, _ = run(capsys, *argv, "--ingestion-end-date", "20251005")
    sent = dict(params())
    assert code == 0 and set(sent) == {
        "type",
        "start_time",
        "end_time",
        "end_ingest_date",
        "latest",
    }
    assert sent["end_ingest_date"] == "20251006"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["-i", "magg"], "'magg' is not a valid instrument; valid instruments: codice, glows"),
        (["-i", "mag", "-s", "2025-02-30"], "'2025-02-30' is not a valid start date"),
        (["-i", "mag", "--version", "1.2"], "'1.2' is not a valid version"),
        (["-i", "mag", "--repointing", "repoint12"], "not a valid repointing"),
        (["--table", "ancillary", "-l", "l1a"], "ancillary table cannot be filtered by data level"),
        (["--table", "spice"], "at least one filter"),
        (["--version", "latest"], "at least one filter"),
        (["-i", "mag", "-o", "xml"], "'xml' is not an output format; valid formats: csv, json"),
        (["--filename", "imap_mag_l1a_x_20251001_v001.cdf", "-i", "mag"], "fixes every filter"),
        (["--filename", "not_a_name.txt"], "not_a_name.txt"),
        (["--table", "ancillary", "--filename", MAG["file_path"]], "is a science file"),
    ],
)
@responses.activate
def test_bad_input_exits_2_before_any_request(capsys, argv, fragment) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("Error: ") and fragment in err and "\nHint: " in err
    assert len(responses.calls) == 0


@responses.activate
def test_api_key_goes_to_the_api_key_route(capsys, monkeypatch) -> None:
    monkeypatch.setenv("IMAP_API_KEY", "secret-key-123")
    responses.get(f"{SDC}/api-key/query", json=[MAG])
    code, _, err = run(capsys, "-i", "mag")
    assert code == 0 and responses.calls[0].request.headers["x-api-key"] == "secret-key-123"
    assert "secret-key-123" not in err


# --- failures ----------------------------------------------------------------------------------


FAILURES = [
    # (what the SDC does, exit code, text in the error line, text in the hint)
    (
        {"body": requests.exceptions.ConnectionError("[Errno 111] Connection refused")},
        3,
        "connection refused by sdc.example",
        "check the url setting",
    ),
    (
        {"body": requests.exceptions.ConnectionError("NameResolutionError: getaddrinfo failed")},
        3,
        "cannot resolve the host name sdc.example",
        "does not resolve",
    ),
    ({"body": requests.exceptions.ReadTimeout("read timed out")}, 3, "did not answer in time", ""),
    (
        {"body": requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED")},
        3,
        "TLS certificate check failed for sdc.example",
        "imap config set ca-bundle FILE",
    ),
    ({"status": 401, "json": {"message": "Unauthorized"}}, 4, "401", "API key"),
    ({"status": 403, "json": {"message": "Forbidden"}}, 4, "403", "API key"),
    (
        {"status": 400, "json": "start_date is not a valid query parameter for science table."},
        2,
        "400 Bad Request: start_date is not a valid query parameter for science table.",
        "",
    ),
    ({"status": 404, "body": "Not Found"}, 3, "has no SDC API at this url (404)", "url setting"),
    ({"status": 429, "body": "slow down"}, 3, "429", "rate-limiting"),
    ({"status": 500, "json": {"message": "Internal Server Error"}}, 3, "500", "retry later"),
    ({"status": 502, "json": {"message": "Bad Gateway"}}, 3, "502", "imap-sdc@lasp.colorado.edu"),
    ({"status": 503, "body": "Service Unavailable"}, 3, "503", "temporarily down"),
    (
        {"body": "<html>oops</html>", "content_type": "text/html"},
        3,
        "not JSON (text/html",
        "unexpected answer",
    ),
    ({"json": {"message": "too big"}}, 3, "a JSON object, not a list of files: too big", ""),
    ({"json": ["a", "b"]}, 3, "item 1 of the SDC's answer is a JSON string", ""),
]


@pytest.mark.parametrize(("reply", "code", "message", "hint"), FAILURES)
@responses.activate
def test_failures_are_one_line_a_hint_and_an_exit_code(capsys, reply, code, message, hint) -> None:
    responses.get(QUERY, **reply)
    got, out, err = run(capsys, "-i", "mag")
    *retries, error, hint_line = err.splitlines()
    assert got == code and out == ""
    # Transient failures are retried, each retry announced on its own line before the error.
    assert all("; retrying (" in line for line in retries)
    assert error.startswith("Error: ") and hint_line.startswith("Hint: ")
    assert message in error
    assert hint.lower() in hint_line.lower()


@responses.activate
def test_5xx_is_retried_before_giving_up(capsys) -> None:
    responses.get(QUERY, status=502, json={"message": "Bad Gateway"})
    code, _, _ = run(capsys, "-i", "mag")
    assert code == 3 and len(responses.calls) == 3  # IMAP_RETRIES=2


@responses.activate
def test_a_502_then_success_is_invisible(capsys) -> None:
    responses.get(QUERY, status=502, json={"message": "Bad Gateway"})
    responses.get(QUERY, json=[MAG])
    code, out, _ = run(capsys, "-i", "mag", "-o", "paths")
    assert code == 0 and out == MAG["file_path"] + "\n"


def test_400_message_is_shown_as_plain_text(capsys) -> None:
    with responses.RequestsMock() as mock:
        mock.get(QUERY, status=400, json="[bold red]not markup[/] is not valid")
        code, _, err = run(capsys, "-i", "mag")
    assert code == 2 and "[bold red]not markup[/] is not valid" in err


# --- --download --------------------------------------------------------------------------------


@responses.activate
def test_download_hands_every_key_to_the_download_machinery(capsys, monkeypatch) -> None:
    seen: dict = {}

    def fake_run_downloads(state, keys, **options) -> int:
        seen.update(keys=list(keys), **options)
        return 1

    monkeypatch.setattr("imap_cli.cli.download.run_downloads", fake_run_downloads)
    responses.get(QUERY, json=[MAG, MAG2])
    code, out, err = run(capsys, "-i", "mag", "--download", "-j", "3", "--force")
    assert code == 1 and out == "" and "Found 2 files" in err
    assert seen == {
        "keys": [MAG["file_path"], MAG2["file_path"]],
        "jobs": 3,
        "force": True,
        "print_paths": True,  # no -o: the download prints the local paths
    }


@responses.activate
def test_download_with_nothing_found_downloads_nothing(capsys, monkeypatch) -> None:
    monkeypatch.setattr(
        "imap_cli.cli.download.run_downloads", lambda *a, **k: pytest.fail("called")
    )
    responses.get(QUERY, json=[])
    code, _, err = run(capsys, "-i", "mag", "--download", "-o", "paths")
    assert code == 0 and "No files" in err


def test_recent_keys_file_is_in_the_cache_folder(capsys, isolated_settings: Path) -> None:
    with responses.RequestsMock() as mock:
        mock.get(QUERY, json=[MAG])
        assert main(["query", "-i", "mag"]) == 0
    path = isolated_settings / "cache" / "imap-cli" / "recent-keys.txt"
    assert path.read_text() == MAG["file_path"] + "\n"
