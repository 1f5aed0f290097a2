"""`imap serve`: an SDC-compatible archive server over a local folder.

Use `start_server(root, ...)` (or `start(ServerConfig(root, ...))`) to run one in-process
(tests, scripts); see their docstrings. The server imports core's protocol floor (naming,
errors, query, records) and nothing from imap_cli.cli.
"""

from __future__ import annotations

from imap_cli.server.catalogue import Catalogue
from imap_cli.server.config import ServerConfig
from imap_cli.server.runner import RequestRecord, RunningServer, start, start_server

__all__ = ["Catalogue", "RequestRecord", "RunningServer", "ServerConfig", "start", "start_server"]
