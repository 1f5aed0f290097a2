"""QuietHTTPServer: the ThreadingHTTPServer of the tests' fake servers, quiet when a client
hangs up.

socketserver's handle_error prints a traceback to stderr for any exception in a handler,
including a client that hangs up mid-answer (a retry after a cut body, Ctrl-C, a 503 not read
to its end). Printed from a server thread, it lands in the captured stderr of the command the
test runs, as if the command had failed. Only hang-ups are quiet: any other error in a handler
goes to `unexpected`, which prints it (a fake may record it for its tests to check instead).
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any

# What a client hanging up raises in the handler answering it.
HANG_UPS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class QuietHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer (daemon threads) that says nothing when a client hangs up."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], HANG_UPS):
            return
        self.unexpected(request, client_address)

    def unexpected(self, request: Any, client_address: Any) -> None:
        """A handler failed for another reason than a hang-up (called in its `except`):
        printed with its traceback, as socketserver does."""
        super().handle_error(request, client_address)
