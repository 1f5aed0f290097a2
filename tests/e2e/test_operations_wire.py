"""reprocess, release, jobs, job logs, metakernel and the spin/repoint/small-forces tables on
the wire, against an independent fake of the SDC (realistic_ops.py, written from the protocol):
method, route, prefix, query string, headers, and what is (not) sent on bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap_runner import ImapRunner
from realistic_ops import OpsSDC

KEY = "wire-key"
TOKEN = "wire-token"
STREAM = "mag-l1a-processing/default/0123456789abcdef"
MANIFEST = "imap_hit_data-release-001_20251001_20251031_v001.txt"


@pytest.fixture
def fake() -> Iterator[OpsSDC]:
    with OpsSDC(api_keys=(KEY,), tokens=(TOKEN,)) as sdc:
        yield sdc


@pytest.fixture
def imap(imap: ImapRunner, fake: OpsSDC, tmp_path: Path) -> ImapRunner:
    """The runner of conftest.py against the fake: the API key, no token, unless told."""
    return imap.against(fake.api_url, data_dir=tmp_path / "data", retries=2, key=KEY, token=None)


def only(fake: OpsSDC, route: str) -> list:
    return [s for s in fake.requests("api") if route in s.path]


# --- reprocess ------------------------------------------------------------------------------


def test_reprocess_posts_the_query_string_with_the_key(imap, fake: OpsSDC):
    code, out, _err = imap(
        "reprocess",
        "-s",
        "2025-10-01",
        "-e",
        "20251003",
        "-i",
        "MAG",
        "-l",
        "l1a",
        "-d",
        "norm-mago",
        "--yes",
    )
    assert code == 0
    (seen,) = only(fake, "reprocess")
    assert (seen.method, seen.path) == ("POST", "/api-key/reprocess")
    assert seen.raw_path.split("?", 1)[1] == (
        "start_date=20251001&end_date=20251003&instrument=mag&data_level=l1a"
        "&descriptor=norm-mago&reprocessing=True"
    )
    assert seen.header("x-api-key") == KEY and seen.header("authorization") is None
    assert seen.body == b"" and seen.header("content-type") is None
    assert seen.header("user-agent").startswith("imap-sdc-cli/")
    assert len(out.strip()) == 36  # the reprocess_id, a uuid, on stdout


def test_reprocess_with_a_token_uses_the_authorized_prefix(imap, fake: OpsSDC):
    code, _out, _err = imap(
        "reprocess", "-s", "20251001", "-e", "20251001", "-i", "swe", "-y", key=None, token=TOKEN
    )
    assert code == 0
    (seen,) = only(fake, "reprocess")
    assert seen.path == "/authorized/reprocess"
    assert seen.header("authorization") == f"Bearer {TOKEN}" and seen.header("x-api-key") is None


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("-e", "20251003", "-i", "mag"), 2, "needs --start-date"),
        (("-s", "20251001", "-e", "20251003"), 2, "needs an instrument"),
        (("-s", "20251001", "-e", "20251003", "-i", "mag", "-l", "l1a"), 2, "needs --descriptor"),
        (("-s", "20251001", "-e", "20251003", "-i", "mag", "-d", "raw"), 2, "needs --data-level"),
        (("-s", "20251004", "-e", "20251003", "-i", "mag"), 2, "is after the end date"),
        (("-s", "20251301", "-e", "20251303", "-i", "mag"), 2, "no such day"),
        (("-s", "20251001", "-e", "20251003", "-i", "maggie"), 2, "not a valid instrument"),
    ],
)
def test_reprocess_refuses_what_the_scheduler_would_drop(imap, fake, argv, code, message):
    got, out, err = imap("reprocess", *argv)
    assert got == code and message in err and err.count("Error:") == 1
    assert out == "" and fake.requests("api") == []


def test_reprocess_without_a_credential_sends_nothing(imap, fake: OpsSDC):
    code, _out, err = imap("reprocess", "-s", "20251001", "-e", "20251001", "-i", "mag", key=None)
    assert code == 4 and "no public route" in err and "Hint:" in err
    assert fake.requests("api") == []


# --- release --------------------------------------------------------------------------------


def write_manifest(folder: Path, text: str, name: str = MANIFEST) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_release_uploads_then_waits_for_the_manifest_then_asks(imap, fake: OpsSDC, tmp_path):
    path = write_manifest(
        tmp_path, "instrument, data_type, descriptor, release_flag\nhit, l2, all, true\n"
    )
    code, _out, err = imap("release", str(path), "--yes")
    assert code == 0, err
    assert "Successfully released data per specification in " + MANIFEST in err
    api = fake.requests("api")
    steps = [(s.method, s.path.split("/")[2]) for s in api]
    # the plan (what it releases, for the count), the upload URL, then the visibility check,
    # then the release itself, nothing else
    assert steps == [("GET", "query"), ("GET", "upload"), ("HEAD", "download"), ("GET", "release")]
    _plan, upload, check, release = api
    assert upload.path == f"/api-key/upload/{MANIFEST}"
    assert check.path == f"/api-key/download/imap/release/hit/{MANIFEST}"
    assert release.raw_path == f"/api-key/release?release_type=release&manifest_file={MANIFEST}"
    assert all(s.header("x-api-key") == KEY for s in api)
    (put,) = fake.requests("s3", "PUT")
    assert put.body == path.read_bytes() and put.header("x-api-key") is None
    assert fake.released_manifests == [MANIFEST]


def test_an_identical_manifest_already_there_is_fine(imap, fake: OpsSDC, tmp_path):
    path = write_manifest(tmp_path, "hit, all, all, true\n")
    assert imap("release", str(path), "--yes")[0] == 0
    code, _out, err = imap("release", str(path), "--yes")
    assert code == 0 and "already in the SDC (identical)" in err
    assert fake.released_manifests == [MANIFEST, MANIFEST]
    path.write_text("hit, all, all, false\n")
    code, _out, err = imap("release", str(path), "--yes")
    assert code == 1 and "different content" in err and len(fake.released_manifests) == 2


def test_a_malformed_manifest_lists_every_problem_and_sends_nothing(imap, fake, tmp_path):
    path = write_manifest(
        tmp_path,
        "# comment\ninstrument,data_type,descriptor,flag\nhit, l2, all\nhit, l9, all, true\n"
        "hit, l2, all, yes\nhot, l2, all, true\n\nhit, ancillary, all, TRUE\n",
    )
    code, out, err = imap("release", str(path), "--yes")
    assert code == 2 and out == ""
    for line in ("line 3: 3 fields", "line 4: data_type 'l9'", "line 5: the last field is 'yes'",
                 "line 6: unknown instrument 'hot'", "4 problems"):  # fmt: skip
        assert line in err
    assert fake.requests("api") == [] and fake.requests("s3") == []


def test_a_bad_manifest_name_is_refused(imap, fake, tmp_path):
    path = write_manifest(
        tmp_path, "hit, l2, all, true\n", "imap_hit_data-release-001_20251001_v001.txt"
    )
    code, _out, err = imap("release", str(path), "--yes")
    assert code == 2 and "has no end date" in err and fake.requests("api") == []


def test_release_needs_an_api_key_not_a_token(imap, fake, tmp_path):
    path = write_manifest(tmp_path, "hit, l2, all, true\n")
    code, _out, err = imap("release", str(path), key=None, token=TOKEN)
    assert code == 4 and "only under /api-key" in err and fake.requests("api") == []


def test_release_dry_run_asks_query_for_the_latest_of_each_series(imap, fake, tmp_path):
    fake.add_science("imap/hit/l2/2025/10/imap_hit_l2_hist_20251002_v001.0000.cdf", b"a")
    fake.add_science("imap/hit/l2/2025/10/imap_hit_l2_hist_20251002_v001.0001.cdf", b"b")
    fake.add_science("imap/hit/l2/2025/11/imap_hit_l2_hist_20251102_v001.0000.cdf", b"c")
    path = write_manifest(tmp_path, "hit, l2, all, true\n")
    code, out, err = imap("release", str(path), "--dry-run", "-o", "paths")
    assert code == 0, err
    assert out.split() == ["imap/hit/l2/2025/10/imap_hit_l2_hist_20251002_v001.0001.cdf"]
    (seen,) = fake.requests("api")
    assert seen.raw_path == (
        "/api-key/query?table=science&instrument=hit&data_level=l2&start_date=20251001"
        "&end_date=20251031&latest=true"
    )
    assert fake.requests("api", path_contains="release") == [] and fake.requests("s3") == []


# --- jobs and logs --------------------------------------------------------------------------


def job(status: str, started: str, **extra) -> dict:
    return {
        "job_command": "imap_cli --instrument mag",
        "status": status,
        "instrument": "mag",
        "data_level": "l1a",
        "descriptor": "norm-mago",
        "start_date": "2025-10-01T00:00:00",
        "major_version": 1,
        "minor_version": 2,
        "repointing": None,
        "dependency_hash": "abc",
        "job_definition": "ProcessingJob-mag",
        "job_log_stream_id": STREAM,
        "container_image": None,
        "container_image_digest": None,
        "started_at": started,
        "stopped_at": None,
        **extra,
    }


def test_jobs_sends_the_filters_and_prints_the_records(imap, fake: OpsSDC):
    fake.jobs = [
        job("FAILED", "2025-10-02T03:00:00+00:00"),
        job("FAILED", "2025-10-03T03:00:00+00:00"),
    ]
    code, out, _err = imap(
        "jobs",
        "--status",
        "failed",
        "-i",
        "mag",
        "-l",
        "L1A",
        "-d",
        "norm-mago",
        "-s",
        "2025-10-01",
        "-o",
        "json",
    )
    assert code == 0
    (seen,) = fake.requests("api")
    assert (seen.method, seen.path) == ("GET", "/api-key/processing-jobs")
    assert seen.raw_path.split("?", 1)[1] == (
        "status=FAILED&instrument=mag&data_level=l1a&descriptor=norm-mago&start_date=20251001"
    )
    rows = json.loads(out)
    assert [r["started_at"][:10] for r in rows] == ["2025-10-03", "2025-10-02"]  # newest first


def test_jobs_public_route_without_credentials(imap, fake: OpsSDC):
    assert imap("jobs", "-o", "csv", key=None)[0] == 0
    (seen,) = fake.requests("api")
    assert seen.path == "/processing-jobs" and seen.header("x-api-key") is None


def test_an_unknown_status_is_refused_before_sending(imap, fake: OpsSDC):
    code, _out, err = imap("jobs", "--status", "done")
    assert code == 2 and "not a valid job status" in err and fake.requests("api") == []


def test_job_logs_keep_the_streams_slashes(imap, fake: OpsSDC):
    fake.logs[STREAM] = "line one\nline two"
    code, out, _err = imap("jobs", "logs", STREAM)
    assert (code, out) == (0, "line one\nline two\n")
    (seen,) = fake.requests("api")
    assert seen.raw_path == f"/api-key/processing-logs/{STREAM}"


def test_an_unknown_stream_is_one_line_and_not_retried(imap, fake: OpsSDC):
    code, out, err = imap("jobs", "logs", "no/such/stream")
    assert code == 1 and out == ""
    assert err.count("Error:") == 1 and "Could not fetch logs for id [no/such/stream]" in err
    assert len(fake.requests("api")) == 1


# --- metakernel -----------------------------------------------------------------------------


def test_metakernel_lists_then_downloads_then_writes(imap, fake: OpsSDC, tmp_path: Path):
    fake.kernels = ["naif0012.tls", "imap_2025_274_2025_275_001.ah.bc"]
    from realistic_sdc import S3Object, md5_etag

    for key in ("imap/spice/lsk/naif0012.tls", "imap/spice/ck/imap_2025_274_2025_275_001.ah.bc"):
        fake.objects[key] = S3Object(key.encode(), md5_etag(key.encode()))  # kernels: S3 only
    target = tmp_path / "out.tm"
    code, out, err = imap(
        "metakernel", "-s", "20251001", "-e", "20251002", "--type", "leapseconds,attitude_history",
        "--require-coverage", "--output", str(target),
    )  # fmt: skip
    assert code == 0, err
    assert out.strip() == str(target.resolve())
    listing = fake.requests("api", path_contains="metakernel")
    (seen,) = listing
    assert seen.path == "/api-key/metakernel"
    query = seen.query
    assert query["file_types"] == "leapseconds,attitude_history"
    assert query["list_files"] == "true" and query["require_coverage"] == "true"
    assert float(query["start_time"]) < float(query["end_time"])
    data = tmp_path / "data"
    assert kernels_to_load(target.read_text()) == [
        str(data / "imap/spice/lsk/naif0012.tls"),
        str(data / "imap/spice/ck/imap_2025_274_2025_275_001.ah.bc"),
    ]
    assert (data / "imap/spice/ck/imap_2025_274_2025_275_001.ah.bc").exists()


def kernels_to_load(text: str) -> list[str]:
    """The paths of a .tm's KERNELS_TO_LOAD, `+` continuations joined, as SPICE reads them."""
    import re

    body = text.split("\\begindata", 1)[1].split("\\begintext", 1)[0]
    strings = [s.replace("''", "'") for s in re.findall(r"'((?:[^']|'')*)'", body)]
    paths, pending = [], ""
    for piece in strings:
        assert len(piece) <= 80
        if piece.endswith("+"):
            pending += piece[:-1]
        else:
            paths.append(pending + piece)
            pending = ""
    return paths


def test_metakernel_coverage_gaps_are_shown_readably(imap, fake: OpsSDC, tmp_path: Path):
    import datetime as dt

    from imap_cli.core.spice_time import tdb_seconds_past_j2000

    start = tdb_seconds_past_j2000(dt.datetime(2025, 10, 4))
    fake.coverage_gaps = {"attitude": [[start, start + 86400]]}
    code, out, err = imap(
        "metakernel", "-s", "20251004", "--require-coverage", "--output", str(tmp_path / "x.tm")
    )
    assert code == 1 and out == "" and not (tmp_path / "x.tm").exists()
    assert "attitude 2025-10-04 00:00:00 to 2025-10-05 00:00:00" in err


def test_metakernel_nothing_found(imap, fake: OpsSDC):
    code, _out, err = imap("metakernel", "-s", "20300101")
    assert code == 1 and "no kernels for this range" in err


def test_metakernel_bad_input_sends_nothing(imap, fake: OpsSDC):
    assert imap("metakernel", "-s", "20251003", "-e", "20251001")[0] == 2
    assert imap("metakernel", "--type", "spin")[0] == 2
    assert imap("metakernel", "--type", "attitude")[0] == 2
    assert fake.requests("api") == []


# --- spin / repoint / small-forces ----------------------------------------------------------


def test_tables_have_their_own_routes_and_date_filters(imap, fake: OpsSDC):
    row = {
        "file_path": "imap/spice/spin/imap_2025_274_2025_275_01.spin.csv",
        "start_date": "2025-10-01, 00:00:00",
        "end_date": "2025-10-02, 00:00:00",
        "version": "01",
        "ingestion_date": "2025-10-03, 01:02:03",
    }
    fake.table_rows["spin"] = [row]
    code, out, _err = imap(
        "query", "--table", "spice", "--type", "spin", "-s", "20251001", "-e", "20251002",
        "--version", "latest", "-o", "paths",
    )  # fmt: skip
    assert (code, out) == (0, row["file_path"] + "\n")
    (seen,) = fake.requests("api")
    assert seen.raw_path == "/api-key/spin-table?start_date=20251001&end_date=20251002&latest=true"


def test_small_forces_falls_back_to_the_old_thruster_route(imap, fake: OpsSDC):
    fake.old_table_names = True
    fake.table_rows["small-forces"] = []
    code, _out, _err = imap("query", "--table", "spice", "--type", "small-forces", "-o", "json")
    assert code == 0
    assert [s.path for s in fake.requests("api")] == [
        "/api-key/small-forces-table",
        "/api-key/thruster-table",
    ]


# --- irreversible means confirmed -------------------------------------------------------------


@pytest.fixture
def on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin is a terminal: a person could answer the question."""
    monkeypatch.setattr("imap_cli.cli.output.Output.stdin_tty", property(lambda self: True))


def test_release_without_yes_and_no_terminal_sends_nothing(imap, fake: OpsSDC, tmp_path):
    path = write_manifest(tmp_path, "hit, l2, all, true\n")
    code, out, err = imap("release", str(path))
    assert code == 2 and out == "" and err.count("Error:") == 1
    assert "cannot be undone" in err and "--yes" in err.split("Hint:")[1]
    assert fake.requests("api") == [] and fake.requests("s3") == []
    assert fake.released_manifests == []


def test_reprocess_without_yes_and_no_terminal_sends_nothing(imap, fake: OpsSDC):
    code, out, err = imap("reprocess", "-s", "20251001", "-e", "20251001", "-i", "mag")
    assert code == 2 and out == "" and "cannot be undone" in err and "--yes" in err
    assert fake.requests("api") == [] and fake.requests("s3") == []


def test_release_on_a_terminal_shows_each_lines_count_and_asks(
    imap, fake: OpsSDC, tmp_path, on_a_terminal
):
    fake.add_science("imap/hit/l2/2025/10/imap_hit_l2_hist_20251002_v001.0000.cdf", b"a")
    fake.add_science("imap/hit/l2/2025/10/imap_hit_l2_hist_20251002_v001.0001.cdf", b"b")
    fake.add_science("imap/hit/l1a/2025/10/imap_hit_l1a_hist_20251002_v001.0000.cdf", b"c")
    rules = "hit, l2, all, true\nhit, l1a, all, true\nhit, l1b, all, true\n"
    path = write_manifest(tmp_path, rules)
    code, _out, err = imap("release", str(path), stdin="n\n")
    assert code == 1 and "Nothing was sent." in err
    assert "line 1: hit, l2, all: 1 file" in err and "line 3: hit, l1b, all: 0 files" in err
    assert "Release 2 files to the public" in err
    assert [s.path.split("/")[2] for s in fake.requests("api")] == ["query"] * 3
    assert fake.requests("s3") == [] and fake.released_manifests == []
    code, _out, err = imap("release", str(path), stdin="y\n")
    assert code == 0 and "Released 2 files" in err and fake.released_manifests == [MANIFEST]


def test_reprocess_on_a_terminal_asks(imap, fake: OpsSDC, on_a_terminal):
    argv = ("reprocess", "-s", "20251001", "-e", "20251001", "-i", "mag")
    code, _out, err = imap(*argv, stdin="no\n")
    assert code == 1 and "Reprocess" in err and "Nothing was sent." in err
    assert fake.requests("api") == []
    assert imap(*argv, stdin="yes\n")[0] == 0 and len(only(fake, "reprocess")) == 1
