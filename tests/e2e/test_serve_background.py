"""`imap serve --background` and `imap serve --stop`, as real processes of the installed `imap`.

Each test has its own home, state, log and cache dirs (tmp_path), so its own records of
background servers; a finalizer stops every server a test started, whatever happened.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from background_servers import IMAP, alive, gone, isolated_env, records, state_dir, terminate

pytestmark = pytest.mark.skipif(os.name == "nt", reason="--background is POSIX only")

URL = re.compile(r"^http://127\.0\.0\.1:(\d+)$")


class Runs:
    """Runs `imap serve ...` in one test's environment; remembers every server it started."""

    def __init__(self, tmp_path: Path) -> None:
        self.env = isolated_env(tmp_path)
        self.pids: set[int] = set()

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        # Pipes for stdout and stderr: if the background server kept either open, this would
        # not return (as `$(imap serve --background)` would hang in a shell).
        done = subprocess.run(
            [IMAP, "serve", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        self.remember(done.stderr)
        return done

    def remember(self, stderr: str) -> None:
        self.pids.update(int(pid) for pid in re.findall(r"\(pid (\d+)\)", stderr))
        self.pids.update(int(r["pid"]) for r in records(self.env).values())

    def stop_all(self) -> None:
        self.remember("")
        for pid in self.pids:
            terminate(pid)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Runs]:
    runs = Runs(tmp_path)
    yield runs
    runs.stop_all()


def test_background_prints_a_url_that_answers_and_stop_stops_it(serve: Runs, tmp_path: Path):
    log = tmp_path / "logs" / "serve.log"
    started = serve("--demo", "--port", "0", "--background", "--log-file", str(log))
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    match = URL.match(url)
    assert match and started.stdout == f"{url}\n"  # only the URL: `$(...)` gets just that
    port = int(match.group(1))
    assert port != 0
    (pid,) = (int(p) for p in re.findall(r"\(pid (\d+)\)", started.stderr))
    assert f"at {url} (pid {pid}); its log: {log}" in started.stderr
    assert f"imap serve --stop --port {port}" in started.stderr
    assert "Traceback" not in started.stderr
    assert records(serve.env)[port] == {"pid": pid, "url": url, "port": port, "log": str(log)}

    answer = requests.get(f"{url}/query", params={"instrument": "mag"}, timeout=10)
    assert answer.status_code == 200 and answer.json()

    stopped = serve("--stop", "--port", str(port))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stderr.strip() == f"Stopped the server at {url} (pid {pid})."
    assert gone(pid)
    assert port not in records(serve.env)
    text = log.read_text(encoding="utf-8")
    assert re.search(r"\] api GET /query\?instrument=mag 200 \d+B", text)
    assert text.rstrip().endswith("Server stopped.")


def test_quiet_prints_only_the_url_and_logs_to_the_user_log_dir(serve: Runs, tmp_path: Path):
    archive = tmp_path / "archive"
    archive.mkdir()
    started = serve(str(archive), "--port", "0", "--background", "-q")
    assert started.returncode == 0, started.stderr
    assert started.stderr == ""
    port = int(URL.match(started.stdout.strip()).group(1))  # type: ignore[union-attr]
    log = Path(records(serve.env)[port]["log"])
    # serve-<the port asked for>.log, in the log dir of this test's home
    assert log.name == "serve-0.log" and log.is_file() and log.is_relative_to(tmp_path)
    assert serve("--stop", "--port", str(port)).returncode == 0
    assert "Server stopped." not in log.read_text(encoding="utf-8")  # -q: the server too
    assert log.read_text(encoding="utf-8").startswith("--- ")


def test_a_port_in_use_gives_the_servers_error_and_exit_2(serve: Runs, tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve(str(tmp_path), "--port", str(port), "--background")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use",
        "Hint: Stop the other server, or pick another port with --port (0: any free port).",
    ]
    assert records(serve.env) == {}


def test_a_bad_folder_gives_the_servers_error_and_exit_2(serve: Runs, tmp_path: Path):
    done = serve(str(tmp_path / "nowhere"), "--port", "0", "--background")
    assert done.returncode == 2
    assert f"Error: {tmp_path / 'nowhere'} does not exist" in done.stderr
    assert "Hint: " in done.stderr and "Traceback" not in done.stderr


def test_stop_with_nothing_running_exits_1_with_a_hint(serve: Runs):
    done = serve("--stop", "--port", "8765")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: no background server is recorded on port 8765",
        "Hint: Nothing to stop (a server started without --background stops with Ctrl-C "
        "where it runs).",
    ]


def write_record(env: dict[str, str], port: int, pid: int) -> Path:
    path = state_dir(env) / f"serve-{port}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    path.write_text(json.dumps({"pid": pid, "url": url, "port": port, "log": ""}))
    return path


def test_a_stale_record_is_removed_and_said(serve: Runs):
    ended = subprocess.Popen(["true"])
    ended.wait()  # reaped: its pid names no process
    path = write_record(serve.env, 45678, ended.pid)
    done = serve("--stop", "--port", "45678")
    assert done.returncode == 1
    assert (
        f"Error: the server at http://127.0.0.1:45678 (pid {ended.pid}) is no longer running; "
        "its stale record is removed"
    ) in done.stderr
    assert not path.exists()


def test_a_pid_now_used_by_another_program_is_left_alone(serve: Runs):
    other = subprocess.Popen(["sleep", "300"])
    try:
        path = write_record(serve.env, 45679, other.pid)
        done = serve("--stop", "--port", "45679")
        assert done.returncode == 1
        assert f"pid {other.pid}, recorded for the server at" in done.stderr
        assert "is now another program; it is left alone" in done.stderr
        assert other.poll() is None  # not signalled
        assert not path.exists()
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--log-file", "x.log"], "Error: --log-file goes with --background"),
        (["--stop", "--demo"], "Error: --stop takes only --port, not --demo"),
        (["--stop", "--port", "0"], "Error: --stop needs the port the server listens on"),
    ],
)
def test_usage_errors(serve: Runs, args: list[str], message: str):
    done = serve(*args)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0].startswith(message), done.stderr
    assert done.stderr.splitlines()[1].startswith("Hint: ")


def test_ctrl_c_while_it_starts_stops_the_server_too(serve: Runs, tmp_path: Path):
    # The server reads its key file as it starts; a FIFO holds it there until written to,
    # and opening the FIFO's other end returns exactly when the server has opened it.
    archive = tmp_path / "archive"
    archive.mkdir()
    fifo = tmp_path / "key"
    os.mkfifo(fifo)
    parent = subprocess.Popen(
        [IMAP, "serve", str(archive), "--port", "0", "--api-key-file", str(fifo), "--background"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=serve.env,
    )
    opened: list[int] = []
    opener = threading.Thread(target=lambda: opened.append(os.open(fifo, os.O_WRONLY)))
    opener.daemon = True
    opener.start()
    try:
        opener.join(timeout=60)
        assert opened, "the background server did not open its key file"
        parent.send_signal(signal.SIGINT)
        out, err = parent.communicate(timeout=60)
    finally:
        if not opened:  # release the opener: it is blocked until a reader comes
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        for fd in opened:
            os.close(fd)
        if parent.poll() is None:
            parent.kill()
            parent.communicate()
    serve.remember(err)
    assert parent.returncode == 130, err
    (pid,) = (
        int(p) for p in re.findall(r"Stopped the server that was starting \(pid (\d+)\)", err)
    )
    assert gone(pid)
    assert out == "" and "Traceback" not in err
    assert records(serve.env) == {}


def test_the_server_removes_its_record_when_stopped_by_sigterm(serve: Runs, tmp_path: Path):
    started = serve(str(tmp_path), "--port", "0", "--background")
    assert started.returncode == 0, started.stderr
    port = int(URL.match(started.stdout.strip()).group(1))  # type: ignore[union-attr]
    pid = records(serve.env)[port]["pid"]
    assert alive(pid)
    os.kill(pid, signal.SIGTERM)
    assert gone(pid)
    assert records(serve.env) == {}


@pytest.mark.parametrize(("flag", "paged"), [("--pagination", True), ("--no-pagination", False)])
def test_pagination_flags(serve: Runs, flag: str, paged: bool):
    """--no-pagination answers offset/limit with a 400; --pagination, the default, is still
    accepted (hidden) for scripts written when the flag was a pair."""
    started = serve("--demo", "--port", "0", "--background", "-q", flag)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    answer = requests.get(f"{url}/query", params={"instrument": "mag", "limit": "2"}, timeout=10)
    assert answer.status_code == (200 if paged else 400)
    if paged:
        assert len(answer.json()) == 2
    port = URL.match(url).group(1)  # type: ignore[union-attr]
    assert serve("--stop", "--port", port).returncode == 0
