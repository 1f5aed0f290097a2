"""`imap download` through app.main against `responses`: lines, summary, exit codes, stdin."""

from __future__ import annotations

import hashlib
import io
import re
import threading
from pathlib import Path

import pytest
import requests
import responses

from imap_cli.cli.app import main
from imap_cli.cli.errors import run_exit_code as exit_code
from imap_cli.cli.output import Output, Streams
from imap_cli.cli.progress import TransferProgress, human_size, human_time, summary
from imap_cli.core import errors
from imap_cli.core.transfer import FileResult, Stage, TransferEvent, expand_items

SDC = "https://sdc.example"
S3 = "https://bucket.s3.example"
MAG = "imap_mag_l1a_norm-mago_20250102_v001.0002.cdf"
MAG_KEY = f"imap/mag/l1a/2025/01/{MAG}"
SWE = "imap_swe_l2_sci_20250301_v002.0001.cdf"
SWE_KEY = f"imap/swe/l2/2025/03/{SWE}"
ESCAPE = re.compile(r"\x1b\[")


def serve(key: str, data: bytes) -> None:
    url = f"{S3}/{key}?sig=1"
    responses.get(f"{SDC}/download/{key}", status=302, headers={"Location": url})
    headers = {"Content-Length": str(len(data)), "ETag": f'"{hashlib.md5(data).hexdigest()}"'}
    responses.get(url, body=data, headers=headers)


@pytest.fixture
def data_dir(isolated_settings: Path) -> Path:
    return isolated_settings / "data"


def imap(*args: str) -> int:
    return main(["--url", SDC, *args])


@responses.activate
def test_download_two_files_plain_lines_and_summary(data_dir: Path, capsys) -> None:
    serve(MAG_KEY, b"a" * 1500)
    serve(SWE_KEY, b"b" * 10)
    assert imap("download", MAG, SWE_KEY) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        str(data_dir.resolve() / MAG_KEY),
        str(data_dir.resolve() / SWE_KEY),
    ]
    assert f"downloaded {MAG_KEY} (1.5 kB)" in err
    assert f"downloaded {SWE_KEY} (10 bytes)" in err
    assert "Downloaded 2 files (1.5 kB) in" in err
    assert "skipped 0; failed 0" in err
    assert not ESCAPE.search(err)  # piped: no escape codes
    assert (data_dir / MAG_KEY).read_bytes() == b"a" * 1500


@responses.activate
def test_second_run_skips_and_says_so(data_dir: Path, capsys) -> None:
    serve(MAG_KEY, b"abc")
    assert imap("download", MAG) == 0
    capsys.readouterr()
    assert imap("download", MAG) == 0
    err = capsys.readouterr().err
    assert f"skipped {MAG_KEY} (already present)" in err
    assert "Downloaded 0 files (0 bytes)" in err and "skipped 1" in err


@responses.activate
def test_stdin_dash_reads_names_with_comments(data_dir: Path, capsys, monkeypatch) -> None:
    serve(MAG_KEY, b"abc")
    serve(SWE_KEY, b"def")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"# from imap query\n{MAG_KEY}\n\n{SWE}\n{MAG}\n"))
    assert imap("download", "-") == 0
    assert (data_dir / MAG_KEY).exists() and (data_dir / SWE_KEY).exists()
    # Duplicates collapse: MAG fetched once.
    assert len([c for c in responses.calls if MAG in c.request.url]) == 2


def test_invalid_names_are_all_reported_and_nothing_fetched(data_dir: Path, capsys) -> None:
    with responses.RequestsMock() as mocked:
        assert imap("download", MAG, "bad_one.cdf", "imap_zzz_l1a_x_20250101_v001.0001.cdf") == 2
        assert len(mocked.calls) == 0
    err = capsys.readouterr().err
    assert "'bad_one.cdf'" in err and "'imap_zzz_l1a_x_20250101_v001.0001.cdf'" in err
    assert "2 invalid names; nothing was downloaded" in err
    assert not data_dir.exists() or not any(data_dir.rglob("*.cdf"))


@responses.activate
def test_a_failure_exits_1_and_is_listed_with_its_reason(data_dir: Path, capsys) -> None:
    serve(MAG_KEY, b"abc")
    responses.get(f"{SDC}/download/{SWE_KEY}", status=404, body="File not found, make sure ...")
    assert imap("download", MAG, SWE) == 1
    err = capsys.readouterr().err
    assert "Downloaded 1 file (3 bytes)" in err and "failed 1" in err
    assert f"Error: {SWE_KEY}: SDC download link: 404 Not Found\n" in err
    # The SDC's "make sure you include the full path" is not passed on: imap built the path.
    assert "full path" not in err
    assert "Hint: Check the name with `imap query" in err


@responses.activate
def test_quiet_hides_per_file_lines_but_not_failures(data_dir: Path, capsys) -> None:
    serve(MAG_KEY, b"abc")
    responses.get(f"{SDC}/download/{SWE_KEY}", status=404, body="nope")
    assert imap("-q", "download", MAG, SWE) == 1
    err = capsys.readouterr().err
    assert "downloaded" not in err.lower()
    assert SWE_KEY in err and "404" in err


@responses.activate
def test_quiet_success_prints_nothing(data_dir: Path, capsys) -> None:
    serve(MAG_KEY, b"abc")
    assert imap("-q", "download", MAG) == 0
    assert capsys.readouterr().err == ""


@responses.activate
def test_unreachable_sdc_exits_3_with_the_hint(data_dir: Path, capsys) -> None:
    for key in (MAG_KEY, SWE_KEY):
        responses.get(
            f"{SDC}/download/{key}", body=requests.exceptions.ConnectionError("Connection refused")
        )
    assert imap("download", MAG, SWE) == 3
    err = capsys.readouterr().err
    assert "connection refused by sdc.example" in err
    assert err.count("Hint: ") == 1


@responses.activate
def test_dry_run_lists_fetch_and_skip_on_stdout(data_dir: Path, capsys) -> None:
    (data_dir / MAG_KEY).parent.mkdir(parents=True)
    (data_dir / MAG_KEY).write_bytes(b"x")
    assert imap("download", "--dry-run", MAG, SWE) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"skip  {MAG_KEY}  (already present)", f"fetch {SWE_KEY}"]
    assert "would download 1, skip 1" in err
    assert len(responses.calls) == 0


def test_empty_stdin_is_nothing_to_do(capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("# nothing\n\n"))
    assert imap("download", "-") == 0
    assert "Nothing to download." in capsys.readouterr().err


def test_data_dir_that_is_a_file_exits_2_with_hint(isolated_settings: Path, capsys) -> None:
    blocker = isolated_settings / "blocker"
    blocker.write_text("x")
    assert imap("--data-dir", str(blocker), "download", MAG) == 2
    err = capsys.readouterr().err
    assert "not a folder" in err and "this one came from --data-dir." in err


# --- pieces ----------------------------------------------------------------------------------


def test_expand_items_reads_stdin_once() -> None:
    assert expand_items(["a", "-", "b", "-"], io.StringIO("x\n#c\ny\n")) == ["a", "x", "y", "b"]


def test_exit_code_rules() -> None:
    # One rule for downloads and uploads (cli.errors.run_exit_code).
    ok = FileResult("k1", "downloaded")
    skip = FileResult("k2", "skipped")
    down = FileResult("k3", "failed", error=errors.ConnectionFailed("refused"))
    failing = FileResult("k3", "failed", error=errors.Unavailable("503"))
    missing = FileResult("k4", "failed", error=errors.NotFound("404"))
    refused = FileResult("k5", "failed", error=errors.Refused("403"))
    rejected = FileResult("k6", "failed", error=errors.BadRequest("400"))
    odd = FileResult("k7", "failed", error=errors.IMAPError("interrupted"))
    assert exit_code([ok, skip]) == 0
    assert exit_code([]) == 0
    assert exit_code([ok, down]) == 1
    assert exit_code([down, down]) == 3
    assert exit_code([down, failing]) == 3  # the same kind of reason: the SDC is failing
    assert exit_code([refused]) == 4
    assert exit_code([rejected, rejected]) == 2
    assert exit_code([missing, missing]) == 1
    assert exit_code([odd]) == 1
    assert exit_code([down, refused]) == 1
    assert exit_code([skip, refused]) == 1


def test_human_units() -> None:
    assert human_size(999) == "999 bytes"
    assert human_size(1_500_000) == "1.5 MB"
    assert human_time(0.5) == "0.50 s"
    assert human_time(75) == "1 min 15 s"
    assert human_time(3720) == "1 h 02 min"


def terminal_output(**kw) -> tuple[Output, io.StringIO]:
    err = io.StringIO()
    streams = Streams(stdout=io.StringIO(), stderr=err, stderr_tty=True, stdout_tty=False, env={})
    return Output(streams, **kw), err


def feed(progress: TransferProgress, keys: list[str], size: int, threads: int = 8) -> None:
    for key in keys:
        progress.handle(TransferEvent(Stage.PLANNED, key))

    def worker(mine: list[str]) -> None:
        for key in mine:
            progress.handle(TransferEvent(Stage.STARTED, key, total=size))
            for _ in range(4):
                progress.handle(TransferEvent(Stage.PROGRESS, key, total=size, advance=size // 4))
            if key.endswith("7"):
                progress.handle(TransferEvent(Stage.FAILED, key, error=errors.NotFound("gone")))
            else:
                progress.handle(TransferEvent(Stage.DONE, key, total=size))

    pool = [threading.Thread(target=worker, args=(keys[i::threads],)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def test_terminal_progress_draws_bars_from_many_threads() -> None:
    output, err = terminal_output()
    keys = [f"imap/x/file{i}" for i in range(40)]
    with TransferProgress(output, verb="Downloading") as progress:
        feed(progress, keys, 4000)
        assert progress.finished == 40 and progress.failed == 4
        assert progress._bars == {}  # every per-file bar removed when its file ended
    text = err.getvalue()
    assert ESCAPE.search(text)  # a live display was drawn
    assert "40/40 files, 4 failed" in text
    assert "gone" not in text  # failures are listed once, by the summary


def test_plain_progress_writes_one_line_per_file_and_no_escapes() -> None:
    err = io.StringIO()
    output = Output(Streams(stdout=io.StringIO(), stderr=err, stderr_tty=False, env={}))
    with TransferProgress(output, verb="Uploading") as progress:
        feed(progress, [f"k{i}" for i in range(10)], 100, threads=3)
    text = err.getvalue()
    assert not ESCAPE.search(text)
    lines = text.splitlines()
    assert len(lines) == 10
    assert sum(line.startswith("uploaded k") for line in lines) == 9
    assert "Error: failed k7: gone" in lines


def test_summary_lists_each_failure_and_each_hint_once() -> None:
    err = io.StringIO()
    output = Output(Streams(stdout=io.StringIO(), stderr=err, stderr_tty=False, env={}))
    results = [
        FileResult("a", "downloaded", size=2_000_000),
        FileResult("b", "skipped", reason="already present"),
        FileResult("c", "failed", error=errors.NotFound("c: 404")),
        FileResult("d", "failed", error=errors.NotFound("d: 404")),
    ]
    summary(output, results, 3.0, verb="Downloaded")
    lines = err.getvalue().splitlines()
    # why a file was skipped, without -v: few skips are each named
    assert lines[0] == (
        "Downloaded 1 file (2.0 MB) in 3.00 s; skipped 1: already in the data dir; failed 2"
    )
    assert lines[1:3] == ["Error: c: c: 404", "Error: d: d: 404"]
    assert lines[3].startswith("Hint: Check the name") and len(lines) == 4


def summary_text(results: list) -> str:
    """The summary as a terminal shows it (where no line per file was written before it), its
    line wrapping undone."""
    err = io.StringIO()
    streams = Streams(stdout=io.StringIO(), stderr=err, stderr_tty=True, env={"NO_COLOR": "1"})
    summary(Output(streams), results, 1.0, verb="Uploaded")
    return " ".join(err.getvalue().split())


def test_a_summary_says_why_files_were_skipped() -> None:
    same = "already in the SDC (same size and MD5)"
    text = summary_text([FileResult("a", "skipped", reason=same)])
    assert text == (
        f"Uploaded 0 files (0 bytes) in 1.00 s; skipped 1: {same}; failed 0 skipped a: {same}"
    )
    many = [FileResult(f"k{i}", "skipped", reason=same) for i in range(5)]
    many.append(FileResult("p", "skipped", reason="already present"))
    text = summary_text(many)  # many: counted by reason, not listed
    assert text == (
        f"Uploaded 0 files (0 bytes) in 1.00 s; skipped 6: 5 {same}, 1 already in the data dir; "
        "failed 0"
    )


def test_a_summary_says_what_an_earlier_run_kept() -> None:
    text = summary_text([FileResult("a", "downloaded", size=900_000_000, resumed=713_000_000)])
    assert "of which 713.0 MB kept from an earlier run" in text


class ClosedPipe(io.StringIO):
    """stderr whose reader has gone (`... 2>&1 | head -2`): every write raises EPIPE."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False


@responses.activate
def test_stderr_closed_under_a_pipe_neither_hangs_nor_loses_files(
    data_dir: Path, monkeypatch
) -> None:
    keys = [
        f"imap/mag/l1a/2025/01/imap_mag_l1a_norm-mago_202501{d:02d}_v001.0001.cdf"
        for d in range(1, 7)
    ]
    for key in keys:
        serve(key, key.encode())
    monkeypatch.setattr("sys.stderr", ClosedPipe())
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(k + "\n" for k in keys)))
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(imap("download", "-j", "2", "-")))
    worker.daemon = True
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "imap download hung with stderr closed"
    assert codes == [0]
    for key in keys:
        assert (data_dir / key).read_bytes() == key.encode()


ARRAY_VARIABLES = (
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_COUNT",
    "SGE_TASK_ID",
    "LSB_JOBINDEX",
    "PBS_ARRAY_INDEX",
    "PBS_ARRAYID",
)


def test_shard_auto_outside_an_array_job_is_one_line_a_hint_and_exit_2(
    data_dir: Path, capsys, monkeypatch
) -> None:
    for name in ARRAY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert imap("download", "--shard", "auto", MAG) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("Error: no batch array task found for the automatic shard")
    assert (
        lines[1]
        == "Hint: Run it as an array job (Slurm, PBS, SGE, LSF), or give the shard: --shard K/N."
    )
    assert len(lines) == 2 and "Traceback" not in err


@responses.activate
def test_shard_auto_in_a_slurm_array_takes_this_task_s_share(data_dir: Path, capsys, monkeypatch):
    from imap_cli.core.shard import in_shard

    for name in ARRAY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    mine = next(k for k in range(1, 3) if in_shard(MAG_KEY, (k, 2)))
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "0")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MAX", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(mine - 1))
    serve(MAG_KEY, b"m" * 10)
    serve(SWE_KEY, b"s" * 10)
    assert imap("download", "--shard", "auto", MAG, SWE) == 0
    out, _ = capsys.readouterr()
    taken = [MAG_KEY] + ([SWE_KEY] if in_shard(SWE_KEY, (mine, 2)) else [])
    assert out.splitlines() == [str(data_dir.resolve() / key) for key in taken]
