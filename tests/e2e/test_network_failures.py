"""Certificate, proxy and outage failures against real servers, as `imap` subprocesses see them.

A TLS `imap serve` whose certificate comes from a throwaway CA, a CONNECT proxy in its own
process, gateways that answer 5xx, a server that refuses keys, ports where nothing listens,
host names that cannot resolve, data dirs that cannot be written. Each failure: its exit code,
one Error line, the hint from the cli's table, no traceback.
"""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netfaults import (
    PROXIED_HOST,
    PROXY_SECRET,
    PROXY_USER,
    TLS,
    Result,
    imap,
    make_tls,
    run_proxy,
)

from imap_cli.cli.hints import HINTS
from imap_cli.core.errors import Failure
from imap_cli.server import RunningServer, start_server

HIT = "imap_hit_l1a_pulse-height-events_20251020_v001.0000.cdf"
HIT_KEY = f"imap/hit/l1a/2025/10/{HIT}"
SDC_CONTACT = "imap-sdc@lasp.colorado.edu"


def hint(kind: Failure) -> str:
    """The first words of the table's hint for `kind`: enough to know which one was printed."""
    return HINTS[kind][:40]


def assert_failed(result: Result, code: int, message: str, kind: Failure) -> None:
    """Exit `code`, one Error line holding `message`, the hint for `kind`, no traceback."""
    assert result.code == code, result.err
    assert "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("Error: ")]
    assert errors and message in errors[-1], result.err
    assert f"Hint: {hint(kind)}" in result.err, result.err


@pytest.fixture
def tls(tmp_path: Path) -> TLS:
    return make_tls(tmp_path)


@pytest.fixture
def tls_sdc(demo_root: Path, tls: TLS) -> Iterator[RunningServer]:
    """`imap serve` over the demo archive, API and object host both on https."""
    with start_server(demo_root, ssl_context=tls.context, rescan_interval=None) as server:
        assert server.url.startswith("https://") and server.objects_url.startswith("https://")
        yield server


@pytest.fixture
def data_dir(isolated_settings: Path) -> Path:
    return Path(os.environ["IMAP_DATA_DIR"])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A bundle that does not hold the test CA (certifi's), so REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
# from the machine cannot make a test pass by accident.
def _other_bundle() -> str:
    import certifi

    return certifi.where()


NO_CA = {"REQUESTS_CA_BUNDLE": None, "CURL_CA_BUNDLE": None, "IMAP_CA_BUNDLE": None}


# --- TLS --------------------------------------------------------------------------------------


def test_without_the_ca_query_download_and_doctor_name_the_certificate(
    tls_sdc, tls, data_dir
) -> None:
    url = tls_sdc.url
    query = imap("--url", url, "query", "-i", "hit", env=NO_CA)
    assert_failed(query, 3, f"TLS certificate check failed for {url[8:]}", Failure.CERTIFICATE)
    assert query.out == ""
    download = imap("--url", url, "download", HIT_KEY, env=NO_CA)
    assert_failed(download, 3, "TLS certificate check failed", Failure.CERTIFICATE)
    assert not (data_dir / HIT_KEY).exists()
    doctor = imap("--url", url, "doctor", env=NO_CA)
    assert doctor.code == 3
    tls_line = next(line for line in doctor.out.splitlines() if " tls " in line)
    assert tls_line.startswith("problem") and "unable to get local issuer" in tls_line
    assert f"fix: {hint(Failure.CERTIFICATE)}" in doctor.out
    assert "sdc answer" not in doctor.out  # the broken link is reported once, where it breaks
    # --ca-bundle tries a bundle before it is saved.
    doctor = imap("--url", url, "doctor", "--ca-bundle", str(tls.ca_file), env=NO_CA)
    assert doctor.code == 0, doctor.out


@pytest.mark.parametrize("how", ["config set", "IMAP_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
def test_with_the_ca_everything_works_downloads_included(tls_sdc, tls, data_dir, how) -> None:
    env = dict(NO_CA)
    if how == "config set":
        assert imap("config", "set", "ca-bundle", str(tls.ca_file)).code == 0
        # The setting wins over a REQUESTS_CA_BUNDLE that does not hold the CA.
        env["REQUESTS_CA_BUNDLE"] = _other_bundle()
    elif how == "IMAP_CA_BUNDLE":
        env.update(IMAP_CA_BUNDLE=str(tls.ca_file), CURL_CA_BUNDLE=_other_bundle())
    else:
        env["REQUESTS_CA_BUNDLE"] = str(tls.ca_file)
    url = tls_sdc.url
    query = imap("--url", url, "query", "-i", "hit", "-o", "paths", env=env)
    assert query.code == 0, query.err
    assert HIT_KEY in query.out.splitlines()
    download = imap("--url", url, "download", HIT_KEY, env=env)
    assert download.code == 0, download.err
    local = data_dir / HIT_KEY
    assert local.read_bytes() == (tls_sdc.root / HIT_KEY).read_bytes()
    # The bytes came from the object host, over TLS, trusting the same CA.
    assert any(r.origin == "objects" and r.status == 200 for r in tls_sdc.requests)
    doctor = imap("--url", url, "doctor", env=env)
    assert doctor.code == 0, doctor.out + doctor.err
    assert "problem" not in doctor.out and "All is well." in doctor.err
    tls_line = next(line for line in doctor.out.splitlines() if " tls " in line)
    assert str(tls.ca_file) in tls_line


@pytest.mark.parametrize(
    ("issue", "url_host", "message", "kind"),
    [
        (
            {"identities": ("127.0.0.1",)},
            "localhost",
            "Hostname mismatch",
            Failure.CERTIFICATE_NAME,
        ),
        (
            {"identities": ("127.0.0.1",), "expired": True},
            "127.0.0.1",
            "certificate has expired",
            Failure.CERTIFICATE_EXPIRED,
        ),
    ],
)
def test_a_trusted_ca_cannot_cure_a_wrong_name_or_an_expired_certificate(
    demo_root, tmp_path, issue, url_host, message, kind
) -> None:
    import datetime as dt
    import ssl

    import trustme

    ca = trustme.CA()
    dates = {}
    if issue.get("expired"):
        now = dt.datetime.now(dt.timezone.utc)
        dates = {"not_before": now - dt.timedelta(days=30), "not_after": now - dt.timedelta(days=1)}
    cert = ca.issue_cert(*issue["identities"], **dates)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with start_server(demo_root, ssl_context=context, rescan_interval=None) as server:
        url = f"https://{url_host}:{server.port}"
        env = {**NO_CA, "IMAP_CA_BUNDLE": str(ca_file)}
        result = imap("--url", url, "query", "-i", "hit", env=env)
        assert_failed(result, 3, message, kind)
        doctor = imap("--url", url, "doctor", env=env)
        assert doctor.code == 3 and f"fix: {hint(kind)}" in doctor.out


# --- proxies ----------------------------------------------------------------------------------


def _through(server: RunningServer) -> str:
    """The server's https URL under a name only the proxy can resolve."""
    return f"https://{PROXIED_HOST}:{server.port}"


@pytest.fixture
def proxied_sdc(demo_root: Path, tls: TLS) -> Iterator[RunningServer]:
    """tls_sdc whose signed URLs name PROXIED_HOST (the server never follows a Host header)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        objects_port = probe.getsockname()[1]
    public = f"https://{PROXIED_HOST}:{objects_port}"
    with start_server(
        demo_root,
        ssl_context=tls.context,
        rescan_interval=None,
        objects_port=objects_port,
        public_objects_url=public,
    ) as server:
        yield server


def test_https_proxy_is_honoured_for_queries_and_downloads(
    proxied_sdc, tls, tmp_path, data_dir
) -> None:
    tls_sdc = proxied_sdc
    with run_proxy(tmp_path, "open", {PROXIED_HOST: "127.0.0.1"}) as proxy:
        env = {**NO_CA, "HTTPS_PROXY": proxy.url, "IMAP_CA_BUNDLE": str(tls.ca_file)}
        url = _through(tls_sdc)
        query = imap("--url", url, "query", "-i", "hit", "-o", "paths", env=env)
        assert query.code == 0, query.err
        download = imap("--url", url, "download", HIT_KEY, env=env)
        assert download.code == 0, download.err
        assert (data_dir / HIT_KEY).stat().st_size > 0
        objects_port = tls_sdc.objects_url.rsplit(":", 1)[1]
        seen = proxy.seen()
        assert f"CONNECT {PROXIED_HOST}:{tls_sdc.port}" in seen
        assert f"CONNECT {PROXIED_HOST}:{objects_port}" in seen  # the storage host too
        doctor = imap("--url", url, "doctor", env=env)
        assert doctor.code == 0, doctor.out
        assert f"through {proxy.url}" in doctor.out
        # The certificate is checked through the tunnel, against the bundle in use.
        tls_line = next(line for line in doctor.out.splitlines() if " tls " in line)
        assert tls_line.startswith("ok") and str(tls.ca_file) in tls_line
        env["IMAP_CA_BUNDLE"] = None
        doctor = imap("--url", url, "doctor", env=env)
        assert doctor.code == 3 and f"fix: {hint(Failure.CERTIFICATE)}" in doctor.out


def test_a_proxy_that_wants_a_password_gets_its_own_hint(tls_sdc, tls, tmp_path) -> None:
    with run_proxy(tmp_path, "auth", {PROXIED_HOST: "127.0.0.1"}) as proxy:
        env = {**NO_CA, "HTTPS_PROXY": proxy.url, "IMAP_CA_BUNDLE": str(tls.ca_file)}
        url = _through(tls_sdc)
        result = imap("--url", url, "query", "-i", "hit", env=env)
        assert_failed(result, 3, "the proxy wants a user name and password", Failure.PROXY_AUTH)
        # No backoff, no second try: the proxy will not change its mind.
        assert result.waits == 0 and "retrying" not in result.err
        assert proxy.seen() == [f"CONNECT {PROXIED_HOST}:{tls_sdc.port}"]
        doctor = imap("--url", url, "doctor", env=env)
        assert doctor.code == 3 and "407" in doctor.out
        assert f"fix: {hint(Failure.PROXY_AUTH)}" in doctor.out
        port = proxy.url.rsplit(":", 1)[1]
        env["HTTPS_PROXY"] = f"http://{PROXY_USER}:{PROXY_SECRET}@127.0.0.1:{port}"
        assert imap("--url", url, "query", "-i", "hit", env=env).code == 0
        doctor = imap("--url", url, "doctor", "-o", "json", env=env)
        assert doctor.code == 0 and PROXY_SECRET not in doctor.out + doctor.err
        assert f"{PROXY_USER}:****@127.0.0.1:{port}" in doctor.out


@pytest.mark.parametrize("proxy_kind", ["denies", "is not running"])
def test_a_proxy_that_refuses_gets_its_own_hint(tls_sdc, tls, tmp_path, proxy_kind) -> None:
    with run_proxy(tmp_path, "deny") as proxy:
        proxy_url = proxy.url if proxy_kind == "denies" else f"http://127.0.0.1:{_closed_port()}"
        env = {**NO_CA, "HTTPS_PROXY": proxy_url, "IMAP_CA_BUNDLE": str(tls.ca_file)}
        url = _through(tls_sdc)
        result = imap("--url", url, "download", HIT_KEY, env=env)
        assert_failed(result, 3, "through the proxy", Failure.PROXY_REFUSED)
        doctor = imap("--url", url, "doctor", env=env)
        assert doctor.code == 3 and f"fix: {hint(Failure.PROXY_REFUSED)}" in doctor.out


def test_loopback_bypasses_the_proxy(tls_sdc, tls, tmp_path) -> None:
    with run_proxy(tmp_path, "deny") as proxy:
        env = {**NO_CA, "HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url}
        env["IMAP_CA_BUNDLE"] = str(tls.ca_file)
        assert imap("--url", tls_sdc.url, "download", HIT_KEY, env=env).code == 0
        doctor = imap("--url", tls_sdc.url, "doctor", env=env)
        assert doctor.code == 0 and "direct connection" in doctor.out
        assert proxy.seen() == []


# --- outages and refusals ---------------------------------------------------------------------


def _answering(status: int):
    def middleware(app):
        def failing(environ, start_response):
            start_response(f"{status} Gateway Trouble", [("Content-Type", "application/json")])
            return [b'{"message":"Service Unavailable"}']

        return failing

    return middleware


@pytest.mark.parametrize("status", [502, 503, 504])
def test_5xx_after_retries_says_the_sdc_is_down(demo_root, status) -> None:
    with start_server(demo_root, api_middleware=_answering(status), rescan_interval=None) as sdc:
        env = {"IMAP_RETRIES": "2"}
        query = imap("--url", sdc.url, "query", "-i", "hit", env=env)
        assert_failed(query, 3, str(status), Failure.OUTAGE)
        assert SDC_CONTACT in query.err
        assert query.err.count("retrying (") == 2
        download = imap("--url", sdc.url, "download", HIT_KEY, env=env)
        assert_failed(download, 3, str(status), Failure.OUTAGE)
        assert download.err.count("Hint:") == 1


@pytest.mark.parametrize(
    ("credential", "status"), [("IMAP_API_KEY", 403), ("IMAP_ACCESS_TOKEN", 401)]
)
def test_refused_credentials_exit_4_with_one_plain_message(demo_root, credential, status) -> None:
    with start_server(demo_root, api_key="right-key-123", rescan_interval=None) as sdc:
        for args in (["query", "-i", "hit"], ["download", HIT_KEY]):
            result = imap("--url", sdc.url, *args, env={credential: "wrong-secret-999"})
            assert_failed(result, 4, str(status), Failure.CREDENTIALS)
            assert "Forbidden: Forbidden" not in result.err
            assert "Unauthorized: Unauthorized" not in result.err
            assert "wrong-secret-999" not in result.err


def test_a_refused_connection_fails_fast() -> None:
    port = _closed_port()
    # The default backoff (no IMAP_CLI_BACKOFF): five retries would take 8 s or more.
    env = {"IMAP_CLI_BACKOFF": None}
    for args in (["query", "-i", "hit"], ["download", HIT_KEY]):
        result = imap("--url", f"http://127.0.0.1:{port}", *args, env=env)
        assert_failed(result, 3, f"connection refused by 127.0.0.1:{port}", Failure.REFUSED)
        assert result.waits == 0, result.err  # no retry, so none of the 8 s of backoff
        assert "retrying" not in result.err


def test_an_unknown_host_fails_fast() -> None:
    env = {"IMAP_CLI_BACKOFF": None}
    for args in (["query", "-i", "hit"], ["download", HIT_KEY]):
        result = imap("--url", "https://no-such-sdc.invalid", *args, env=env)
        assert_failed(result, 3, "cannot resolve the host name no-such-sdc.invalid", Failure.DNS)
        assert result.waits == 0, result.err  # no retry, so none of the default backoff
    doctor = imap("--url", "https://no-such-sdc.invalid", "doctor", env=env)
    assert doctor.code == 3 and f"fix: {hint(Failure.DNS)}" in doctor.out


def test_a_waiting_download_says_it_is_retrying_on_a_terminal(demo_root) -> None:
    calls = []

    def flaky(app):
        def answer(environ, start_response):
            calls.append(1)
            if len(calls) <= 2:
                start_response("503 Service Unavailable", [("Content-Type", "application/json")])
                return [b'{"message":"Service Unavailable"}']
            return app(environ, start_response)

        return answer

    with start_server(demo_root, api_middleware=flaky, rescan_interval=None) as sdc:
        leader, follower = pty.openpty()
        env = {**os.environ, "IMAP_DATA_ACCESS_URL": sdc.url, "COLUMNS": "80", "TERM": "xterm"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "imap_cli", "download", HIT_KEY],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=follower,
            env=env,
        )
        os.close(follower)
        seen = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        os.close(leader)
        assert proc.wait(timeout=30) == 0
    text = seen.decode(errors="replace")
    # Shown above the bar (which stays at 0 files meanwhile); rich wraps it at 80 columns.
    assert "the server answered 503 Service Unavailable; retrying (1 of" in text
    assert "retrying (2 of" in text


# --- the data dir -----------------------------------------------------------------------------


def test_a_data_dir_that_is_a_file(sdc, tmp_path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    for data_dir in (blocker, blocker / "imap"):
        env = {"IMAP_DATA_DIR": str(data_dir)}
        result = imap("--url", sdc.url, "download", HIT_KEY, env=env)
        assert_failed(result, 2, str(data_dir), Failure.DATA_DIR)
        doctor = imap("--url", sdc.url, "doctor", env=env)
        assert doctor.code == 3
        line = next(line for line in doctor.out.splitlines() if " data dir " in line)
        assert line.startswith("problem") and "is a file" in line
        assert f"fix: {hint(Failure.DATA_DIR)}" in doctor.out
        assert "ok       sdc answer" in doctor.out  # the other checks still ran


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may write in: mode 0555, and the immutable flag where root ignores modes."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = False
    if os.access(folder, os.W_OK):  # root: modes do not bind it
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
        immutable = done.returncode == 0
        if not immutable:
            folder.chmod(0o755)
            pytest.skip("running as root without chattr +i: no folder is read-only here")
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_read_only_data_dir(sdc, read_only_dir) -> None:
    env = {"IMAP_DATA_DIR": str(read_only_dir)}
    result = imap("--url", sdc.url, "download", HIT_KEY, env=env)
    assert_failed(result, 2, "not writable", Failure.DATA_DIR)
    doctor = imap("--url", sdc.url, "doctor", env=env)
    assert doctor.code == 3 and "is not writable" in doctor.out


def test_uploads_trust_the_ca_bundle_too(tls_sdc, tls, tmp_path) -> None:
    name = "imap_mag_l1a_norm-mago_20250102_v009.0001.cdf"
    source = tmp_path / name
    source.write_bytes(b"fresh bytes" * 100)
    failed = imap("--url", tls_sdc.url, "upload", str(source), env=NO_CA)
    assert_failed(failed, 3, "TLS certificate check failed", Failure.CERTIFICATE)
    env = {**NO_CA, "IMAP_CA_BUNDLE": str(tls.ca_file)}
    done = imap("--url", tls_sdc.url, "upload", str(source), env=env)
    assert done.code == 0, done.err
    stored = tls_sdc.root / "imap/mag/l1a/2025/01" / name
    assert stored.read_bytes() == source.read_bytes()  # the PUT went to the https object host


def test_many_files_failing_for_one_cause_give_it_once() -> None:
    keys = [f"imap/hit/l1a/2025/10/imap_hit_l1a_sectorates_202510{d:02d}_v001.0000.cdf" for d in
            range(1, 11)]  # fmt: skip
    result = imap("--url", "https://no-such-sdc.invalid", "download", *keys)
    assert result.code == 3 and result.out == ""
    cause = "cannot resolve the host name no-such-sdc.invalid"
    assert result.err.count(cause) == 2  # once as it happened, once in the summary
    assert "10 files failed: " in result.err and "and 9 more; -v lists each" in result.err
    assert result.err.count("Hint: ") == 1 and "Traceback" not in result.err
    every = imap("--url", "https://no-such-sdc.invalid", "download", "-v", *keys)
    assert every.err.count(cause) >= 20 and all(key in every.err for key in keys)
