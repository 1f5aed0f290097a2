"""core.download against `responses`: inputs, destinations, the §1.3 flow, skip/verify, errors."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import requests
import responses

from imap_cli.cli.errors import ExitCode, exit_code_for
from imap_cli.core import errors, objects
from imap_cli.core.download import datadir, pipeline
from imap_cli.core.http import SDCClient
from imap_cli.core.listing import read_listing
from imap_cli.core.naming import IMAPName
from imap_cli.core.settings import resolve
from imap_cli.core.transfer import Stage, TransferEvent

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


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def serve(key: str, data: bytes, *, base: str = SDC, etag: str | None = "md5", status=302) -> str:
    """Register /download/<key> -> 302 -> object URL with data; returns the object URL."""
    url = f"{S3}/{key}?X-Amz-Signature=abc"
    if status == 302:
        responses.get(f"{base}/download/{key}", status=302, headers={"Location": url})
    else:
        responses.get(f"{base}/download/{key}", status=200, json={"download_url": url})
    headers = {"Content-Length": str(len(data))}  # responses does not add it
    if etag == "md5":
        headers["ETag"] = f'"{md5(data)}"'
    elif etag:
        headers["ETag"] = etag
    responses.get(url, body=data, headers=headers)
    return url


def run(items, tmp_path: Path, client: SDCClient | None = None, **options):
    events: list[TransferEvent] = []
    lock = threading.Lock()

    def sink(event: TransferEvent) -> None:
        with lock:
            events.append(event)

    options.setdefault("jobs", 4)
    results = pipeline.download_files(
        client or make_client(), list(items), data_dir=tmp_path / "data", on_event=sink, **options
    )
    return results, events


def parts_left(root: Path) -> list[Path]:
    return list(root.rglob("*.part"))


# --- inputs ---------------------------------------------------------------------------------


def test_read_list_ignores_blanks_and_comments() -> None:
    text = f"\n# a comment\n  {MAG}  \n\n{SWE_KEY}\n   # indented comment\n"
    assert read_listing(text.splitlines()) == [MAG, SWE_KEY]


def test_parse_items_collapses_duplicates_in_order() -> None:
    names = pipeline.parse_items([SWE, MAG, MAG_KEY, SWE_KEY, MAG])
    assert [n.key for n in names] == [SWE_KEY, MAG_KEY]


def test_every_invalid_name_is_reported_before_anything_is_fetched(tmp_path: Path) -> None:
    with responses.RequestsMock() as mocked:  # any request would fail the test
        with pytest.raises(pipeline.InvalidNames) as caught:
            run([MAG, "not_a_name.cdf", "imap_mag_l1a_x_20251340_v001.0001.cdf"], tmp_path)
        assert len(mocked.calls) == 0
    assert [text for text, _ in caught.value.problems] == [
        "not_a_name.cdf",
        "imap_mag_l1a_x_20251340_v001.0001.cdf",
    ]
    assert exit_code_for(caught.value) == ExitCode.USAGE
    assert "2 names are not valid" in caught.value.message


def test_a_key_whose_folder_does_not_match_is_invalid() -> None:
    with pytest.raises(pipeline.InvalidNames):
        pipeline.parse_items([f"imap/swe/l1a/2025/01/{MAG}"])


# --- data dir and destinations -------------------------------------------------------------


def test_missing_data_dir_is_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert datadir.ensure_data_dir(target) == target.resolve()
    assert target.is_dir()


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(errors.DataDirError) as caught:
        datadir.ensure_data_dir(target)
    assert "not a folder" in caught.value.message
    assert "data_dir" in caught.value.hint  # Python's terms; the terminal's hint is the CLI's
    from imap_cli.cli.hints import hint_for

    assert "imap config set data-dir" in hint_for(caught.value)


def test_unwritable_data_dir_is_refused(tmp_path: Path, monkeypatch) -> None:
    # Tests may run as root, where chmod does not stop writes: ask os.access instead.
    monkeypatch.setattr(datadir.os, "access", lambda *a, **k: False)
    with pytest.raises(errors.DataDirError) as caught:
        datadir.ensure_data_dir(tmp_path)
    assert "not writable" in caught.value.message


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "/etc/passwd", "imap/../../x.cdf", "imap//x.cdf", "imap/./x", "a\\b", ""],
)
def test_destination_refuses_keys_outside_the_data_dir(tmp_path: Path, key: str) -> None:
    with pytest.raises(errors.UnsafeRequest):
        datadir.destination(tmp_path, key)


def test_destination_is_data_dir_plus_key(tmp_path: Path) -> None:
    assert datadir.destination(tmp_path, MAG_KEY) == tmp_path.joinpath(*MAG_KEY.split("/"))


@responses.activate
def test_a_key_from_naming_that_escapes_is_refused_before_any_request(
    tmp_path: Path, monkeypatch
) -> None:
    evil = IMAPName(name="x.cdf", kind="science", key="imap/../../x.cdf", extension="cdf")
    monkeypatch.setattr(pipeline, "parse_key", lambda text: evil)
    with pytest.raises(errors.UnsafeRequest):
        run(["x.cdf"], tmp_path)
    assert len(responses.calls) == 0
    assert not (tmp_path / "x.cdf").exists()


# --- the fetch -----------------------------------------------------------------------------


@responses.activate
def test_download_follows_302_itself_and_writes_data_dir_plus_key(tmp_path: Path) -> None:
    data = b"cdf-bytes" * 1000
    serve(MAG_KEY, data, base=SDC + "/api-key")
    results, events = run([MAG], tmp_path, make_client(api_key=KEY))
    (result,) = results
    dest = tmp_path / "data" / MAG_KEY
    assert result.status == "downloaded" and result.ok and result.path == dest
    assert result.size == len(data)
    assert dest.read_bytes() == data
    assert parts_left(tmp_path) == []
    api, obj = responses.calls
    assert api.request.headers["x-api-key"] == KEY
    # The object host never sees a credential.
    assert "x-api-key" not in obj.request.headers
    assert "Authorization" not in obj.request.headers
    stages = [e.stage for e in events]
    assert stages[0] == Stage.PLANNED and stages[1] == Stage.STARTED and stages[-1] == Stage.DONE
    assert sum(e.advance for e in events if e.stage == Stage.PROGRESS) == len(data)


@responses.activate
def test_bearer_token_never_reaches_the_object_host(tmp_path: Path) -> None:
    serve(MAG_KEY, b"abc", base=SDC + "/authorized")
    (result,), _ = run([MAG], tmp_path, make_client(access_token="tok-secret"))
    assert result.ok
    assert responses.calls[0].request.headers["Authorization"] == "Bearer tok-secret"
    assert "Authorization" not in responses.calls[1].request.headers


@responses.activate
def test_json_download_url_is_accepted(tmp_path: Path) -> None:
    serve(MAG_KEY, b"payload", status=200)
    (result,), _ = run([MAG_KEY], tmp_path)
    assert result.status == "downloaded"
    assert (tmp_path / "data" / MAG_KEY).read_bytes() == b"payload"


@responses.activate
def test_a_key_is_never_sent_over_plain_http_to_a_remote_host(tmp_path: Path) -> None:
    client = make_client(url="http://sdc.example", api_key=KEY)
    (result,), _ = run([MAG], tmp_path, client)
    assert result.status == "failed"
    assert isinstance(result.error, errors.UnsafeRequest)
    assert "plain http" in result.error.message
    assert len(responses.calls) == 0


@responses.activate
def test_plain_http_to_loopback_is_allowed(tmp_path: Path) -> None:
    base = "http://127.0.0.1:9"
    url = "http://127.0.0.1:10/obj"
    responses.get(f"{base}/api-key/download/{MAG_KEY}", status=302, headers={"Location": url})
    responses.get(url, body=b"x")
    (result,), _ = run([MAG], tmp_path, make_client(url=base, api_key=KEY))
    assert result.ok


@responses.activate
def test_multipart_etag_skips_the_checksum_and_md5_etag_is_checked(tmp_path: Path) -> None:
    serve(MAG_KEY, b"one", etag='"0123456789abcdef0123456789abcdef-3"')
    serve(SWE_KEY, b"two", etag='"0123456789abcdef0123456789abcdef"')  # wrong MD5
    results, events = run([MAG, SWE], tmp_path)
    assert results[0].status == "downloaded"
    assert results[1].status == "failed"
    assert isinstance(results[1].error, errors.IntegrityError)
    assert "checksum" in results[1].error.message
    assert not (tmp_path / "data" / SWE_KEY).exists()
    assert parts_left(tmp_path) == []
    # The bad file was fetched again from zero before giving up; the bar went back each time.
    retries = [e for e in events if e.key == SWE_KEY and e.stage == Stage.RETRY]
    assert retries and all(e.advance == -3 for e in retries)


@responses.activate
def test_expired_presigned_url_gets_a_fresh_one(tmp_path: Path) -> None:
    stale = f"{S3}/{MAG_KEY}?sig=old"
    fresh = f"{S3}/{MAG_KEY}?sig=new"
    responses.get(f"{SDC}/download/{MAG_KEY}", status=302, headers={"Location": stale})
    responses.get(f"{SDC}/download/{MAG_KEY}", status=302, headers={"Location": fresh})
    responses.get(stale, status=403, body="<Error><Code>AccessDenied</Code></Error>")
    responses.get(fresh, body=b"new-bytes")
    (result,), _ = run([MAG], tmp_path)
    assert result.ok
    assert (tmp_path / "data" / MAG_KEY).read_bytes() == b"new-bytes"


@responses.activate
def test_not_found_fails_that_file_only(tmp_path: Path) -> None:
    responses.get(f"{SDC}/download/{MAG_KEY}", status=404, body="File not found, make sure...")
    serve(SWE_KEY, b"fine")
    results, events = run([MAG, SWE], tmp_path)
    assert [r.status for r in results] == ["failed", "downloaded"]
    assert isinstance(results[0].error, errors.NotFound)
    assert results[0].reason == "SDC download link: 404 Not Found"
    failed = [e for e in events if e.stage == Stage.FAILED]
    assert [e.key for e in failed] == [MAG_KEY]


@responses.activate
def test_object_host_errors_after_retries_fail_the_file(tmp_path: Path) -> None:
    url = f"{S3}/{MAG_KEY}"
    responses.get(f"{SDC}/download/{MAG_KEY}", status=302, headers={"Location": url})
    responses.get(url, status=503, body="Slow Down")
    (result,), _ = run([MAG], tmp_path)
    assert result.status == "failed"
    assert isinstance(result.error, errors.Unavailable)
    assert len([c for c in responses.calls if c.request.url == url]) == 3  # 1 + 2 retries
    assert parts_left(tmp_path) == []


@responses.activate
def test_redirect_to_a_non_http_url_is_refused(tmp_path: Path) -> None:
    responses.get(
        f"{SDC}/download/{MAG_KEY}", status=302, headers={"Location": "file:///etc/passwd"}
    )
    (result,), _ = run([MAG], tmp_path)
    assert result.status == "failed"
    assert "not http" in result.reason
    assert not (tmp_path / "data" / MAG_KEY).exists()


@responses.activate
def test_unreachable_sdc_fails_every_file_fast_with_one_error(tmp_path: Path) -> None:
    names = [f"imap_mag_l1a_norm-mago_202501{day:02d}_v001.0002.cdf" for day in range(1, 21)]
    for name in names:
        responses.get(
            f"{SDC}/download/imap/mag/l1a/2025/01/{name}",
            body=requests.exceptions.ConnectionError("Connection refused"),
        )
    results, _ = run(names, tmp_path, jobs=1)
    assert all(r.status == "failed" for r in results)
    assert {r.error.message for r in results} == {results[0].error.message}
    assert all(exit_code_for(r.error) == ExitCode.UNAVAILABLE for r in results)
    # Only the lookups already under way when the first one gave up paid for the retries
    # (at most one per lookup thread); the other files failed without asking again.
    lookups = pipeline.resolver_count(1)
    assert lookups < len(names)
    assert len(responses.calls) <= lookups * (1 + 2)


# --- skip, verify, force, dry run -------------------------------------------------------------


def put(tmp_path: Path, key: str, data: bytes) -> Path:
    dest = tmp_path / "data" / key
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


@responses.activate
def test_present_file_is_skipped_without_any_request(tmp_path: Path) -> None:
    put(tmp_path, MAG_KEY, b"already")
    (result,), events = run([MAG], tmp_path)
    assert result.status == "skipped" and result.reason == "already present"
    assert len(responses.calls) == 0
    assert [e.stage for e in events] == [Stage.PLANNED, Stage.SKIPPED]


@responses.activate
def test_empty_present_file_is_fetched_again(tmp_path: Path) -> None:
    put(tmp_path, MAG_KEY, b"")
    serve(MAG_KEY, b"full")
    (result,), _ = run([MAG], tmp_path)
    assert result.status == "downloaded"
    assert (tmp_path / "data" / MAG_KEY).read_bytes() == b"full"


@responses.activate
def test_verify_keeps_a_matching_file_and_refetches_a_different_one(tmp_path: Path) -> None:
    put(tmp_path, MAG_KEY, b"same-bytes")
    put(tmp_path, SWE_KEY, b"old-bytes!")  # same size, different content
    serve(MAG_KEY, b"same-bytes")
    # The verification is a one-byte ranged GET (presigned URLs are signed for GET, not HEAD);
    # responses answers registrations for one URL in order.
    responses.get(
        f"{S3}/{SWE_KEY}?X-Amz-Signature=abc",
        status=206,
        body=b"n",
        headers={"Content-Range": "bytes 0-0/10", "ETag": f'"{md5(b"new-bytes!")}"'},
    )
    serve(SWE_KEY, b"new-bytes!")
    results, _ = run([MAG, SWE], tmp_path, verify=True)
    assert [r.status for r in results] == ["skipped", "downloaded"]
    assert results[0].reason == "verified"
    assert (tmp_path / "data" / SWE_KEY).read_bytes() == b"new-bytes!"
    ranged = [c for c in responses.calls if c.request.headers.get("Range") == "bytes=0-0"]
    assert len(ranged) == 2


@responses.activate
def test_verify_notices_a_different_size(tmp_path: Path) -> None:
    put(tmp_path, MAG_KEY, b"short")
    serve(MAG_KEY, b"much longer", etag='"abc-2"')
    (result,), _ = run([MAG], tmp_path, verify=True)
    assert result.status == "downloaded"
    assert (tmp_path / "data" / MAG_KEY).read_bytes() == b"much longer"


@responses.activate
def test_force_downloads_again(tmp_path: Path) -> None:
    put(tmp_path, MAG_KEY, b"old")
    serve(MAG_KEY, b"new")
    (result,), _ = run([MAG], tmp_path, force=True)
    assert result.status == "downloaded"
    assert (tmp_path / "data" / MAG_KEY).read_bytes() == b"new"


@responses.activate
def test_dry_run_fetches_nothing_and_creates_nothing(tmp_path: Path) -> None:
    put(tmp_path, MAG_KEY, b"here")
    results, _ = run([MAG, SWE], tmp_path, dry_run=True)
    assert [(r.key, r.status) for r in results] == [
        (MAG_KEY, "skipped"),
        (SWE_KEY, "would-download"),
    ]
    assert len(responses.calls) == 0
    assert not (tmp_path / "data" / SWE_KEY).parent.exists()


@responses.activate
def test_dry_run_with_a_missing_data_dir_does_not_create_it(tmp_path: Path) -> None:
    results, _ = run([MAG], tmp_path, dry_run=True)
    assert results[0].status == "would-download"
    assert not (tmp_path / "data").exists()


@responses.activate
def test_dry_run_with_verify_asks_the_sdc_but_writes_nothing(tmp_path: Path) -> None:
    put(tmp_path, MAG_KEY, b"stale")
    serve(MAG_KEY, b"fresh-and-longer")
    (result,), _ = run([MAG], tmp_path, dry_run=True, verify=True)
    assert result.status == "would-download"
    assert "size differs" in result.reason
    assert (tmp_path / "data" / MAG_KEY).read_bytes() == b"stale"


@responses.activate
def test_many_files_in_parallel_keep_input_order(tmp_path: Path) -> None:
    names = [f"imap_mag_l1a_norm-mago_202501{d:02d}_v001.0001.cdf" for d in range(1, 29)]
    blobs = {}
    for name in names:
        key = f"imap/mag/l1a/2025/01/{name}"
        blobs[key] = name.encode() * 50
        serve(key, blobs[key])
    results, _ = run(names, tmp_path, jobs=8)
    assert [r.key for r in results] == list(blobs)
    for key, data in blobs.items():
        assert (tmp_path / "data" / key).read_bytes() == data
    assert parts_left(tmp_path) == []


def test_plain_md5() -> None:
    digest = "0123456789abcdef0123456789ABCDEF"
    assert objects.plain_md5(f'"{digest}"') == digest.lower()
    assert objects.plain_md5(f'W/"{digest}"') is None
    assert objects.plain_md5(f'"{digest}-12"') is None
    assert objects.plain_md5("1a2b-40000000") is None
    assert objects.plain_md5(None) is None


# --- robustness: a raising progress handler, SDC outages, secrets, long names, Ctrl-C -------------


def run_bounded(target, timeout: float = 20.0):
    """Run target() on a thread; fail (instead of hanging the suite) if it does not return."""
    outcome: dict = {}

    def call() -> None:
        try:
            outcome["value"] = target()
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"did not return within {timeout} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def serve_days(count: int) -> dict[str, bytes]:
    blobs = {}
    for day in range(1, count + 1):
        key = f"imap/mag/l1a/2025/01/imap_mag_l1a_norm-mago_202501{day:02d}_v001.0001.cdf"
        blobs[key] = key.encode() * 20
        serve(key, blobs[key])
    return blobs


@pytest.mark.parametrize("stage", [Stage.DONE, Stage.PROGRESS, Stage.STARTED, Stage.PLANNED])
@pytest.mark.parametrize("error", [RuntimeError("handler bug"), BrokenPipeError(32, "EPIPE")])
@responses.activate
def test_a_raising_progress_handler_changes_no_result_and_never_hangs(
    tmp_path: Path, stage: Stage, error: Exception
) -> None:
    blobs = serve_days(6)
    calls: list[TransferEvent] = []

    def sink(event: TransferEvent) -> None:
        calls.append(event)
        if event.stage == stage:
            raise error

    results = run_bounded(
        lambda: pipeline.download_files(
            make_client(), list(blobs), data_dir=tmp_path / "data", jobs=2, on_event=sink
        )
    )
    # Every file once, in order, downloaded: the handler's failure is not the file's.
    assert [(r.key, r.status) for r in results] == [(key, "downloaded") for key in blobs]
    for key, data in blobs.items():
        assert (tmp_path / "data" / key).read_bytes() == data
    assert parts_left(tmp_path) == []
    # A handler that raised is not called again in that run.
    assert calls[-1].stage == stage


@responses.activate
def test_a_handler_failing_on_failures_too_still_settles_every_file_once(tmp_path: Path) -> None:
    blobs = serve_days(4)
    responses.get(f"{SDC}/download/{MAG_KEY}", status=404, body="nope")

    def sink(event: TransferEvent) -> None:
        if event.stage in (Stage.DONE, Stage.FAILED):
            raise BrokenPipeError(32, "EPIPE")

    results = run_bounded(
        lambda: pipeline.download_files(
            make_client(), [*blobs, MAG], data_dir=tmp_path / "data", jobs=2, on_event=sink
        )
    )
    assert [r.status for r in results] == ["downloaded"] * 4 + ["failed"]
    assert isinstance(results[-1].error, errors.NotFound)


@responses.activate
def test_keyboard_interrupt_from_the_handler_stops_the_run_and_leaves_no_part(
    tmp_path: Path,
) -> None:
    blobs = serve_days(6)

    def sink(event: TransferEvent) -> None:
        if event.stage == Stage.PROGRESS:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_bounded(
            lambda: pipeline.download_files(
                make_client(), list(blobs), data_dir=tmp_path / "data", jobs=2, on_event=sink
            )
        )
    assert parts_left(tmp_path) == []


@responses.activate
def test_sdc_failing_on_every_lookup_fails_the_rest_fast(tmp_path: Path) -> None:
    names = [f"imap_mag_l1a_norm-mago_202501{day:02d}_v001.0002.cdf" for day in range(1, 29)]
    for name in names:
        responses.get(
            f"{SDC}/download/imap/mag/l1a/2025/01/{name}", status=503, body="Service Unavailable"
        )
    results, _ = run(names, tmp_path, jobs=2)
    assert all(r.status == "failed" for r in results)
    assert all(isinstance(r.error, errors.Unavailable) for r in results)
    assert {r.error.message for r in results} == {results[0].error.message}
    # Only lookups already under way when the first gave up paid for the retries (1 + 2 each).
    assert len(responses.calls) <= pipeline.resolver_count(2) * 3 < len(names) * 3


@responses.activate
def test_a_503_from_the_object_host_fails_that_file_only(tmp_path: Path) -> None:
    url = f"{S3}/{MAG_KEY}"
    responses.get(f"{SDC}/download/{MAG_KEY}", status=302, headers={"Location": url})
    responses.get(url, status=503, body="Slow Down")
    blobs = serve_days(5)
    results, _ = run([MAG, *blobs], tmp_path, jobs=1)
    assert results[0].status == "failed" and isinstance(results[0].error, errors.Unavailable)
    assert [r.status for r in results[1:]] == ["downloaded"] * 5


@responses.activate
def test_a_network_failure_on_the_object_host_names_the_host_only(tmp_path: Path) -> None:
    secret_url = "http://127.0.0.1:99999/x?X-Amz-Signature=SIGSECRET"
    responses.get(f"{SDC}/download/{MAG_KEY}", status=302, headers={"Location": secret_url})
    (result,), events = run([MAG], tmp_path)
    assert result.status == "failed"
    assert isinstance(result.error, errors.ConnectionFailed)
    message = result.error.message
    assert "127.0.0.1:99999" in message
    assert "SIGSECRET" not in message and "X-Amz" not in message
    assert "cannot write" not in message
    shown = " ".join(f"{e.reason} {e.error or ''}" for e in events)
    assert "SIGSECRET" not in shown
    assert parts_left(tmp_path) == []


@responses.activate
def test_the_same_failure_during_verify_hides_the_signature_too(tmp_path: Path) -> None:
    put(tmp_path, MAG_KEY, b"here")
    secret_url = "http://127.0.0.1:99999/x?X-Amz-Signature=SIGSECRET"
    responses.get(f"{SDC}/download/{MAG_KEY}", status=302, headers={"Location": secret_url})
    (result,), _ = run([MAG], tmp_path, verify=True)
    assert result.status == "failed"
    assert "SIGSECRET" not in result.error.message and "127.0.0.1:99999" in result.error.message


def test_urls_lose_their_query_string_in_messages() -> None:
    from imap_cli.core.transfer import redact_urls

    text = "Failed to parse: https://b.s3.example/k?X-Amz-Signature=abc&X-Amz-Credential=d then"
    assert redact_urls(text) == "Failed to parse: https://b.s3.example/k?… then"
    assert redact_urls("no url here?really") == "no url here?really"


def longest_name() -> str:
    head, tail = "imap_mag_l1a_", "_20250102_v001.0002.cdf"
    return head + "x" * (255 - len(head) - len(tail)) + tail


def test_part_names_fit_in_255_bytes() -> None:
    name = longest_name()
    assert len(name.encode()) == 255
    part = datadir.part_name(name, "0123abcd")
    assert len(part.encode()) == 255 and part.endswith(".0123abcd.part")
    assert datadir.part_name(MAG, "0123abcd") == f"{MAG}.0123abcd.part"


@responses.activate
def test_the_longest_valid_name_downloads(tmp_path: Path) -> None:
    name = longest_name()
    key = f"imap/mag/l1a/2025/01/{name}"
    serve(key, b"long-named bytes")
    (result,), _ = run([name], tmp_path)
    assert result.status == "downloaded", result.reason
    assert (tmp_path / "data" / key).read_bytes() == b"long-named bytes"
    assert parts_left(tmp_path) == []


def test_ctrl_c_does_not_wait_for_lookups_that_hold_no_part(
    tmp_path: Path, silent_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = silent_server
    names = [f"imap_mag_l1a_norm-mago_202501{day:02d}_v001.0002.cdf" for day in range(1, 5)]
    # The grace and the read timeout are an hour: had Ctrl-C waited for a stuck lookup,
    # the run would not return until the guard closed the server under it.
    monkeypatch.setattr(pipeline, "INTERRUPT_GRACE", 3600.0)
    done = server.interrupt_main_when_reached()
    try:
        with pytest.raises(KeyboardInterrupt):
            run(names, tmp_path, make_client(url=server.url, timeout=3600.0), jobs=2)
    finally:
        done.set()
        server.close()
    assert server.accepted.is_set(), "no lookup reached the server"
    # Nothing held a .part, so there was nothing to wait for.
    assert not server.hung.is_set(), "Ctrl-C waited for the lookups stuck on the server"
    assert parts_left(tmp_path) == []


@responses.activate
def test_a_file_not_released_yet_gets_a_hint_about_it(tmp_path: Path) -> None:
    responses.get(
        f"{SDC}/download/{MAG_KEY}",
        status=403,
        body=f"The file {MAG_KEY} is not a part of a public release yet.",
    )
    (result,), _ = run([MAG], tmp_path)
    assert isinstance(result.error, errors.Refused)
    assert "not publicly released" in result.error.hint


@responses.activate
def test_a_bare_403_on_the_public_route_means_not_released(tmp_path: Path) -> None:
    from imap_cli.cli.hints import HINTS, hint_for

    responses.get(f"{SDC}/download/{MAG_KEY}", status=403, json={"message": "Forbidden"})
    (result,), _ = run([MAG], tmp_path)
    assert result.error.kind == errors.Failure.NOT_RELEASED
    assert result.error.message == "SDC download link: 403 Forbidden"
    hint = hint_for(result.error)
    assert hint == HINTS[errors.Failure.NOT_RELEASED] and "upload" not in hint


@responses.activate
def test_a_403_with_a_key_is_about_the_key(tmp_path: Path) -> None:
    responses.get(f"{SDC}/api-key/download/{MAG_KEY}", status=403, json={"message": "Forbidden"})
    (result,), _ = run([MAG], tmp_path, make_client(api_key="k-0123456789"))
    assert result.error.kind == errors.Failure.CREDENTIALS


# --- kept partials and shards ----------------------------------------------------------------


@pytest.mark.parametrize(
    "etag",
    ['"d41d8cd98f00b204e9800998ecf8427e"', '"d41d8cd98f00b204e9800998ecf8427e-12"', '"a/b+c=d"'],
)
def test_an_etag_survives_the_trip_through_a_file_name(etag: str) -> None:
    from imap_cli.core.download.partials import etag_tag, tag_etag

    tag = etag_tag(etag)
    assert tag is not None and "." not in tag and "/" not in tag
    assert tag_etag(tag) == etag


def test_weak_or_missing_etags_keep_nothing() -> None:
    from imap_cli.core.download.partials import etag_tag

    assert etag_tag('W/"abc"') is None and etag_tag(None) is None and etag_tag("") is None


def test_a_partial_is_claimed_by_one_process_only(tmp_path: Path) -> None:
    import os

    from imap_cli.core.download.partials import claim as _claim
    from imap_cli.core.download.partials import kept_partials

    dest = tmp_path / "imap_mag_l1a_norm-mago_20250101_v001.0001.cdf"
    dest.with_name(dest.name + ".eabc.partial").write_bytes(b"12345")
    first = _claim(dest)
    assert first is not None
    fd, part, kept = first
    os.close(fd)
    assert kept.etag == '"abc"' and kept.size == 5 and part.name.endswith(".part")
    assert _claim(dest) is None  # gone: the rename was the claim
    assert kept_partials(dest) == []


def test_release_keeps_the_longer_partial_and_never_the_final_name(tmp_path: Path) -> None:
    from imap_cli.core.download.partials import kept_partials
    from imap_cli.core.download.partials import release as _release

    dest = tmp_path / "imap_mag_l1a_norm-mago_20250101_v001.0001.cdf"
    long_part, short_part = tmp_path / "a.part", tmp_path / "b.part"
    long_part.write_bytes(b"x" * 10)
    short_part.write_bytes(b"x" * 3)
    assert _release(dest, long_part, '"abc"', 10)
    assert not _release(dest, short_part, '"abc"', 3)
    assert [p.size for p in kept_partials(dest)] == [10]
    assert not dest.exists() and not short_part.exists() and not long_part.exists()
    weak = tmp_path / "c.part"
    weak.write_bytes(b"x")
    assert not _release(dest, weak, 'W/"abc"', 1) and not weak.exists()


def test_stale_partials_and_orphaned_parts_are_cleaned(tmp_path: Path) -> None:
    import os
    import time

    from imap_cli.core.download.partials import STALE_PART, STALE_PARTIAL, clean_stale

    now = time.time()
    old_partial = tmp_path / "a.cdf.eabc.partial"
    old_part = tmp_path / "b.cdf.1234.part"
    fresh = tmp_path / "c.cdf.eabc.partial"
    final = tmp_path / "d.cdf"
    for path in (old_partial, old_part, fresh, final):
        path.write_bytes(b"x")
    os.utime(old_partial, (now - STALE_PARTIAL - 60,) * 2)
    os.utime(old_part, (now - STALE_PART - 60,) * 2)
    os.utime(final, (now - STALE_PARTIAL * 10,) * 2)
    assert clean_stale(tmp_path, now) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([final.name, fresh.name])


def test_shards_are_stable_and_checked() -> None:
    from imap_cli.core.errors import UsageError
    from imap_cli.core.shard import in_shard, parse_shard, shard_of

    key = "imap/mag/l1a/2025/01/imap_mag_l1a_norm-mago_20250101_v001.0001.cdf"
    assert shard_of(key, 7) == shard_of(key, 7)  # no per-process hash seed
    assert parse_shard("2/8") == (2, 8) and parse_shard(None) is None
    assert in_shard(key, None) and in_shard(key, (shard_of(key, 3), 3))
    for bad in ("0/3", "4/3", "1", "a/b", "-1/2"):
        with pytest.raises(UsageError):
            parse_shard(bad)
