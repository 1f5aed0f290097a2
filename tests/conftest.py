"""Every test runs with its own settings: no user config, no real SDC, fast retries.

Also here, for every directory:
- markers by directory: a test under tests/e2e is marked `e2e`, under tests/interop `interop`,
  and so on (pytest_collection_modifyitems), so `-m "not e2e"` needs no per-file marks;
- `imap`: the one in-process runner of `imap ...` (ImapRunner), which a test module points at its
  server by overriding the fixture (see ImapRunner.against).
"""

from __future__ import annotations

import _thread
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap_runner import ImapRunner

# The directories right under tests/ whose name is also the marker of their tests.
_MARKED_DIRS = ("unit", "cli", "e2e", "interop")
_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the directory it lives in (tests/e2e/... -> e2e)."""
    for item in items:
        try:
            top = item.path.relative_to(_TESTS).parts[0]
        except ValueError:
            continue
        if top in _MARKED_DIRS:
            item.add_marker(top)


_CLEARED = (
    "IMAP_API_KEY",
    "IMAP_ACCESS_TOKEN",
    "IMAP_DATA_ACCESS_URL",
    "IMAP_JOBS",
    "IMAP_TIMEOUT",
    "IMAP_RETRIES",
    "IMAP_CA_BUNDLE",
    "IMAP_DEBUG",
    "REQUESTS_CA_BUNDLE",
    "NO_COLOR",
    "COLUMNS",  # tables fit it: a test sets it when it means to
)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point the config file and data dir at fresh temp paths; clear credentials."""
    home = tmp_path_factory.mktemp("imap-home")
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IMAP_CLI_CONFIG", str(home / "config" / "config.toml"))
    monkeypatch.setenv("IMAP_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("IMAP_CLI_BACKOFF", "0.01")
    # The cache (recent query results) must not leak between tests either.
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    return home


@pytest.fixture
def config_file(isolated_settings: Path) -> Path:
    """The (not yet existing) config file of this test."""
    return isolated_settings / "config" / "config.toml"


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers: a request to it blocks."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = threading.Event()
        self.hung = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            self.accepted.set()

    def interrupt_main_when_reached(self, guard: float = 30) -> threading.Event:
        """Press Ctrl-C in the main thread (`_thread.interrupt_main`) once a request hangs here.

        Returns `done`, which the test sets once its call has returned. A call still running
        `guard` s after the Ctrl-C counts as hung: `hung` is set and the server closes, failing
        the requests stuck on it so that the test ends. A deadlock guard, not a measure of speed.
        """
        done = threading.Event()

        def press() -> None:
            if self.accepted.wait(guard):
                _thread.interrupt_main()
                if done.wait(guard):
                    return
                self.hung.set()
            self.close()  # no request came, or the call hangs: let it end

        threading.Thread(target=press, daemon=True).start()
        return done

    def close(self) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A server that accepts and never answers, closed after the test."""
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def imap(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> ImapRunner:
    """`imap("query", "-i", "mag")` in this process -> Ran(code, out, err).

    A module points it at its server by overriding it:
    `def imap(imap, server): return imap.against(server.url, retries=1)`."""
    return ImapRunner(capsys, monkeypatch)
