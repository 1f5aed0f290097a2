"""`imap serve --background` and `imap serve --stop`: a server in a detached process, found again
by its port.

The parent starts `python -m imap_cli` with the same arguments in a new session (the shell's
Ctrl-C and exit do not reach it), stdin and stdout on /dev/null and stderr appended to the log
file. It hands the child the write end of a pipe, whose number it names in READY_ENV: that is
how the child knows it is the background server and must not go into the background again.
Once listening, the child records itself (pid and URL, by port) in a state file, writes its URL
to the pipe and closes it; the parent prints the URL and returns. A child that exits first
closes the pipe with nothing written: the parent shows what it logged and takes its exit code.

POSIX only. Only the standard library and platformdirs are imported (nothing heavy).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imap_cli.core.errors import IMAPError, UsageError, printable

if TYPE_CHECKING:
    from subprocess import Popen

    from imap_cli.cli.output import Output

READY_ENV = "IMAP_SERVE_READY_FD"
STOP_DEADLINE = 10.0  # seconds `--stop` waits for the server to exit after SIGTERM
# What the parent shows of a failed start's log at most: its last lines are the error.
RELAYED_BYTES = 64 * 1024


def stop_command(port: int) -> str:
    """The command that stops the background server on `port`."""
    return f"imap serve --stop --port {port}"


def _not_on_windows(flag: str) -> None:
    if os.name == "nt":
        raise UsageError(
            f"{flag} needs a POSIX system (Linux, macOS); this is Windows",
            "Run `imap serve` in a terminal of its own and stop it there with Ctrl-C.",
        )


# --- where things are kept -------------------------------------------------------------------


def _app_name() -> str:
    from imap_cli.core.settings import APP_NAME

    return APP_NAME


def default_log_file(port: int) -> Path:
    """The log of a background server started without --log-file: serve-<port>.log in the user
    log dir (the requested port: --port 0 logs to serve-0.log)."""
    import platformdirs

    return Path(platformdirs.user_log_dir(_app_name(), appauthor=False)) / f"serve-{port}.log"


def log_file_for(log_file: Path | None, port: int) -> Path:
    """The absolute log path: --log-file (from the working directory) or the default."""
    path = default_log_file(port) if log_file is None else log_file.expanduser()
    return Path(os.path.abspath(path))


def state_dir() -> Path:
    """Where background servers are recorded: a `serve` folder in the user state dir."""
    import platformdirs

    return Path(platformdirs.user_state_dir(_app_name(), appauthor=False)) / "serve"


def state_file(port: int) -> Path:
    """The record of the background server listening on `port`."""
    return state_dir() / f"serve-{port}.json"


@dataclass(frozen=True)
class Record:
    """A background server as its state file names it."""

    pid: int
    url: str
    port: int
    log: str = ""


def write_record(record: Record) -> Path:
    """Record a background server, atomically (a temporary file renamed over the old one)."""
    from imap_cli.core.recent import write_whole

    path = state_file(record.port)
    write_whole(path, json.dumps(record.__dict__, indent=1) + "\n")
    return path


def read_record(port: int) -> Record | None:
    """The record of the server on `port`; None when there is none. A file that cannot be
    read as a record counts as one with pid 0 (no process), so that it is cleaned up."""
    path = state_file(port)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Record(int(data["pid"]), str(data["url"]), int(data["port"]), str(data["log"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return Record(0, f"port {port}", port)


def forget(port: int, pid: int | None = None) -> None:
    """Remove the record of `port`: any record, or only one that names `pid` (the server
    itself, stopping, must not remove the record of a server started after it)."""
    path = state_file(port)
    if pid is not None:
        record = read_record(port)
        if record is None or record.pid != pid:
            return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def recorded_ports() -> list[int]:
    """The ports with a recorded background server."""
    try:
        names = [p.name for p in state_dir().iterdir()]
    except OSError:
        return []
    ports = []
    for name in names:
        number = name.removeprefix("serve-").removesuffix(".json")
        if name.startswith("serve-") and name.endswith(".json") and number.isdigit():
            ports.append(int(number))
    return sorted(ports)


# --- the child: the background server itself --------------------------------------------------


def ready_pipe() -> int | None:
    """In the background child, the pipe to write the URL to (taken out of the environment, so
    nothing the server starts inherits it); else None. A variable that does not name an open
    pipe (left set by hand) is ignored: the server then goes into the background as asked."""
    import stat

    value = os.environ.pop(READY_ENV, None)
    if value is None or not value.isdigit():
        return None
    try:
        if not stat.S_ISFIFO(os.fstat(int(value)).st_mode):
            return None
    except OSError:
        return None
    return int(value)


def announce(pipe: int, record: Record) -> None:
    """Record the server, then tell the parent its URL: it is listening."""
    try:
        write_record(record)
    except OSError as error:
        raise UsageError(
            f"cannot record the background server in {state_dir()}: {error.strerror or error}",
            "Make that folder writable (it follows XDG_STATE_HOME), or serve in the foreground.",
        ) from None
    try:
        os.write(pipe, f"{record.url}\n".encode())
    except OSError:
        pass  # the parent is gone (killed): serve anyway, `--stop` finds the record
    finally:
        os.close(pipe)


# --- the parent: start, wait until ready --------------------------------------------------------


def start(out: Output, argv: Sequence[str], port: int, log_file: Path | None) -> int:
    """Start `imap <argv>` in the background; print its URL once it listens. Returns the exit
    code: 0, or the child's when it stopped before it was ready."""
    import datetime as dt
    import subprocess

    _not_on_windows("--background")
    log = log_file_for(log_file, port)
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        handle = open(log, "ab")  # noqa: SIM115 - handed to the child, closed below
    except OSError as error:
        raise UsageError(
            f"cannot open the log file {log}: {error.strerror or error}",
            "Give --log-file a file in a folder you can write.",
        ) from None
    with handle:
        when = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        handle.write(f"--- {when} imap serve --background\n".encode())
        handle.flush()
        start_of_run = handle.tell()
        read_end, write_end = os.pipe()
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "imap_cli", *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=handle,
                pass_fds=(write_end,),
                start_new_session=True,
                env={**os.environ, READY_ENV: str(write_end)},
            )
        except OSError as error:
            os.close(read_end)
            raise IMAPError(
                f"cannot start the background server: {error.strerror or error}",
                "Run `imap serve` without --background to see it start.",
            ) from None
        finally:
            os.close(write_end)  # the child's copy is the only one left: EOF when it exits
        # From here on the child runs: whatever stops this process stops it too.
        try:
            url = _read_line(read_end)
        except KeyboardInterrupt:
            # Ctrl-C (or SIGTERM) while it starts: it would run on, unseen.
            _terminate(child)
            out.note(f"Stopped the server that was starting (pid {child.pid}).")
            raise
        finally:
            os.close(read_end)
    if not url:
        code = _failed(out, child, log, start_of_run)
        other = read_record(port) if port else None
        if other is not None and running(other.pid):
            out.note(f"{other.url} is a background server: `{stop_command(port)}` stops it.")
        return code
    out.lines([url])
    out.note(f"Serving in the background at {url} (pid {child.pid}); its log: {log}")
    out.note(f"Stop it with: {stop_command(_port_of(url, port))}")
    return 0


def _read_line(fd: int) -> str:
    """The first line the child writes; "" if it closes the pipe without one (it exited)."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 4096)
        if not chunk:
            return ""
        data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()


def _port_of(url: str, requested: int) -> int:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).port or requested
    except ValueError:
        return requested


def _terminate(child: Popen[bytes]) -> None:
    """SIGTERM the child and wait for it; SIGKILL if it takes longer than STOP_DEADLINE."""
    import subprocess

    with contextlib.suppress(ProcessLookupError):
        child.terminate()
    try:
        child.wait(timeout=STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _failed(out: Output, child: Popen[bytes], log: Path, start_of_run: int) -> int:
    """The child exited before it was ready: show what it logged, return its exit code."""
    code = child.wait()
    try:
        with open(log, "rb") as handle:
            handle.seek(max(start_of_run, os.fstat(handle.fileno()).st_size - RELAYED_BYTES))
            said = handle.read().decode("utf-8", "replace")
    except OSError:
        said = ""
    for line in said.splitlines():
        out.streams.stderr.write(printable(line) + "\n")
    out.streams.stderr.flush()
    if code < 0:  # killed by a signal, as a shell reports it
        code = 128 - code
    if code == 0 or "Error:" not in said:
        out.error(
            f"the background server stopped before it was ready (exit {code})",
            f"Its log: {log}",
        )
    return code or 1


# --- --stop ---------------------------------------------------------------------------------


def stop(out: Output, port: int) -> None:
    """Stop the background server recorded on `port`: SIGTERM, then wait until it has gone."""
    import signal

    _not_on_windows("--stop")
    if port == 0:
        raise UsageError(
            "--stop needs the port the server listens on, not 0",
            "Give the port `imap serve --background` printed: --port N.",
        )
    record = read_record(port)
    if record is None:
        others = [p for p in recorded_ports() if p != port]
        raise IMAPError(
            f"no background server is recorded on port {port}",
            f"Background servers are recorded on port {', '.join(map(str, others))}: "
            "give that --port."
            if others
            else "Nothing to stop (a server started without --background stops with Ctrl-C "
            "where it runs).",
        )
    if not running(record.pid):
        forget(port)
        raise IMAPError(
            f"the server at {record.url} (pid {record.pid}) is no longer running; "
            "its stale record is removed",
            f"Nothing to stop. Its log may say why it ended: {record.log or 'see --log-file'}",
        )
    if not is_imap_serve(record.pid):
        forget(port)
        raise IMAPError(
            f"pid {record.pid}, recorded for the server at {record.url}, is now another "
            "program; it is left alone and the stale record removed",
            "Nothing to stop: the server ended and its pid went to another process.",
        )
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it ended just now
    except PermissionError:
        raise IMAPError(
            f"not allowed to stop pid {record.pid} (the server at {record.url})",
            "It runs as another user: stop it as that user.",
        ) from None
    if not _gone_within(record.pid, STOP_DEADLINE):
        raise IMAPError(
            f"the server at {record.url} (pid {record.pid}) has not stopped "
            f"{STOP_DEADLINE:.0f} s after SIGTERM",
            f"It may be finishing requests: run `{stop_command(port)}` again, or "
            f"`kill -KILL {record.pid}`.",
        )
    forget(port, record.pid)
    out.note(f"Stopped the server at {record.url} (pid {record.pid}).")


def _gone_within(pid: int, seconds: float) -> bool:
    """Whether `pid` exits within `seconds`. It is not our child (no waitpid): poll."""
    import time

    deadline = time.monotonic() + seconds
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def running(pid: int) -> bool:
    """Whether process `pid` exists and has not exited. An exited process whose parent has not
    reaped it (a zombie: an orphan under an init that does not reap) counts as exited."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return not Path("/proc/self").exists() and _ps(pid, "stat").startswith("Z")
    except OSError:
        return False
    # "pid (name) S ...": the name may hold spaces and parentheses; the state follows the last ")"
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def is_imap_serve(pid: int) -> bool:
    """Whether process `pid` runs `imap serve` (a pid reused by another program must not be
    signalled): its command line names imap (or imap_cli) and serve."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return False  # gone meanwhile
        args = _ps(pid, "command").split()
    except OSError:
        return False
    names = {os.path.basename(arg) for arg in args}
    return bool(names & {"imap", "imap_cli"}) and "serve" in args


def _ps(pid: int, field: str) -> str:
    """One field of `ps` for `pid` (where there is no /proc); "" if ps cannot say."""
    import subprocess

    try:
        done = subprocess.run(
            ["ps", "-p", str(pid), "-o", f"{field}="],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()
