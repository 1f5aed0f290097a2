"""`imap serve`: an SDC-compatible archive server over a local folder.

Use `start_server(root, ...)` to run one in-process (tests, scripts); see its docstring. The
server imports core.naming and nothing from imap_cli.cli.
"""

from __future__ import annotations

from imap_cli.server.catalogue import Catalogue
from imap_cli.server.runner import RequestRecord, RunningServer, start_server

__all__ = ["Catalogue", "RequestRecord", "RunningServer", "start_server"]
