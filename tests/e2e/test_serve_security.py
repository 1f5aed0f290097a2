"""`imap serve` as a team mirror on a lab network: what a hostile client must not be able to do
(write without a credential, read outside the archive, exhaust memory, lock out the others).
Real sockets on 127.0.0.1 (and 127.0.0.2 as a second client address)."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from imap_cli.server import RunningServer, ServerConfig, start_server
from imap_cli.server.config import ConfigProblem
from imap_cli.server.runner import MAX_RECORDS, RECORDED_CHARS
from imap_cli.server.signing import masked_query

KEY = "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251001_v001.0000.cdf"
NEW = "imap_mag_l1a_norm-mago_20250102_v001.0002.cdf"
NEW_KEY = f"imap/mag/l1a/2025/01/{NEW}"
SECRET = "team-secret-key"
TOKEN = "team-token"
IMAP = [sys.executable, "-m", "imap_cli"]
POSIX = pytest.mark.skipif(os.name == "nt", reason="POSIX sockets, signals and /proc")


def _raw(port: int, data: bytes, *, source: str = "127.0.0.1") -> bytes:
    """Send `data` on a fresh connection and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0)) as s:
        # The server may answer (and close) before the whole request is sent.
        with contextlib.suppress(OSError):
            s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass
        return b"".join(chunks)


# --- 1. credentials mean what they say ------------------------------------------------------


@pytest.fixture
def token_only(demo_root: Path) -> Iterator[RunningServer]:
    with start_server(demo_root, access_token=TOKEN) as server:
        yield server


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api-key/upload/{NEW}"),
        ("POST", "/api-key/reprocess?start_date=20250101&end_date=20250102"),
        ("GET", "/api-key/release?release_type=release&manifest_file=x.txt"),
        ("GET", "/api-key/query?instrument=mag"),
        ("GET", f"/api-key/download/{KEY}"),
    ],
)
def test_a_token_alone_does_not_open_the_api_key_routes(token_only, method, path):
    response = requests.request(method, token_only.url + path, allow_redirects=False)
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert not (token_only.root / NEW_KEY).exists()


def test_a_token_server_takes_uploads_with_the_token_only(token_only: RunningServer):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(f"{token_only.url}/authorized/upload/{NEW}").status_code == 401
    url = requests.get(f"{token_only.url}/authorized/upload/{NEW}", headers=bearer).json()
    assert requests.put(url, data=b"abc").status_code == 200
    assert requests.get(f"{token_only.url}/upload/{NEW}x").status_code == 404


@pytest.mark.parametrize("field", ["api_key", "access_token"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_credential_is_refused(demo_root: Path, field: str, value: str):
    with pytest.raises(ConfigProblem) as caught:
        ServerConfig(demo_root, **{field: value})
    assert caught.value.field == field


def test_no_credential_beyond_loopback_needs_the_explicit_flag(demo_root: Path):
    with pytest.raises(ConfigProblem):
        ServerConfig(demo_root, host="0.0.0.0")
    ServerConfig(demo_root, host="0.0.0.0", allow_anonymous_writes=True)
    ServerConfig(demo_root, host="0.0.0.0", api_key=SECRET)
    ServerConfig(demo_root, host="::1")
    ServerConfig(demo_root, host="localhost")


def _serve_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*IMAP, "serve", *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {
        **os.environ,
        "IMAP_CLI_CONFIG": str(tmp_path / "config.toml"),
        "IMAP_DATA_DIR": str(tmp_path / "data"),
    }
    environment.pop("IMAP_SERVE_API_KEY", None)
    environment.pop("IMAP_SERVE_ACCESS_TOKEN", None)
    return environment


@pytest.mark.parametrize(
    ("args", "extra_env", "message", "hint"),
    [
        (["--api-key", ""], {}, "Error: the API key is empty", "IMAP_SERVE_API_KEY"),
        ([], {"IMAP_SERVE_API_KEY": ""}, "Error: the API key is empty", "--api-key-file"),
        (["--access-token", " "], {}, "Error: the access token is empty", "token"),
        (["--api-key-file", "{empty}"], {}, "Error: the API key is empty", "--api-key-file"),
        (
            ["--host", "0.0.0.0"],
            {},
            "Error: --host 0.0.0.0 reaches beyond this machine, and there is no key or token",
            "--allow-anonymous-writes",
        ),
        (["--api-key-file", "/no/such/file"], {}, "Error: cannot read --api-key-file", "file"),
        (["--tls-cert", "{empty}"], {}, "Error: --tls-cert and --tls-key go together", "both"),
        (["--max-upload-size", "lots"], {}, "Error: --max-upload-size lots is not a size", "5G"),
        (["--public-url", "mirror:1"], {}, "Error: --public-url mirror:1 is not an", "https://"),
    ],
)
@POSIX
def test_a_bad_set_up_is_one_line_a_hint_and_exit_2(
    env: dict[str, str], tmp_path: Path, args, extra_env, message, hint
):
    empty = tmp_path / "empty"
    empty.write_text("")
    args = [a.replace("{empty}", str(empty)) for a in args]
    result = _serve_cli(["--demo", "--port", "0", *args], {**env, **extra_env})
    assert result.returncode == 2, result.stderr
    first, second = result.stderr.splitlines()[:2]
    assert first.startswith(message) and second.startswith("Hint:") and hint in second
    assert "Traceback" not in result.stderr


class _Served:
    """`imap serve` in a process, up to its "Ctrl-C" line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*IMAP, "serve", *args], stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: list[str] = []
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C"):
                break
        self.url = next(
            (line.rsplit(" at ", 1)[1] for line in self.lines if line.startswith("Serving ")), ""
        )
        assert self.url, self.lines

    def stop(self) -> str:
        self.proc.terminate()
        rest = self.proc.stderr.read()
        self.proc.wait(timeout=20)
        return "\n".join(self.lines) + "\n" + rest


@POSIX
def test_an_open_server_says_that_anyone_may_upload(env: dict[str, str]):
    served = _Served(["--demo", "--port", "0"], env)
    text = served.stop()
    assert "No key or token: anyone who can reach this server may upload files" in text


@POSIX
def test_the_key_from_a_file_is_required_and_never_logged(env: dict[str, str], tmp_path: Path):
    key_file = tmp_path / "key"
    key_file.write_text(SECRET + "\n")
    served = _Served(["--demo", "--port", "0", "--api-key-file", str(key_file)], env)
    try:
        assert requests.get(f"{served.url}/api-key/upload/{NEW}").status_code == 403
        ok = requests.get(f"{served.url}/api-key/upload/{NEW}", headers={"x-api-key": SECRET})
        assert ok.status_code == 200
        # A key sent in a query string (by mistake) is masked in the log.
        requests.get(f"{served.url}/query", params={"instrument": "mag", "api_key": SECRET})
    finally:
        text = served.stop()
    assert "anyone who can reach" not in text
    assert SECRET not in text and "api_key=****" in text


def test_key_like_parameters_are_masked_and_long_queries_cut():
    assert masked_query("instrument=mag&api_key=abc&X-Amz-Signature=ff&Token=t") == (
        "instrument=mag&api_key=****&X-Amz-Signature=****&Token=****"
    )
    assert len(masked_query("a=" + "x" * 100_000)) < 600


# --- 2. bounded memory and logs -----------------------------------------------------------------


def test_records_keep_a_few_cut_headers_and_stay_bounded(demo_root: Path):
    log = io.StringIO()
    with start_server(demo_root, log=log) as server:
        headers = {f"X-Pad-{i}": "p" * 1000 for i in range(40)}
        headers["User-Agent"] = "u" * 5000
        requests.get(f"{server.url}/nowhere/{'n' * 9000}?q={'z' * 9000}", headers=headers)
        (record,) = list(server.requests)
        assert set(record.headers) <= {"user-agent", "host", "accept", "accept-encoding",
                                       "connection"}  # fmt: skip
        assert len(record.headers["user-agent"]) <= RECORDED_CHARS + 3
        assert len(record.path) < 2100 and len(record.query) < 2100
        line = log.getvalue()
        assert len(line) < 1500  # the log line is cut too
        for _ in range(MAX_RECORDS // 1000):
            for _ in range(1000):
                server.requests.append(record)
        assert len(server.requests) <= MAX_RECORDS
        assert server.requests.bytes <= server.requests.max_bytes


def test_the_reprocess_queue_is_bounded(demo_root: Path):
    with start_server(demo_root) as server:
        queue = server.operations.reprocess_requests
        for n in range(5):
            requests.post(f"{server.url}/api-key/reprocess", params={f"p{n}": "v" * 10_000})
        assert all(len(value) <= 256 for r in queue for value in r["params"].values())
        assert queue.maxlen is not None and queue.maxlen <= 1000


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


SERVER_SCRIPT = textwrap.dedent(
    """
    import resource, sys, threading
    from imap_cli.server import start_server
    from imap_cli.server.demo import build_demo
    limit = int(sys.argv[2])
    if limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    build_demo(sys.argv[1])
    options = eval(sys.argv[3])
    server = start_server(sys.argv[1], **options)
    print(server.url, server.objects_url, flush=True)
    sys.stdin.read()  # until the test closes stdin
    server.stop()
    """
)


class _ServerProcess:
    def __init__(self, root: Path, *, nofile: int = 0, **options: object) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER_SCRIPT, str(root), str(nofile), repr(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url, self.objects_url = self.proc.stdout.readline().split()

    def port(self, which: str = "api") -> int:
        return urlsplit(self.url if which == "api" else self.objects_url).port

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_header_bomb_does_not_grow_the_servers_memory(tmp_path: Path):
    server = _ServerProcess(tmp_path / "archive")
    try:
        requests.get(f"{server.url}/query?instrument=mag")  # warm up: imports, caches
        before = _rss_kib(server.proc.pid)
        pad = "h" * 64_000
        bomb = "".join(f"X-Pad-{i}: {pad}\r\n" for i in range(95)).encode()
        for which in ("api", "objects"):
            for _ in range(60 if which == "api" else 30):
                answer = _raw(
                    server.port(which), b"GET /nowhere HTTP/1.1\r\nHost: x\r\n" + bomb + b"\r\n"
                )
                assert answer == b"" or answer.startswith(b"HTTP/1.")
        after = _rss_kib(server.proc.pid)
        assert requests.get(f"{server.url}/query?instrument=mag").status_code == 200
    finally:
        server.stop()
    print(f"header bomb: RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB")
    assert after - before < 40 * 1024  # was +490 MiB for the API part alone


# --- 3. bad input is a 4xx ----------------------------------------------------------------------


@pytest.fixture
def open_server(demo_root: Path) -> Iterator[RunningServer]:
    with start_server(demo_root, rescan_interval=0) as server:
        yield server


@pytest.mark.parametrize(
    "query",
    ["limit=99999999999999999999999", "offset=99999999999999999999999", "limit=-5", "offset=-1",
     "limit=" + "9" * 5000, "limit=1e3"],
)  # fmt: skip
def test_bad_limit_or_offset_is_400(open_server: RunningServer, query: str):
    response = requests.get(f"{open_server.url}/query?instrument=mag&{query}")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "header",
    ["bytes=1-x", "bytes=99999999999999999999999999-", "bytes=-99999999999999999999999",
     "bytes=" + "9" * 5000 + "-", "bytes=5-1", "pages=1-2", "bytes=,,,"],
)  # fmt: skip
def test_a_malformed_range_is_never_a_500(open_server: RunningServer, header: str):
    location = requests.get(f"{open_server.url}/download/{KEY}", allow_redirects=False).headers[
        "Location"
    ]
    assert requests.get(location, headers={"Range": header}).status_code in (200, 206, 416)


@pytest.mark.parametrize("length", ["abc", "-5", "²", "9" * 40, "1 2"])
def test_a_malformed_content_length_is_a_4xx(open_server: RunningServer, length: str):
    url = requests.get(f"{open_server.url}/upload/{NEW}").json()
    parts = urlsplit(url)
    request = (
        f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = _raw(parts.port, request)
    assert answer.split(b" ", 2)[1][:1] == b"4", answer[:200]
    api = _raw(
        urlsplit(open_server.url).port,
        f"GET /query?instrument=mag HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert not api.startswith(b"HTTP/1.1 5"), api[:200]


def test_error_answers_say_nosniff(demo_root: Path):
    with start_server(demo_root, api_key=SECRET) as server:
        server.catalogue.mark_unreleased(KEY)
        refused = requests.get(f"{server.url}/download/{KEY}", allow_redirects=False)
        assert refused.status_code == 403
        assert refused.headers["X-Content-Type-Options"] == "nosniff"
        assert "<" not in refused.text
        for answer in (
            requests.get(f"{server.url}/api-key/query"),
            requests.get(f"{server.objects_url}/sds-data-local/{KEY}"),
        ):
            assert answer.status_code >= 400
            assert answer.headers["X-Content-Type-Options"] == "nosniff"


# --- 4. only what is inside the archive, when it is opened ---------------------------------------


@POSIX
@pytest.mark.parametrize("swap", ["file", "folder"])
def test_a_link_swapped_in_after_indexing_is_refused(
    open_server: RunningServer, tmp_path: Path, swap: str
):
    outside = tmp_path / "outside"
    (outside / "10").mkdir(parents=True)
    secret = outside / "10" / Path(KEY).name
    secret.write_bytes(b"outside the archive")
    location = requests.get(f"{open_server.url}/download/{KEY}", allow_redirects=False).headers[
        "Location"
    ]
    assert requests.get(location).status_code == 200
    target = open_server.root / KEY
    if swap == "file":
        target.unlink()
        target.symlink_to(secret)
    else:
        folder = target.parent
        os.rename(folder, tmp_path / "moved-away")
        folder.symlink_to(outside / "10", target_is_directory=True)
    response = requests.get(location)  # the URL signed before the swap
    assert response.status_code == 404 and b"outside the archive" not in response.content


# --- 5. signed URLs use the configured public URL -----------------------------------------------


@pytest.mark.parametrize("same_origin", [False, True])
def test_signed_urls_use_the_public_url(demo_root: Path, same_origin: bool):
    options = {"objects_port": None} if same_origin else {}
    with start_server(demo_root, public_url="https://mirror.example.org:9443", **options) as s:
        location = requests.get(
            f"{s.url}/download/{KEY}", headers={"Host": "evil.example"}, allow_redirects=False
        ).headers["Location"]
        port = 9443 if same_origin else urlsplit(s.objects_url).port
        assert location.startswith(f"https://mirror.example.org:{port}/sds-data-local/")
        upload = requests.get(f"{s.url}/upload/{NEW}", headers={"Host": "evil.example"}).json()
        assert upload.startswith(f"https://mirror.example.org:{port}/")


def test_a_public_objects_url_is_used_as_given(demo_root: Path):
    with start_server(demo_root, public_objects_url="https://objects.example.org") as s:
        location = requests.get(f"{s.url}/download/{KEY}", allow_redirects=False).headers[
            "Location"
        ]
        assert location.startswith("https://objects.example.org/sds-data-local/imap/")


# --- 6. disk --------------------------------------------------------------------------------------


def test_one_put_at_a_time_per_upload_url(open_server: RunningServer):
    url = requests.get(f"{open_server.url}/upload/{NEW}").json()
    parts = urlsplit(url)
    first = socket.create_connection(("127.0.0.1", parts.port), timeout=30)
    try:
        first.sendall(
            f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 6\r\n\r\nabc".encode()
        )
        # The first PUT is in flight once its temporary file exists.
        folder = open_server.root / NEW_KEY.rsplit("/", 1)[0]
        while not (folder.is_dir() and any(p.suffix == ".part" for p in folder.iterdir())):
            threading.Event().wait(0.01)
        second = requests.put(url, data=b"xyz")
        assert second.status_code == 409 and "<Code>OperationAborted</Code>" in second.text
        first.sendall(b"def")
        assert first.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        first.close()
    assert (open_server.root / NEW_KEY).read_bytes() == b"abcdef"


def test_upload_size_and_free_space_limits(demo_root: Path):
    with start_server(demo_root, max_upload_size=10) as server:
        url = requests.get(f"{server.url}/upload/{NEW}").json()
        too_big = requests.put(url, data=b"x" * 11)
        assert too_big.status_code == 400 and "<Code>EntityTooLarge</Code>" in too_big.text
        assert requests.put(url, data=b"x" * 10).status_code == 200
    with start_server(demo_root, min_free_space=2**62) as server:
        url = requests.get(f"{server.url}/upload/{NEW.replace('0002', '0003')}").json()
        full = requests.put(url, data=b"abc")
        assert full.status_code == 507 and "<Code>InsufficientStorage</Code>" in full.text
        assert not any(p.name.endswith(".part") for p in demo_root.rglob(".*"))


@POSIX
def test_uploads_take_the_umask_and_stale_parts_go_at_start(demo_root: Path):
    folder = demo_root / "imap/mag/l1a/2025/10"
    stale = folder / ".imap_mag_l1a_norm-mago_20251009_v001.0000.cdf.abcd1234.part"
    stale.write_bytes(b"half")
    os.utime(stale, (1_000_000, 1_000_000))
    fresh = folder / ".imap_mag_l1a_norm-mago_20251008_v001.0000.cdf.abcd1234.part"
    fresh.write_bytes(b"being written")
    old_umask = os.umask(0o022)
    try:
        with start_server(demo_root) as server:
            assert not stale.exists() and fresh.exists()
            url = requests.get(f"{server.url}/upload/{NEW}").json()
            assert requests.put(url, data=b"abc").status_code == 200
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((demo_root / NEW_KEY).stat().st_mode) == 0o644


# --- 8. slow and many clients -------------------------------------------------------------------


def test_a_trickled_header_is_cut_at_the_deadline(demo_root: Path):
    # The socket timeout is per read; the header deadline covers the whole head.
    with start_server(demo_root, header_timeout=0.5, socket_timeout=30) as server:
        port = urlsplit(server.url).port
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(b"GET /query?instrument=mag HTTP/1.1\r\n")
            sent, closed = 0, False
            # A byte whenever the server is still reading: it closes, however we trickle.
            while not closed and sent < 10_000:
                try:
                    s.sendall(b"X")
                    sent += 1
                    if _readable(s, 0.2):
                        answer = s.recv(1024)
                        closed = answer == b"" or answer.startswith(b"HTTP")
                except OSError:
                    closed = True
            assert closed


def _readable(s: socket.socket, wait: float) -> bool:
    import select

    return bool(select.select([s], [], [], wait)[0])


def test_a_slow_body_is_dropped_with_s3s_request_timeout(demo_root: Path):
    with start_server(demo_root, socket_timeout=0.3, min_body_rate=1_000_000) as server:
        url = requests.get(f"{server.url}/upload/{NEW}").json()
        parts = urlsplit(url)
        with socket.create_connection(("127.0.0.1", parts.port), timeout=30) as s:
            s.sendall(
                f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Length: {10**9}\r\n\r\n".encode()
            )
            while not _readable(s, 0.1):
                s.sendall(b"x" * 10)  # far below a megabyte a second
            answer = b""
            with contextlib.suppress(OSError):
                while chunk := s.recv(4096):
                    answer += chunk
        assert answer == b"" or b"<Code>RequestTimeout</Code>" in answer
        assert not (server.root / NEW_KEY).exists()


@POSIX
def test_many_slow_sockets_from_one_client_do_not_lock_out_another(tmp_path: Path):
    # A descriptor limit of 256 and 400 idle connections from 127.0.0.1: the per-client cap
    # closes what is over it at once, so 127.0.0.2 is still served.
    server = _ServerProcess(
        tmp_path / "archive", nofile=256, max_connections_per_client=16, header_timeout=60
    )
    idle = []
    try:
        port = server.port()
        for _ in range(400):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        for s in idle[:4]:
            s.sendall(b"GET /query HTTP/1.1\r\n")  # a head begun, never finished
        answer = _raw(
            port,
            b"GET /query?instrument=mag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            source="127.0.0.2",
        )
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    finally:
        for s in idle:
            s.close()
        server.stop()


# --- 9. TLS without a proxy -----------------------------------------------------------------------


@POSIX
def test_tls_from_the_command_line(env: dict[str, str], tmp_path: Path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    args = ["--demo", "--port", "0", "--tls-cert", str(cert_file), "--tls-key", str(key_file)]
    served = _Served(args, env)
    try:
        assert served.url.startswith("https://127.0.0.1:")
        response = requests.get(f"{served.url}/download/{KEY}", verify=str(ca_file))
        assert response.status_code == 200 and response.url.startswith("https://")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{served.url}/query?instrument=mag")  # not the system's CAs
        # A client that connects and says nothing does not stop the server.
        with socket.create_connection(("127.0.0.1", urlsplit(served.url).port)):
            again = requests.get(f"{served.url}/query?instrument=mag", verify=str(ca_file))
            assert again.status_code == 200
    finally:
        served.stop()
