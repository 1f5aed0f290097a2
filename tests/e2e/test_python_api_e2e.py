"""The Python API against `imap serve`, as a notebook uses it (issue 25): failures are loud and
name every file, outputs fit inputs, one cause line, progress, and a whole notebook session."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

import imap_cli
from imap_cli.core.errors import Failure
from imap_cli.core.transfer import Stage

MISSING = [
    "imap_mag_l1a_norm-mago_20991001_v001.0000.cdf",
    "imap_swe_l2_sci_20991002_v001.0000.cdf",
]
NOTEBOOK = Path(__file__).with_name("notebook_flow.py")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_failed_download_is_raised_after_every_file_was_tried(sdc_env) -> None:
    rows = imap_cli.query(instrument="mag", data_level="l2")
    assert len(rows) >= 2
    with pytest.raises(imap_cli.errors.TransferError) as caught:
        imap_cli.download_many([MISSING[0], *rows, MISSING[1]])
    error = caught.value
    # Every file was tried: the good ones arrived, and the error carries every result.
    assert len(error.results) == len(rows) + 2
    assert error.outcome == [sdc_env.data_dir / key for key in rows.keys]
    assert all(path.is_file() for path in error.outcome)
    # Each failure is named: in the message, and one note each.
    assert str(error).startswith(f"2 of {len(rows) + 2} files failed to download")
    for name in MISSING:
        assert name in str(error)
        assert any(name in note for note in error.__notes__)
    # Never a path for a file that is not there.
    failed = [r for r in error.results if r.error is not None]
    assert [r.path for r in failed] == [None, None]
    assert all(isinstance(e, imap_cli.errors.NotFound) for e in error.outcome.errors.values())


def test_raise_on_error_false_returns_the_result_and_retry_fetches_the_rest(sdc_env) -> None:
    key = "imap/mag/l2/2099/10/" + MISSING[0].replace("l1a", "l2").replace("norm-mago", "norm-gse")
    name = key.rpartition("/")[2]
    files = imap_cli.download_many([name], raise_on_error=False)
    assert files == [] and list(files.errors) == [key] and files.failed == [key]
    # The file appears in the SDC; retry() asks for the failed ones only.
    dropped = sdc_env.server.root.joinpath(*key.split("/"))
    dropped.parent.mkdir(parents=True)
    dropped.write_bytes(b"arrived late")
    again = files.retry()
    assert again == [sdc_env.data_dir / key] and again.ok
    assert again[0].read_bytes() == b"arrived late"


def test_every_file_failing_on_a_dead_server_raises_once_with_its_cause(sdc_env) -> None:
    with imap_cli.Client(url=closed_port_url(), retries=0) as client:
        with pytest.raises(imap_cli.errors.TransferError) as caught:
            client.download_many(MISSING)
        error = caught.value
        assert error.kind is Failure.REFUSED and "connection refused" in str(error)
        assert error.outcome == [] and len(error.failures) == 2
        assert "url setting" in error.hint  # the failures' own advice: one cause for all
        quiet = client.download_many(MISSING, raise_on_error=False)
        assert quiet == [] and len(quiet.errors) == 2


def test_a_refused_connection_says_its_cause_in_one_line(sdc_env) -> None:
    client = imap_cli.Client(url=closed_port_url(), retries=0)
    with client, pytest.raises(imap_cli.errors.ConnectionFailed) as caught:
        client.query(instrument="mag")
    error = caught.value
    assert error.__cause__ is None and error.__suppress_context__
    assert isinstance(error.cause, Exception)  # kept for whoever debugs
    shown = "".join(traceback.format_exception(error))
    assert "urllib3" not in shown and "During handling" not in shown
    assert "Cause: ConnectionRefusedError" in shown and "Hint: " in shown


def test_uploads_that_all_fail_raise_one_transfer_error(sdc_env, tmp_path: Path) -> None:
    # Both names are in the SDC already, with other content: each upload is refused (409).
    paths = []
    for name in (
        "imap_mag_l1a_norm-mago_20251001_v001.0000.cdf",
        "imap_mag_l1b_norm-mago_20251001_v001.0000.cdf",
    ):
        path = tmp_path / name
        path.write_bytes(b"other content " + name.encode())
        paths.append(path)
    with pytest.raises(imap_cli.errors.TransferError) as caught:
        imap_cli.upload_many(paths)
    error = caught.value
    assert str(error).startswith("2 of 2 files failed to upload")
    assert all(isinstance(r.error, imap_cli.errors.Conflict) for r in error.failures)
    assert all(any(p.name in note for note in error.__notes__) for p in paths)
    assert "imap query" not in error.hint and "query(filename=NAME)" in error.hint
    result = imap_cli.upload_many(paths, raise_on_error=False)
    assert result == [] and len(result.errors) == 2 and result.uploaded == []


def test_download_takes_what_query_and_pandas_give(sdc_env) -> None:
    pytest.importorskip("pandas")
    rows = imap_cli.query(instrument="mag", data_level="l1b", descriptor="norm-mago")
    expected = [sdc_env.data_dir / key for key in rows.keys]
    assert imap_cli.download_many(rows) == expected
    df = rows.to_pandas()
    again = imap_cli.download_many(df)
    assert again == expected and again.skipped == expected  # there already
    assert imap_cli.download_many(df.iloc[0]) == expected[:1]
    assert imap_cli.download_many(rows.keys[0].rpartition("/")[2]) == expected[:1]  # one name
    assert imap_cli.download(rows[0]) == expected[0]
    assert imap_cli.download(expected[0]) == expected[0]  # a local path


def test_progress_callback_and_bar(sdc_env, capsys) -> None:
    events = []
    rows = imap_cli.query(instrument="mag", data_level="l2")
    imap_cli.download_many(rows, progress=events.append)
    stages = {event.stage for event in events}
    assert {Stage.PLANNED, Stage.DONE} <= stages
    assert sum(1 for e in events if e.stage is Stage.DONE) == len(rows)
    capsys.readouterr()
    imap_cli.download_many(rows, force=True, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and f"Downloading {len(rows)}/{len(rows)} files" in err
    imap_cli.download_many(rows, force=True)  # not a terminal: nothing drawn
    assert capsys.readouterr() == ("", "")


def test_sync_gives_paths(sdc_env) -> None:
    summary = imap_cli.sync(instrument="mag", data_level="l2")
    assert summary["files"] and all(isinstance(p, Path) and p.is_file() for p in summary["files"])
    assert isinstance(summary["state"], Path)


def test_a_notebook_session_end_to_end(sdc_env) -> None:
    pytest.importorskip("pandas")
    env = {
        **os.environ,
        "IMAP_DATA_ACCESS_URL": sdc_env.url,
        "IMAP_DATA_DIR": str(sdc_env.data_dir),
    }
    done = subprocess.run(
        [sys.executable, str(NOTEBOOK)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the library prints nothing by itself
    seen = json.loads(done.stdout)
    assert seen["tz"] == "UTC" and seen["errors"] == 0
    assert len(seen["files"]) == seen["days"] < seen["rows"]  # one file per day: the latest
    # The demo's newest versions of 20251002 and 20251003 (v001.0002 and v002.0000) won.
    assert "v001.0002" in seen["versions"] and "v002.0000" in seen["versions"]
    assert all(Path(p).is_file() for p in seen["files"]) and seen["first_bytes"] > 0
