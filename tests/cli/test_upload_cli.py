"""`imap upload` as a user types it: checks, dry run, stdin, messages and exit codes."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest
import responses

from imap_cli.cli.app import main

SDC = "https://sdc.example"
S3 = "https://bucket.s3.example"
MAG = "imap_mag_l1a_norm-mago_20250102_v001.0002.cdf"
MAG_KEY = f"imap/mag/l1a/2025/01/{MAG}"
ANC = "imap_mag_calibration_20250101_v001.cdf"
ANC_KEY = f"imap/ancillary/mag/{ANC}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def make_file(folder: Path, name: str, size: int = 1000) -> Path:
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


@pytest.fixture(autouse=True)
def sdc_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAP_DATA_ACCESS_URL", SDC)


def not_in_the_sdc(*keys: str) -> None:
    """The SDC's answer for files it does not have: 404 on /download/<key>."""
    for key in keys:
        responses.get(f"{SDC}/download/{key}", status=404, body="File not found")


@responses.activate
def test_dry_run_prints_the_keys_and_uploads_nothing(capsys, tmp_path: Path) -> None:
    paths = [make_file(tmp_path, MAG), make_file(tmp_path, ANC, 2048)]
    not_in_the_sdc(MAG_KEY, ANC_KEY)
    code, out, err = run(capsys, "upload", "--dry-run", *map(str, paths))
    assert code == 0
    assert out == f"{MAG_KEY}\n{ANC_KEY}\n"
    assert "Would upload 2 files (3.0 kB)" in err and "nothing was sent" in err
    # Only the read-only question "do you have it?", once per file.
    assert [c.request.method for c in responses.calls] == ["GET", "GET"]
    assert all("/download/" in c.request.url for c in responses.calls)


@responses.activate
def test_every_bad_file_is_listed_and_nothing_is_sent(capsys, tmp_path: Path) -> None:
    good = make_file(tmp_path, MAG)
    legacy = make_file(tmp_path, "imap_mag_l1a_norm-mago_20250102_v003.cdf")
    missing = tmp_path / ANC
    code, out, err = run(capsys, "upload", str(good), str(legacy), str(missing))
    assert code == 2 and out == ""
    assert f"Error: {legacy}: science files need a vMMM.mmmm version" in err
    assert "imap_mag_l1a_norm-mago_20250102_v001.0003.cdf" in err
    assert f"Error: {missing}: no such file" in err
    assert "Error: 2 of 3 files cannot be uploaded; nothing was sent" in err
    assert "Hint: " in err and "vMMM.mmmm" in err
    assert len(responses.calls) == 0


def test_one_bad_file_is_one_line(capsys, tmp_path: Path) -> None:
    bad = make_file(tmp_path, "imap_xyz_l1a_a_20250101_v001.0001.cdf")
    code, _, err = run(capsys, "upload", str(bad))
    assert code == 2
    assert err.startswith(f"Error: cannot upload {bad}: unknown instrument 'xyz'")
    assert err.count("Error:") == 1


def test_paths_from_stdin(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Read as `imap download -` reads names: blank lines and # comments are ignored.
    paths = [make_file(tmp_path, MAG), make_file(tmp_path, ANC)]
    text = f"# built today\n{paths[0]}\n\n  {paths[1]}  \n   # done\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    with responses.RequestsMock() as mock:
        for key in (MAG_KEY, ANC_KEY):
            mock.get(f"{SDC}/download/{key}", status=404)
        code, out, _ = run(capsys, "upload", "-n", "-")
    assert code == 0 and out == f"{MAG_KEY}\n{ANC_KEY}\n"


@pytest.mark.parametrize("text", ["", "\n", "# c\n"])
def test_empty_stdin_is_nothing_to_do(capsys, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    # As for `imap download -`: a note, exit 0.
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    with responses.RequestsMock():  # any request would fail the test
        code, out, err = run(capsys, "upload", "-")
    assert (code, out) == (0, "")
    assert "Nothing to upload." in err and "Error" not in err


def test_no_arguments_is_a_usage_error(capsys) -> None:
    code, out, err = run(capsys, "upload")
    assert (code, out) == (2, "")
    assert err.startswith("Error: no files given\nHint: ") and "imap upload -" in err


@responses.activate
def test_uploads_print_keys_and_a_conflict_fails_with_exit_1(capsys, tmp_path: Path) -> None:
    paths = [make_file(tmp_path, MAG), make_file(tmp_path, ANC)]
    responses.get(
        f"{SDC}/upload/{MAG}",
        status=409,
        json={"error": "FileAlreadyExists", "message": f"The file '{MAG_KEY}' already exists."},
    )
    responses.get(f"{SDC}/upload/{ANC}", json=f"{S3}/{ANC}?sig=1")
    responses.put(f"{S3}/{ANC}", status=200)
    code, out, err = run(capsys, "upload", "-j", "2", *map(str, paths))
    assert code == 1
    assert out == f"{ANC_KEY}\n"
    assert f"{MAG_KEY}: already in the SDC; a new version needs a new filename" in err
    assert err.count(MAG_KEY) <= 2  # once during the run, once in the summary


@responses.activate
def test_refused_without_a_key_exits_4_with_the_hint(capsys, tmp_path: Path) -> None:
    path = make_file(tmp_path, MAG)
    responses.get(f"{SDC}/upload/{MAG}", status=403, json={"message": "Forbidden"})
    code, out, err = run(capsys, "upload", str(path))
    assert code == 4 and out == ""
    assert "imap config set api-key" in err


@responses.activate
def test_server_message_is_plain_text(capsys, tmp_path: Path) -> None:
    path = make_file(tmp_path, MAG)
    message = "error: [red]bad[/red] name"
    responses.get(f"{SDC}/upload/{MAG}", status=400, json=message)
    code, _, err = run(capsys, "upload", str(path))
    assert code == 2 and message in err


@responses.activate
def test_every_file_failing_because_the_sdc_is_down_exits_3(capsys, tmp_path: Path) -> None:
    paths = [make_file(tmp_path, MAG), make_file(tmp_path, ANC)]
    for name in (MAG, ANC):
        responses.get(f"{SDC}/upload/{name}", status=503, body="Service Unavailable")
    code, out, err = run(capsys, "upload", "-j", "1", *map(str, paths))
    assert code == 3 and out == ""
    assert "not attempted" in err


class ClosedPipe(io.StringIO):
    """stderr whose reader has gone: every write raises EPIPE."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False


@responses.activate
def test_stderr_closed_under_a_pipe_does_not_hang(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"imap_mag_l1a_norm-mago_202501{d:02d}_v001.0001.cdf" for d in range(1, 7)]
    paths = [make_file(tmp_path, name) for name in names]
    for name in names:
        responses.get(f"{SDC}/upload/{name}", json=f"{S3}/{name}?sig=1")
        responses.put(f"{S3}/{name}", status=200)
    monkeypatch.setattr("sys.stderr", ClosedPipe())
    codes: list[int] = []
    worker = threading.Thread(
        target=lambda: codes.append(main(["upload", "-j", "2", *map(str, paths)])), daemon=True
    )
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "imap upload hung with stderr closed"
    assert codes == [0]
    assert len([c for c in responses.calls if c.request.method == "PUT"]) == len(names)
    assert capsys.readouterr().out.splitlines() == [
        f"imap/mag/l1a/2025/01/{name}" for name in names
    ]
