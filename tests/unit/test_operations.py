"""Checks made before anything is sent: reprocess requests, manifests, job filters, metakernel
requests; and the .tm text itself."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from imap_cli.cli.output import Output, Streams
from imap_cli.core.errors import UsageError
from imap_cli.core.jobs import check_status, check_stream, plan_jobs
from imap_cli.core.metakernel import PIECE, plan_metakernel, render, utc_from_et
from imap_cli.core.release import InvalidManifest, read_manifest, rule_queries
from imap_cli.core.reprocess import plan_reprocess
from imap_cli.core.spice_time import tdb_seconds_past_j2000

NAME = "imap_hit_data-release-001_20260101_20260131_v001.txt"


def test_reprocess_request_order_and_normalisation():
    request = plan_reprocess(
        start_date="2025-10-01", end_date="20251002", instrument=" MAG ", data_level="L1A",
        descriptor="norm-mago",
    )  # fmt: skip
    assert request.params == [
        ("start_date", "20251001"),
        ("end_date", "20251002"),
        ("instrument", "mag"),
        ("data_level", "l1a"),
        ("descriptor", "norm-mago"),
        ("reprocessing", "True"),
    ]
    same_day = plan_reprocess(start_date="20251001", end_date="20251001", instrument="hit")
    assert [k for k, _ in same_day.params] == [
        "start_date",
        "end_date",
        "instrument",
        "reprocessing",
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start_date": None, "end_date": "20251001", "instrument": "mag"}, "--start-date"),
        ({"start_date": "20251001", "end_date": "", "instrument": "mag"}, "--end-date"),
        ({"start_date": "20251001", "end_date": "20251001", "instrument": None}, "instrument"),
        ({"start_date": "2025-02-30", "end_date": "20251001", "instrument": "mag"}, "no such day"),
        (
            {
                "start_date": "20251001",
                "end_date": "20251001",
                "instrument": "mag",
                "descriptor": "norm-mago",
            },
            "--descriptor needs --data-level",
        ),
        (
            {
                "start_date": "20251001",
                "end_date": "20251001",
                "instrument": "mag",
                "data_level": "l1a",
                "descriptor": "a_b",
            },
            "not a valid descriptor",
        ),
        (
            {
                "start_date": "20251001",
                "end_date": "20251001",
                "instrument": "mag",
                "data_level": "l9",
                "descriptor": "x",
            },
            "not a valid data level",
        ),
    ],
)
def test_reprocess_refusals(fields, message):
    from imap_cli.cli.errors import message_for

    with pytest.raises(UsageError) as caught:
        plan_reprocess(**fields)
    assert message in message_for(caught.value)  # as the terminal says it


def manifest(tmp_path: Path, text: str | bytes, name: str = NAME) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_manifest_rules(tmp_path: Path):
    path = manifest(
        tmp_path,
        "\ufeffInstrument, data_type, descriptor, release_flag\n# note\n\n"
        " hit , L2 , all , TRUE \nhit, ancillary, pha-lookup, true\nhit, l1a, all, false\n",
    )
    checked = read_manifest(path)
    assert (checked.key, checked.start_date, checked.end_date) == (
        f"imap/release/hit/{NAME}",
        "20260101",
        "20260131",
    )
    assert [(r.line, r.data_type, r.descriptor) for r in checked.rules] == [
        (4, "l2", "all"),
        (5, "ancillary", "pha-lookup"),
    ]
    assert checked.skipped == 1
    (science,) = rule_queries(checked, checked.rules[1])
    assert science["table"] == "ancillary" and science["descriptor"] == "pha-lookup"
    all_rule = read_manifest(manifest(tmp_path, "hit, all, all, true\n")).rules[0]
    tables = [q["table"] for q in rule_queries(checked, all_rule)]
    assert tables == ["science", "ancillary"]
    assert "data_level" not in rule_queries(checked, all_rule)[0]


@pytest.mark.parametrize(
    ("text", "name", "problem"),
    [
        (b"hit, l2, all, true\n", "notes.txt", "not an IMAP file name"),
        (b"hit, l2, all, true\n", "imap_hit_l2_x_20260101_v001.0000.cdf", "not a release manifest"),
        (b"hit, l2, all, true, x\n", NAME, "5 fields"),
        (b"hit; l2; all; true\n", NAME, "1 field "),
        (b"hit, l2, all, \xff\n", NAME, "not UTF-8"),
        (b"hit, l2, norm mago, true\n", NAME, "descriptor 'norm mago'"),
        (
            b"hit, l2, all, true\n",
            "imap_hit_data-release-001_20260131_20260101_v001.txt",
            "ends (20260101) before it starts (20260131)",
        ),
    ],
)
def test_manifest_problems(tmp_path: Path, text: bytes, name: str, problem: str):
    with pytest.raises(InvalidManifest) as caught:
        read_manifest(manifest(tmp_path, text, name))
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_job_filters():
    assert check_status("running") == check_status("InProgress") == "INPROGRESS"
    assert plan_jobs(start_date="2025-10-01", status="failed") == [
        ("status", "FAILED"),
        ("start_date", "20251001"),
    ]
    with pytest.raises(UsageError, match="not a valid status") as caught:
        check_status("faild")
    assert "Did you mean 'failed'" in caught.value.hint
    with pytest.raises(UsageError, match="unknown job filter"):
        plan_jobs(job="x")
    for bad in ("", "a b", "x\x1b[2J", "../x"):
        with pytest.raises(UsageError):
            check_stream(bad)


def test_metakernel_request():
    request = plan_metakernel(
        start_date="20251001",
        end_date="20251001",
        types=["Leapseconds,attitude_history", "leapseconds"],
    )
    params = dict(request.params)
    assert params["file_types"] == "leapseconds,attitude_history"
    start, end = float(params["start_time"]), float(params["end_time"])
    assert start > tdb_seconds_past_j2000(dt.datetime(2025, 10, 1))
    assert end < tdb_seconds_past_j2000(dt.datetime(2025, 10, 2)) and end - start > 86000
    assert "require_coverage" not in params and params["list_files"] == "true"
    with pytest.raises(UsageError, match="not kernels"):
        plan_metakernel(types=["repoint"])
    with pytest.raises(UsageError, match="not a valid types") as caught:
        plan_metakernel(types=["leapsecond"])
    assert "Did you mean 'leapseconds'" in caught.value.hint


def test_utc_from_et_inverts_the_day_formula():
    moment = dt.datetime(2025, 10, 4, 6, 30)
    back = utc_from_et(tdb_seconds_past_j2000(moment))
    assert abs((back - moment).total_seconds()) < 1e-3


@pytest.mark.parametrize("length", [1, PIECE, PIECE + 1, PIECE + 2, 3 * PIECE, 3 * PIECE + 5])
def test_tm_strings_fit_in_80_characters(length: int):
    path = "/" + "x" * (length - 1)
    text = render([path, "/short/o'brien.tls"])
    strings = [line.strip()[1:-1] for line in text.splitlines() if line.startswith("    '")]
    assert all(len(s.replace("''", "'")) <= 80 for s in strings)
    joined, pending = [], ""
    for piece in strings:
        piece = piece.replace("''", "'")
        if piece.endswith("+"):
            pending += piece[:-1]
        else:
            joined.append(pending + piece)
            pending = ""
    assert joined == [path, "/short/o'brien.tls"]


def test_ask_reads_one_answer():
    streams = Streams(stdout=io.StringIO(), stderr=io.StringIO(), stdin=io.StringIO("yes\n"))
    assert Output(streams).ask("Go?") is True
    assert streams.stderr.getvalue() == "Go? [y/N] "
    empty = Streams(stdout=io.StringIO(), stderr=io.StringIO(), stdin=io.StringIO(""))
    assert Output(empty).ask("Go?") is False


@pytest.mark.parametrize(
    ("name", "write", "hint"),
    [
        ("notes.txt", True, "data-release-<NNN>"),
        (NAME, False, "Check the manifest's path"),
        (NAME, True, "Each line is"),
    ],
)
def test_the_manifest_hint_fits_its_problems(tmp_path: Path, name: str, write: bool, hint: str):
    path = manifest(tmp_path, b"hit, l9, all, true\n", name) if write else tmp_path / name
    if name == "notes.txt":
        path.write_bytes(b"hit, l2, all, true\n")
    with pytest.raises(InvalidManifest) as caught:
        read_manifest(path)
    assert hint in caught.value.hint


def test_a_missing_manifest_is_said_alone(tmp_path: Path) -> None:
    """No such file is the one problem: a missing file's name is not judged too."""
    with pytest.raises(InvalidManifest) as caught:
        read_manifest(tmp_path / "nothing.txt")
    assert caught.value.problems == ["no such file"]
