"""core.upload against `responses`: checks before any request, the §1.4 flow, errors, retries."""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import responses

from imap_cli.cli.errors import ExitCode, at_terminal, exit_code_for
from imap_cli.core import errors
from imap_cli.core.http import SDCClient
from imap_cli.core.settings import resolve
from imap_cli.core.transfer import Stage, TransferEvent
from imap_cli.core.upload import (
    PROGRESS_STEP,
    InvalidUploads,
    StorageRefused,
    check_files,
    upload_files,
)

SDC = "https://sdc.example"
S3 = "https://bucket.s3.example"
KEY = "secret-key-0123456789"
MAG = "imap_mag_l1a_norm-mago_20250102_v001.0002.cdf"
MAG_KEY = f"imap/mag/l1a/2025/01/{MAG}"
SWE = "imap_swe_l2_sci_20250301_v002.0001.cdf"
SWE_KEY = f"imap/swe/l2/2025/03/{SWE}"
ANC = "imap_mag_calibration_20250101_v001.cdf"
ANC_KEY = f"imap/ancillary/mag/{ANC}"


def make_client(**changes) -> SDCClient:
    settings = replace(resolve(), **{"url": SDC, "retries": 2, **changes})
    return SDCClient(settings, sleep=lambda _: None)


def make_file(folder: Path, name: str, size: int = 1000) -> Path:
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


class Recorder:
    """An EventSink that keeps every event (thread-safe: uploads run in workers)."""

    def __init__(self) -> None:
        self.events: list[TransferEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: TransferEvent) -> None:
        with self._lock:
            self.events.append(event)

    def stages(self, key: str) -> list[Stage]:
        return [e.stage for e in self.events if e.key == key]

    def moved(self, key: str) -> int:
        return sum(e.advance for e in self.events if e.key == key)


def sign_url(name: str) -> str:
    return f"{S3}/{name}?X-Amz-Signature=abc"


def put_recorder(bodies: list[bytes], status: int = 200):
    """A responses callback that reads the streamed body (as a server would) and keeps it."""

    def callback(request):
        body = request.body
        data = body.read() if hasattr(body, "read") else bytes(body or b"")
        bodies.append(data)
        return status, {"ETag": '"x"'}, b""

    return callback


# --- checks: nothing is sent unless every file is fine ------------------------------------


@responses.activate
def test_every_problem_is_listed_and_nothing_is_sent(tmp_path: Path) -> None:
    good = make_file(tmp_path, MAG)
    legacy = make_file(tmp_path, "imap_mag_l1a_norm-mago_20250102_v003.cdf")
    bad_name = make_file(tmp_path, "imap_xyz_l1a_a_20250101_v001.0001.cdf")
    empty = tmp_path / ANC
    empty.write_bytes(b"")
    folder = tmp_path / "imap_swe_l2_sci_20250301_v002.0001.cdf"
    folder.mkdir()
    missing = tmp_path / "imap_hit_l1a_counts_20250301_v001.0001.cdf"
    paths = [good, legacy, bad_name, empty, folder, missing]
    with pytest.raises(InvalidUploads) as caught:
        upload_files(make_client(api_key=KEY), paths, jobs=4)
    error = caught.value
    assert exit_code_for(error) == ExitCode.USAGE
    assert "5 of 6 files cannot be uploaded; nothing was sent" in error.message
    reasons = dict(error.problems)
    assert set(reasons) == {str(p) for p in paths[1:]}
    assert "legacy v003" in reasons[str(legacy)]
    assert "imap_mag_l1a_norm-mago_20250102_v001.0003.cdf" in reasons[str(legacy)]
    assert "unknown instrument 'xyz'" in reasons[str(bad_name)]
    assert reasons[str(empty)] == "the file is empty"
    assert reasons[str(folder)] == f"is a folder; did you mean {folder}/*.cdf?"
    assert reasons[str(missing)] == "no such file"
    assert "vMMM.mmmm" in error.hint
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    "name",
    [
        "imap_mag_l1a_norm-mago_20250102_v003.cdf",
        "imap_mag_l1a_norm-mago_20250102_v003.png",  # quicklook
        "imap_mag_l1a_norm-mago_20250102_v003.json",  # dependency
    ],
)
def test_legacy_versions_are_refused_for_the_science_family(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidUploads) as caught:
        check_files([make_file(tmp_path, name)])
    assert caught.value.message.startswith(f"cannot upload {tmp_path / name}: ")
    assert "need a vMMM.mmmm version" in caught.value.message


def test_vxxx_is_fine_where_it_is_the_only_form(tmp_path: Path) -> None:
    # Ancillary files (and SPICE kernels) keep their own version forms.
    items = check_files([make_file(tmp_path, ANC), make_file(tmp_path, "naif0012.tls")])
    assert [i.key for i in items] == [ANC_KEY, "imap/spice/lsk/naif0012.tls"]


def test_same_file_twice_is_uploaded_once_but_same_name_twice_is_refused(tmp_path: Path) -> None:
    path = make_file(tmp_path, MAG)
    assert len(check_files([path, tmp_path / "." / MAG])) == 1
    other = tmp_path / "other"
    other.mkdir()
    twin = make_file(other, MAG)
    with pytest.raises(InvalidUploads) as caught:
        check_files([path, twin])
    ((where, reason),) = caught.value.problems
    assert where == str(twin) and f"same file name as {path}" in reason and MAG_KEY in reason


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root reads all")
def test_unreadable_file(tmp_path: Path) -> None:
    path = make_file(tmp_path, MAG)
    path.chmod(0)
    with pytest.raises(InvalidUploads) as caught:
        check_files([path])
    assert "cannot read it" in caught.value.message


def test_unreadable_file_via_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Works as root too: the check opens the file, and that open fails.
    import builtins

    path = make_file(tmp_path, MAG)
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    with pytest.raises(InvalidUploads) as caught:
        check_files([path])
    assert "cannot read it (Permission denied)" in caught.value.message


@responses.activate
def test_dry_run_uploads_nothing_and_gives_the_keys(tmp_path: Path) -> None:
    paths = [make_file(tmp_path, MAG), make_file(tmp_path, ANC)]
    for key in (MAG_KEY, ANC_KEY):
        responses.get(f"{SDC}/api-key/download/{key}", status=404, body="File not found")
    results = upload_files(make_client(api_key=KEY), paths, jobs=2, dry_run=True)
    assert [(r.key, r.status, r.size) for r in results] == [
        (MAG_KEY, "would-upload", 1000),
        (ANC_KEY, "would-upload", 1000),
    ]
    assert [(c.request.method, "/download/" in c.request.url) for c in responses.calls] == [
        ("GET", True),
        ("GET", True),
    ]


# --- the flow -------------------------------------------------------------------------------


@responses.activate
def test_upload_flow_streams_the_file_without_credentials(tmp_path: Path) -> None:
    size = 3 * PROGRESS_STEP + 123
    path = make_file(tmp_path, MAG, size)
    client = make_client(api_key=KEY)
    responses.get(f"{SDC}/api-key/upload/{MAG}", json=sign_url(MAG))
    bodies: list[bytes] = []
    responses.add_callback(responses.PUT, f"{S3}/{MAG}", callback=put_recorder(bodies))
    sink = Recorder()
    (result,) = upload_files(client, [path], jobs=1, on_event=sink)
    assert (result.key, result.status, result.size, result.error) == (
        MAG_KEY,
        "uploaded",
        size,
        None,
    )
    get, put = responses.calls
    assert get.request.headers["x-api-key"] == KEY
    assert put.request.url == sign_url(MAG)
    sent = {k.lower(): v for k, v in put.request.headers.items()}
    assert "x-api-key" not in sent and "authorization" not in sent
    assert sent["content-type"] == "" and sent["content-length"] == str(size)
    assert "transfer-encoding" not in sent
    assert bodies == [path.read_bytes()]
    assert sink.stages(MAG_KEY)[:2] == [Stage.PLANNED, Stage.STARTED]
    assert sink.stages(MAG_KEY)[-1] == Stage.DONE
    # (responses reads the body in one go; tests/e2e/test_upload_wire.py checks the streaming.)
    assert sink.moved(MAG_KEY) == size


@responses.activate
def test_public_upload_without_credentials(tmp_path: Path) -> None:
    # Dev servers and imap serve take uploads on the public route.
    path = make_file(tmp_path, ANC)
    responses.get(f"{SDC}/upload/{ANC}", json=sign_url(ANC))
    responses.put(f"{S3}/{ANC}", status=200)
    (result,) = upload_files(make_client(), [path])
    assert result.status == "uploaded" and result.key == ANC_KEY


@responses.activate
def test_conflict_names_the_key_and_the_others_carry_on(tmp_path: Path) -> None:
    paths = [make_file(tmp_path, MAG), make_file(tmp_path, SWE), make_file(tmp_path, ANC)]
    responses.get(
        f"{SDC}/api-key/upload/{MAG}",
        status=409,
        json={
            "error": "FileAlreadyExists",
            "message": f"The file '{MAG_KEY}' already exists. Rename it or remove the "
            "existing file before uploading again.",
        },
    )
    # The 2024 server's body: a JSON string.
    responses.get(f"{SDC}/api-key/upload/{SWE}", status=409, json=f"{SWE_KEY} already exists.")
    responses.get(f"{SDC}/api-key/upload/{ANC}", json=sign_url(ANC))
    responses.put(f"{S3}/{ANC}", status=200)
    # What the SDC has: MAG with other bytes of the same size, SWE with these very bytes.
    for name, key, md5 in (
        (MAG, MAG_KEY, "0" * 32),
        (SWE, SWE_KEY, hashlib.md5(paths[1].read_bytes()).hexdigest()),
    ):
        responses.get(
            f"{SDC}/api-key/download/{key}", status=302, headers={"Location": f"{S3}/{name}?s=1"}
        )
        responses.get(
            f"{S3}/{name}",
            status=206,
            body=b"x",
            headers={"Content-Range": "bytes 0-0/1000", "ETag": f'"{md5}"'},
            match=[responses.matchers.header_matcher({"Range": "bytes=0-0"})],
        )
    results = upload_files(make_client(api_key=KEY), paths, jobs=1)
    assert [r.status for r in results] == ["failed", "skipped", "uploaded"]
    first, second, _ = results
    assert isinstance(first.error, errors.Conflict)
    assert first.error.message == (
        f"already in the SDC with different content than {paths[0]} (same size, "
        f"but MD5 {'0' * 32} in the SDC and {hashlib.md5(paths[0].read_bytes()).hexdigest()} "
        "here); a new version needs a new filename"
    )
    assert exit_code_for(first.error) == ExitCode.PARTIAL
    assert second.ok and second.reason == "already in the SDC (same size and MD5)"
    # A presigned GET URL refuses HEAD: the comparison used one ranged GET per file.
    assert not [c for c in responses.calls if c.request.method == "HEAD"]


@responses.activate
def test_a_conflict_that_cannot_be_compared_says_why(tmp_path: Path) -> None:
    path = make_file(tmp_path, MAG)
    responses.get(f"{SDC}/api-key/upload/{MAG}", status=409, json=f"{MAG_KEY} already exists.")
    responses.get(f"{SDC}/api-key/download/{MAG_KEY}", status=500)
    (result,) = upload_files(make_client(api_key=KEY, retries=0), [path], jobs=1)
    assert isinstance(result.error, errors.Conflict)
    assert result.error.message.startswith(
        "already in the SDC; a new version needs a new filename (could not compare"
    )


@pytest.mark.parametrize(
    ("changes", "body", "hint"),
    [
        (
            {"api_key": KEY},
            '"Upload access denied. Your API key has read-only permissions."',
            "may only read",
        ),
        ({"api_key": KEY}, '{"message":"Forbidden"}', "imap config get api-key"),
        ({}, '{"message":"Forbidden"}', "need an API key with write access"),
        ({"access_token": "tok-12345678"}, '{"message":"Forbidden"}', "access token alone"),
    ],
)
@responses.activate
def test_refusal_gives_the_key_hint_and_stops_the_rest(tmp_path: Path, changes, body, hint) -> None:
    paths = [make_file(tmp_path, MAG), make_file(tmp_path, SWE)]
    client = make_client(**changes)
    responses.get(client.api_url("upload", MAG), status=403, body=body)
    results = upload_files(client, paths, jobs=1)
    assert [r.status for r in results] == ["failed", "failed"]
    first, second = (r.error for r in results)
    assert isinstance(first, errors.Refused) and exit_code_for(first) == ExitCode.REFUSED
    assert first.message.startswith("the SDC refused the upload (403 Forbidden: ")
    # The terminal's hint names the command; Python's (error.hint) names no command.
    assert hint in at_terminal(first.hint_template) and "imap config" not in first.hint
    assert isinstance(second, errors.Refused) and "not attempted" in second.message
    # One refusal is enough: the second file is not asked for.
    assert len(responses.calls) == 1


@responses.activate
def test_401_without_a_key_suggests_setting_one(tmp_path: Path) -> None:
    responses.get(f"{SDC}/upload/{MAG}", status=401, json={"message": "Unauthorized"})
    (result,) = upload_files(make_client(), [make_file(tmp_path, MAG)])
    assert "(401 Unauthorized: Unauthorized)" in result.error.message
    assert "imap config set api-key" in at_terminal(result.error.hint_template)
    assert "api_key" in result.error.hint and "imap config" not in result.error.hint


@pytest.mark.parametrize(
    ("changes", "error", "text", "hint"),
    [
        ({}, errors.Refused, "takes no uploads without an API key", "imap config set api-key"),
        ({"api_key": KEY}, errors.SDCError, "no upload route at", "imap config get url"),
    ],
)
@responses.activate
def test_404_no_upload_route(tmp_path: Path, changes, error, text, hint) -> None:
    # API Gateway's answer for a route it does not have (production: upload only under /api-key).
    client = make_client(**changes)
    responses.get(client.api_url("upload", MAG), status=404, json={"message": "Not Found"})
    (result,) = upload_files(client, [make_file(tmp_path, MAG)])
    assert isinstance(result.error, error) and text in result.error.message
    assert "(404 Not Found: Not Found)" in result.error.message
    assert hint in at_terminal(result.error.hint_template)
    assert "imap config" not in result.error.hint


@responses.activate
def test_400_shows_the_server_message_as_text(tmp_path: Path) -> None:
    message = (
        f"error: {MAG} does not match ancillary, science, cadence, or SPICE file naming "
        "convention. [bold]not markup[/bold]"
    )
    responses.get(f"{SDC}/api-key/upload/{MAG}", status=400, json=message)
    (result,) = upload_files(make_client(api_key=KEY), [make_file(tmp_path, MAG)])
    assert isinstance(result.error, errors.BadRequest)
    assert result.error.message == f"the SDC rejected the upload: {message}"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"url": "https://x"}', "application/json"),
        ('"ftp://bucket/x"', "application/json"),
        ('"/relative/path"', "application/json"),
        ("https://bucket/x", "text/plain"),  # not JSON
        ("<html>login</html>", "text/html"),
    ],
)
@responses.activate
def test_answer_that_is_not_a_url_string(tmp_path: Path, body: str, content_type: str) -> None:
    responses.get(f"{SDC}/upload/{MAG}", body=body, content_type=content_type)
    (result,) = upload_files(make_client(), [make_file(tmp_path, MAG)])
    assert isinstance(result.error, errors.BadResponse)
    assert "not an upload URL" in result.error.message
    assert len(responses.calls) == 1


@responses.activate
def test_sdc_failing_after_retries_is_unavailable(tmp_path: Path) -> None:
    responses.get(f"{SDC}/upload/{MAG}", status=502, json={"message": "Internal server error"})
    (result,) = upload_files(make_client(retries=1), [make_file(tmp_path, MAG)])
    assert isinstance(result.error, errors.Unavailable)
    assert exit_code_for(result.error) == ExitCode.UNAVAILABLE
    assert len(responses.calls) == 2


# --- the PUT --------------------------------------------------------------------------------


@responses.activate
def test_put_retry_reopens_the_file_and_resends_it_whole(tmp_path: Path) -> None:
    size = 2 * PROGRESS_STEP + 7
    path = make_file(tmp_path, MAG, size)
    responses.get(f"{SDC}/upload/{MAG}", json=sign_url(MAG))
    bodies: list[bytes] = []
    responses.add_callback(responses.PUT, f"{S3}/{MAG}", callback=put_recorder(bodies, 503))
    responses.add_callback(responses.PUT, f"{S3}/{MAG}", callback=put_recorder(bodies, 200))
    sink = Recorder()
    (result,) = upload_files(make_client(), [path], on_event=sink)
    assert result.status == "uploaded"
    assert bodies == [path.read_bytes(), path.read_bytes()]
    retries = [e for e in sink.events if e.stage == Stage.RETRY]
    assert len(retries) == 1 and retries[0].advance == -size
    assert sink.moved(MAG_KEY) == size  # the bar ends at the file size, not twice it


@responses.activate
def test_presigned_url_on_the_sdc_host_still_gets_no_credential(tmp_path: Path) -> None:
    path = make_file(tmp_path, MAG)
    client = make_client(api_key=KEY)
    target = f"{SDC}/objects/{MAG}?sig=1"
    responses.get(f"{SDC}/api-key/upload/{MAG}", json=target)
    responses.put(f"{SDC}/objects/{MAG}", status=200)
    upload_files(client, [path])
    assert "x-api-key" not in responses.calls[1].request.headers


@responses.activate
def test_storage_refusal_fails_that_file_only(tmp_path: Path) -> None:
    paths = [make_file(tmp_path, MAG), make_file(tmp_path, ANC)]
    for name in (MAG, ANC):
        responses.get(f"{SDC}/upload/{name}", json=sign_url(name))
    responses.put(
        f"{S3}/{MAG}",
        status=403,
        body="<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
    )
    responses.put(f"{S3}/{ANC}", status=200)
    first, second = upload_files(make_client(), paths, jobs=1)
    assert isinstance(first.error, StorageRefused)
    assert "AccessDenied: Request has expired" in first.error.message
    assert "run the command again" in first.error.hint
    assert second.status == "uploaded"


@responses.activate
def test_file_that_changes_after_the_check(tmp_path: Path) -> None:
    path = make_file(tmp_path, MAG, 100)

    def grow(request):
        with path.open("ab") as handle:
            handle.write(b"more")
        return 200, {}, f'"{sign_url(MAG)}"'

    responses.add_callback(responses.GET, f"{SDC}/upload/{MAG}", callback=grow)
    (result,) = upload_files(make_client(), [path])
    assert isinstance(result.error, errors.IntegrityError)
    assert "changed while it was being uploaded (100 bytes when checked, 104 now)" in (
        result.error.message
    )
    assert len(responses.calls) == 1


@responses.activate
def test_parallel_uploads_keep_the_input_order(tmp_path: Path) -> None:
    names = [f"imap_mag_l1a_norm-mago_202501{day:02d}_v001.0001.cdf" for day in range(1, 13)]
    paths = [make_file(tmp_path, n, 2000 + i) for i, n in enumerate(names)]
    for name in names:
        responses.get(f"{SDC}/upload/{name}", json=sign_url(name))
        responses.put(f"{S3}/{name}", status=200)
    sink = Recorder()
    results = upload_files(make_client(), paths, jobs=4, on_event=sink)
    assert [r.path for r in results] == paths
    assert all(r.status == "uploaded" for r in results)
    assert [r.size for r in results] == [2000 + i for i in range(12)]
    assert sum(e.advance for e in sink.events) == sum(r.size for r in results)


@responses.activate
def test_ctrl_c_stops_the_run(tmp_path: Path) -> None:
    # KeyboardInterrupt from a worker (as from the main thread) ends the run, not one file.
    names = [f"imap_mag_l1a_norm-mago_202501{day:02d}_v001.0001.cdf" for day in range(1, 7)]
    paths = [make_file(tmp_path, n, 3 * PROGRESS_STEP) for n in names]
    for name in names:
        responses.get(f"{SDC}/upload/{name}", json=sign_url(name))
        responses.put(f"{S3}/{name}", status=200)

    def interrupt(event: TransferEvent) -> None:
        if event.stage == Stage.PROGRESS:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upload_files(make_client(), paths, jobs=2, on_event=interrupt)
    # Files still queued were never asked for.
    assert len([c for c in responses.calls if c.request.method == "GET"]) < len(names)


def test_progress_file_reports_at_the_end_and_stops_once_cancelled(tmp_path: Path) -> None:
    from imap_cli.core.upload import ProgressFile, UploadCancelled

    cancel = threading.Event()
    reported: list[int] = []
    with ProgressFile(make_file(tmp_path, MAG, 10), reported.append, cancel) as body:
        assert body.mode == "rb" and os.fstat(body.fileno()).st_size == 10
        assert len(body.read(4)) == 4 and reported == []  # small reads are batched
        assert len(body.read(100)) == 6 and body.read(100) == b""
        assert reported == [10]
        body.seek(0)
        cancel.set()
        with pytest.raises(UploadCancelled):
            body.read(4)


# --- robustness: outages, a raising progress handler, Ctrl-C ----------------------------------


def days(tmp_path: Path, count: int) -> list[Path]:
    names = [f"imap_mag_l1a_norm-mago_202501{day:02d}_v001.0001.cdf" for day in range(1, count + 1)]
    return [make_file(tmp_path, name) for name in names]


@responses.activate
def test_sdc_failing_on_every_upload_lookup_stops_the_rest(tmp_path: Path) -> None:
    paths = days(tmp_path, 12)
    for path in paths:
        responses.get(f"{SDC}/upload/{path.name}", status=503, body="Service Unavailable")
    results = upload_files(make_client(), paths, jobs=2)
    assert all(r.status == "failed" for r in results)
    assert all(isinstance(r.error, errors.Unavailable) for r in results)
    assert sum("not attempted" in r.error.message for r in results) >= len(paths) - 2
    # At most the two lookups under way when the first gave up paid for the retries (1 + 2).
    assert len(responses.calls) <= 2 * 3


@responses.activate
def test_a_503_from_the_storage_host_fails_that_file_only(tmp_path: Path) -> None:
    paths = days(tmp_path, 4)
    for path in paths:
        responses.get(f"{SDC}/upload/{path.name}", json=sign_url(path.name))
    responses.put(f"{S3}/{paths[0].name}", status=503, body="<Error><Code>SlowDown</Code></Error>")
    for path in paths[1:]:
        responses.put(f"{S3}/{path.name}", status=200)
    results = upload_files(make_client(), paths, jobs=1)
    assert isinstance(results[0].error, errors.Unavailable)
    assert [r.status for r in results[1:]] == ["uploaded"] * 3


@responses.activate
def test_a_network_failure_on_the_storage_host_hides_the_signature(tmp_path: Path) -> None:
    path = make_file(tmp_path, MAG)
    responses.get(f"{SDC}/upload/{MAG}", json="http://127.0.0.1:99999/x?X-Amz-Signature=SIGSECRET")
    (result,) = upload_files(make_client(), [path])
    assert isinstance(result.error, errors.ConnectionFailed)
    assert "127.0.0.1:99999" in result.error.message
    assert "SIGSECRET" not in result.error.message


@pytest.mark.parametrize("stage", [Stage.DONE, Stage.PROGRESS, Stage.STARTED, Stage.PLANNED])
@responses.activate
def test_a_raising_progress_handler_changes_no_result(tmp_path: Path, stage: Stage) -> None:
    paths = days(tmp_path, 6)
    for path in paths:
        responses.get(f"{SDC}/upload/{path.name}", json=sign_url(path.name))
        responses.put(f"{S3}/{path.name}", status=200)

    def sink(event: TransferEvent) -> None:
        if event.stage == stage:
            raise BrokenPipeError(32, "EPIPE")

    outcome: list = []
    worker = threading.Thread(
        target=lambda: outcome.append(upload_files(make_client(), paths, jobs=2, on_event=sink)),
        daemon=True,
    )
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "upload_files hung"
    (results,) = outcome
    assert [(r.path, r.status) for r in results] == [(p, "uploaded") for p in paths]


def test_ctrl_c_returns_at_once_while_requests_hang(tmp_path: Path, silent_server) -> None:
    server = silent_server
    paths = days(tmp_path, 3)
    # A read timeout of an hour: had Ctrl-C waited for a stuck request, upload_files would not
    # return until the guard closed the server under it.
    client = make_client(url=server.url, timeout=3600.0, retries=1)
    done = server.interrupt_main_when_reached()
    try:
        with pytest.raises(KeyboardInterrupt):
            upload_files(client, paths, jobs=2)
    finally:
        done.set()
        server.close()
    assert server.accepted.is_set(), "no request reached the server"
    # Nothing waits for the worker threads blocked on the silent server (daemons).
    assert not server.hung.is_set(), "Ctrl-C waited for the requests stuck on the server"


def test_a_path_problem_comes_before_naming_rules(tmp_path: Path) -> None:
    """A folder or a missing file is said as such, whatever its name; a naming hint shows only
    what upload takes (no legacy vXXX for science files)."""
    (tmp_path / "out").mkdir()
    make_file(tmp_path / "out", MAG)
    paths = [tmp_path / "out", tmp_path / "nothing-here.cdf", make_file(tmp_path, "x.cdf")]
    with pytest.raises(InvalidUploads) as caught:
        upload_files(make_client(api_key=KEY), paths, jobs=1)
    reasons = dict(caught.value.problems)
    assert reasons[str(paths[0])] == f"is a folder; did you mean {paths[0]}/*.cdf?"
    assert reasons[str(paths[1])] == "no such file"
    with pytest.raises(InvalidUploads) as caught:
        upload_files(make_client(api_key=KEY), [paths[2]], jobs=1)
    assert "_v<MMM.mmmm>." in caught.value.hint and "vXXX" not in caught.value.hint


def test_a_folder_suggests_the_files_upload_takes(tmp_path: Path) -> None:
    """The folder's other files (notes, READMEs) do not make the suggestion."""
    folder = tmp_path / "out"
    folder.mkdir()
    make_file(folder, MAG)
    for other in ("a.md", "b.md", "c.md"):
        (folder / other).write_text("x")
    with pytest.raises(InvalidUploads) as caught:
        upload_files(make_client(api_key=KEY), [folder], jobs=1)
    assert dict(caught.value.problems)[str(folder)] == f"is a folder; did you mean {folder}/*.cdf?"
