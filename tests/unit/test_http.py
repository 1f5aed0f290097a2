"""The HTTP layer: routes, credentials kept to the SDC origin, retries, error mapping."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import requests
import responses
from quiet_http import QuietHTTPServer

from imap_cli.cli.errors import ExitCode, exit_code_for
from imap_cli.core import errors
from imap_cli.core.http import SDCClient, is_loopback, origin_of, server_message
from imap_cli.core.settings import resolve

SDC = "https://sdc.example"
S3 = "https://bucket.s3.example"


def make_client(**changes) -> tuple[SDCClient, list[float]]:
    settings = replace(resolve(), **{"url": SDC, "retries": 3, **changes})
    slept: list[float] = []
    return SDCClient(settings, sleep=slept.append), slept


@pytest.mark.parametrize(
    ("changes", "base", "header"),
    [
        ({}, SDC, None),
        ({"api_key": "k-123456789"}, SDC + "/api-key", ("x-api-key", "k-123456789")),
        (
            {"access_token": "tok-123456"},
            SDC + "/authorized",
            ("Authorization", "Bearer tok-123456"),
        ),
        ({"api_key": "k-1", "access_token": "t-1"}, SDC + "/api-key", ("x-api-key", "k-1")),
        ({"url": SDC + "/api-key", "api_key": "k-1"}, SDC + "/api-key", ("x-api-key", "k-1")),
    ],
)
@responses.activate
def test_route_prefix_and_header(changes, base, header) -> None:
    client, _ = make_client(**changes)
    assert client.base_url == base
    responses.get(f"{base}/query", json=[])
    assert client.get_json(client.api_url("query"), params={"instrument": "mag"}) == []
    sent = responses.calls[0].request.headers
    if header:
        assert sent[header[0]] == header[1]
    else:
        assert "x-api-key" not in sent and "Authorization" not in sent


@responses.activate
def test_storage_requests_never_carry_credentials(tmp_path: Path, monkeypatch) -> None:
    # A ~/.netrc entry for the storage host must not be picked up either.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine bucket.s3.example login user password pw\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client, _ = make_client(api_key="secret-key-1", access_token="secret-token-2")
    responses.get(f"{S3}/obj", body=b"data")
    responses.put(f"{S3}/redirected", status=200)
    responses.put(f"{S3}/up", status=307, headers={"Location": f"{S3}/redirected"})
    client.storage("GET", f"{S3}/obj", headers={"x-api-key": "secret-key-1", "Range": "bytes=0-"})
    client.storage("PUT", f"{S3}/up", data=b"abc", headers={"Authorization": "Bearer x"})
    assert [c.request.url for c in responses.calls] == [
        f"{S3}/obj",
        f"{S3}/up",
        f"{S3}/redirected",
    ]
    for call in responses.calls:
        names = {k.lower() for k in call.request.headers}
        assert "x-api-key" not in names and "authorization" not in names
    assert responses.calls[0].request.headers["Range"] == "bytes=0-"
    assert responses.calls[2].request.body == b"abc"


def test_credential_is_refused_for_another_origin() -> None:
    client, _ = make_client(api_key="secret-key-1")
    with pytest.raises(errors.UnsafeRequest) as caught:
        client.api("GET", "https://evil.example/query")
    assert "evil.example" in caught.value.message and "secret" not in caught.value.message


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8765", True),
        ("http://localhost:8765", True),
        ("http://[::1]:8765", True),
        ("http://sdc.example", False),
        ("http://10.0.0.5", False),
    ],
)
@responses.activate
def test_credential_over_plain_http_only_to_loopback(url: str, allowed: bool) -> None:
    client, _ = make_client(url=url, api_key="secret-key-1")
    responses.get(f"{client.base_url}/query", json=[])
    if allowed:
        assert client.get_json(client.api_url("query")) == []
    else:
        with pytest.raises(errors.UnsafeRequest) as caught:
            client.get_json(client.api_url("query"))
        assert "plain http" in caught.value.message
        assert len(responses.calls) == 0


@responses.activate
def test_retries_transient_statuses_then_succeeds() -> None:
    client, slept = make_client()
    url = client.api_url("query")
    responses.get(url, status=502, body="Bad Gateway")
    responses.get(url, status=503, body="Service Unavailable")
    responses.get(url, json=[{"file_path": "x"}])
    assert client.get_json(url) == [{"file_path": "x"}]
    assert len(slept) == 2 and all(0 < s <= 8 for s in slept)


@responses.activate
def test_gives_up_after_retries_with_the_502_hint() -> None:
    client, slept = make_client()
    url = client.api_url("query")
    responses.get(url, status=502, json={"message": "Internal server error"})
    with pytest.raises(errors.Unavailable) as caught:
        client.get_json(url)
    assert len(responses.calls) == 4 and len(slept) == 3
    assert "502" in caught.value.message and "Internal server error" in caught.value.message
    assert exit_code_for(caught.value) == ExitCode.UNAVAILABLE
    assert "imap-sdc@lasp.colorado.edu" in caught.value.hint


@responses.activate
def test_retry_after_is_honoured() -> None:
    client, slept = make_client()
    url = client.api_url("query")
    responses.get(url, status=429, headers={"Retry-After": "3"})
    responses.get(url, json=[])
    client.get_json(url)
    assert slept == [3.0]


@responses.activate
def test_put_retry_reopens_the_body(tmp_path: Path) -> None:
    client, _ = make_client()
    source = tmp_path / "f.bin"
    source.write_bytes(b"x" * 1000)
    opened = []

    def body():
        handle = source.open("rb")
        opened.append(handle)
        return handle

    responses.put(f"{S3}/up", status=503)
    responses.put(f"{S3}/up", status=200)
    assert client.storage("PUT", f"{S3}/up", data=body).status_code == 200
    assert len(opened) == 2 and all(h.closed for h in opened)


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (400, '"instrument is not a valid query parameter"', errors.BadRequest, "instrument is"),
        (401, '{"message":"Unauthorized"}', errors.Refused, "Unauthorized"),
        (403, '{"message":"Forbidden"}', errors.Refused, "Forbidden"),
        (404, '{"message":"Not Found"}', errors.Unavailable, "has no SDC API at this url"),
        (409, '{"error":"FileAlreadyExists","message":"exists"}', errors.Conflict, "exists"),
    ],
)
@responses.activate
def test_status_mapping(status, body, error, text) -> None:
    client, _ = make_client()
    url = client.api_url("query")
    responses.get(url, status=status, body=body)
    with pytest.raises(error) as caught:
        client.get_json(url)
    assert text in caught.value.message and str(status) in caught.value.message
    assert len(responses.calls) == 1


@responses.activate
def test_body_that_is_not_json() -> None:
    client, _ = make_client()
    url = client.api_url("query")
    responses.get(url, body="<html>oops</html>", content_type="text/html")
    with pytest.raises(errors.BadResponse) as caught:
        client.get_json(url)
    assert "not JSON" in caught.value.message


def test_connection_refused_is_named(unused_port: int) -> None:
    client, slept = make_client(url=f"http://127.0.0.1:{unused_port}")
    with pytest.raises(errors.ConnectionFailed) as caught:
        client.get_json(client.api_url("query"))
    assert "connection refused" in caught.value.message
    # Nothing listens there: another attempt cannot help, so there is no backoff at all.
    assert caught.value.kind == errors.Failure.REFUSED and slept == []


@responses.activate
def test_tls_failure_gets_the_certificate_hint() -> None:
    client, _ = make_client()
    url = client.api_url("query")
    responses.get(url, body=requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"))
    with pytest.raises(errors.TLSError) as caught:
        client.get_json(url)
    assert "certifi" in caught.value.hint and "REQUESTS_CA_BUNDLE" in caught.value.hint


@responses.activate
def test_dns_failure_and_timeout_are_named() -> None:
    client, _ = make_client()
    url = client.api_url("query")
    responses.get(url, body=requests.exceptions.ConnectionError("Name or service not known"))
    with pytest.raises(errors.ConnectionFailed, match="cannot resolve"):
        client.get_json(url)
    responses.replace(responses.GET, url, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(errors.ConnectionFailed, match="did not answer in time"):
        client.get_json(url)


def test_server_message_shapes() -> None:
    def response(body: str) -> requests.Response:
        r = requests.Response()
        r._content = body.encode()
        r.status_code = 400
        return r

    assert server_message(response('"plain json string"')) == "plain json string"
    assert server_message(response('{"message": "m"}')) == "m"
    xml = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    assert server_message(response(xml)) == "AccessDenied: Request has expired"
    assert server_message(response("a\n  b")) == "a b"
    assert len(server_message(response("x" * 1000))) == 400


def test_origin_and_loopback() -> None:
    assert origin_of("https://A.example/x") == ("https", "a.example", 443)
    assert origin_of("http://h:81/") == ("http", "h", 81)
    assert is_loopback("127.0.0.2") and is_loopback("localhost") and not is_loopback("8.8.8.8")


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_loopback_requests_bypass_environment_proxies(monkeypatch) -> None:
    import http.server
    import threading

    seen: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("x-api-key", ""))
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    servers = [QuietHTTPServer(("127.0.0.1", 0), Recorder) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    sdc, proxy = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("ALL_PROXY", proxy)
        client, _ = make_client(url=sdc, api_key="secret-key-1")
        assert client.get_json(client.api_url("query")) == []
    finally:
        for server in servers:
            server.shutdown()
    # Only the SDC itself answered: the "proxy" never saw the request or the key.
    assert seen == ["secret-key-1"]


def test_server_text_cannot_drive_the_terminal() -> None:
    r = requests.Response()
    r._content = b'"\\u001b]0;owned\\u0007\\u001b[2Jgone \\u202eevil"'
    r.status_code = 400
    message = server_message(r)
    assert "\x1b" not in message and "\x07" not in message and "\u202e" not in message
    assert message.endswith("evil")


def test_backoff_in_a_cancelled_worker_ends_at_once() -> None:
    import threading

    from imap_cli.core import retry

    class Flag(threading.Event):
        """A cancel flag that tells when, and for how long, someone waits on it."""

        def __init__(self) -> None:
            super().__init__()
            self.waiting = threading.Event()
            self.asked: list[float | None] = []

        def wait(self, timeout: float | None = None) -> bool:
            self.asked.append(timeout)
            self.waiting.set()
            return super().wait(timeout)

    settings = replace(resolve(), url=SDC)
    client = SDCClient(settings)  # the real sleep: the wait must end on the flag, not the clock
    cancel = Flag()
    outcome: list[str] = []

    def worker() -> None:
        retry.bind_cancel(cancel)
        try:
            client.retry.wait(0, 3600.0)  # an hour: only the flag can end it in time
        except retry.TransferCancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    assert cancel.waiting.wait(30), "the backoff never waited on the cancel flag"
    cancel.set()  # while the worker is inside its hour-long wait
    thread.join(30)  # a deadlock guard only: the wait it interrupts is an hour
    assert not thread.is_alive() and outcome == ["cancelled"]
    assert cancel.asked == [3600.0]


@responses.activate
def test_a_caller_can_take_a_status_out_of_the_retries() -> None:
    from imap_cli.core.retry import RETRY_STATUSES

    client, slept = make_client()
    url = client.api_url("query")
    responses.get(url, status=500, json={"message": "Internal Server Error"})
    # A caller that can cure a 500 itself (a too-large answer, by splitting) wants it at once.
    with pytest.raises(errors.Unavailable) as caught:
        client.api("GET", url, retry_statuses=RETRY_STATUSES - {500})
    assert caught.value.status == 500 and len(responses.calls) == 1 and slept == []
    # By default the same answer is retried.
    with pytest.raises(errors.Unavailable):
        client.api("GET", url)
    assert len(responses.calls) == 1 + 4 and len(slept) == 3


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (403, '{"message":"Forbidden"}', "query: 403 Forbidden"),
        (404, "Not Found.", "query: 404 Not Found"),
        (403, '{"message":"Key expired"}', "query: 403 Forbidden: Key expired"),
    ],
)
@responses.activate
def test_a_status_word_is_not_repeated_by_the_server_text(status, body, shown) -> None:
    client, _ = make_client()
    url = f"{SDC}/download/x"
    responses.get(url, status=status, body=body)
    with pytest.raises(errors.SDCError) as caught:
        client.api("GET", url, what="query")
    assert caught.value.message == shown


def test_ca_bundle_setting_wins_over_requests_ca_bundle(tmp_path: Path, monkeypatch) -> None:
    from imap_cli.core.http import ca_bundle_in_use

    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read here")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/elsewhere.pem")
    client, _ = make_client(ca_bundle=str(bundle))
    assert client.verify() == str(bundle)
    assert ca_bundle_in_use(client.settings)[0] == str(bundle)
    client, _ = make_client()
    assert client.verify() is True  # requests then reads REQUESTS_CA_BUNDLE itself
    assert ca_bundle_in_use(client.settings) == ("/elsewhere.pem", "env:REQUESTS_CA_BUNDLE")


@responses.activate
def test_a_resolver_that_did_not_answer_is_retried_a_missing_name_is_not() -> None:
    client, slept = make_client()
    url = client.api_url("query")
    temporary = (
        "HTTPSConnectionPool: NameResolutionError: [Errno -3] Temporary failure in name resolution"
    )
    responses.get(url, body=requests.exceptions.ConnectionError(temporary))
    with pytest.raises(errors.ConnectionFailed) as caught:
        client.get_json(url)
    assert caught.value.kind == errors.Failure.DROPPED and len(slept) == 3  # every retry used
    slept.clear()
    missing = "NameResolutionError: [Errno -2] Name or service not known"
    responses.replace(responses.GET, url, body=requests.exceptions.ConnectionError(missing))
    with pytest.raises(errors.ConnectionFailed) as caught:
        client.get_json(url)
    assert caught.value.kind == errors.Failure.DNS and slept == []


@pytest.mark.parametrize("cancelled", [False, True])
@responses.activate
def test_a_worker_of_a_cancelled_run_sends_nothing(cancelled: bool) -> None:
    # A lookup or transfer that passed its run's own cancel check before Ctrl-C must still not
    # send: download_files may have returned by then, and the request would land after it.
    import threading

    from imap_cli.core.retry import TransferCancelled
    from imap_cli.core.workers import WorkerPool

    client, _ = make_client()
    responses.get(f"{SDC}/query", json=[])
    responses.get(f"{S3}/object", body=b"bytes")
    cancel = threading.Event()
    if cancelled:
        cancel.set()
    pool = WorkerPool(1, "test-worker", cancel=cancel)
    try:
        asked = pool.submit(client.api, "GET", client.api_url("query"))
        fetched = pool.submit(client.storage, "GET", f"{S3}/object")
        for future in (asked, fetched):
            if cancelled:
                with pytest.raises(TransferCancelled):
                    future.result(timeout=60)
            else:
                assert future.result(timeout=60).status_code == 200
    finally:
        pool.stop()
    assert len(responses.calls) == (0 if cancelled else 2)
