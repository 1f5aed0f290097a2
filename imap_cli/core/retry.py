"""The one retry policy and cancellation: what is worth another attempt, how long to wait, and
a wait that a cancelled run ends at once. SDC calls, query parts and transfers all use it.

urllib3's `Retry` reads Retry-After here; its other semantics do not fit: its backoff waits
nothing before the second attempt and adds jitter instead of scaling the wait; its sleep cannot
be cancelled and tells nobody ("retrying (2 of 5)"); and a streamed download resumes with Range,
its budget counting only attempts that brought no new byte, which a per-request Retry cannot do.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_CAP = 8.0
# Retry-After beyond this is treated as "not soon": fail with the hint instead of hanging.
RETRY_AFTER_CAP = 120.0


class TransferCancelled(Exception):
    """The run was interrupted: the worker stops where it is and cleans up."""


# The cancel flag of the run a worker thread belongs to: the policy's waits end on it.
_local = threading.local()


def current_cancel() -> threading.Event | None:
    """The cancel flag of the run this thread works for, or None outside a worker."""
    return getattr(_local, "cancel", None)


def bind_cancel(cancel: threading.Event | None) -> None:
    """Make `cancel` this thread's flag (worker threads call this once)."""
    _local.cancel = cancel


def retry_after(response: Any) -> float | None:
    """Seconds from a response's Retry-After header (delta or HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    from urllib3.exceptions import InvalidHeader
    from urllib3.util.retry import Retry

    try:
        return float(Retry().parse_retry_after(value.strip()))
    except InvalidHeader:
        return None


def answered(what: str, response: Any) -> str:
    """`<what>: the server answered 503 Service Unavailable`: why a status is tried again."""
    return f"{what}: the server answered {response.status_code} {response.reason or ''}".strip()


class RetryPolicy:
    """`retries` more attempts after the first, waiting with capped exponential backoff.

    `on_retry(message)` hears of each retry, so a person waiting on a dead URL sees why nothing
    happens yet. `sleep` is for tests; with the real one, a worker's wait ends on cancel.
    """

    def __init__(self, retries: int, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.retries = retries
        self.sleep = sleep
        # Tests shrink the backoff so fault injection does not take minutes.
        self.base = float(os.environ.get("IMAP_CLI_BACKOFF", "0.5"))
        self.on_retry: Callable[[str], None] | None = None

    @property
    def attempts(self) -> int:
        """Attempts in all: the first and the retries."""
        return self.retries + 1

    @staticmethod
    def too_late(retry_after_s: float | None) -> bool:
        """A Retry-After too far off to wait for."""
        return retry_after_s is not None and retry_after_s > RETRY_AFTER_CAP

    def wait(self, attempt: int, retry_after_s: float | None = None) -> None:
        """Sleep after failed attempt `attempt` (0-based); TransferCancelled if cancelled."""
        delay = retry_after_s
        if delay is None:  # jitter in [1/2, 1): clients that failed together spread out
            delay = min(BACKOFF_CAP, self.base * (2**attempt)) * (0.5 + random.random() / 2)
        cancel = current_cancel()
        if cancel is not None and self.sleep is time.sleep:
            cancel.wait(delay)  # Ctrl-C must end the wait at once rather than after it
        else:
            self.sleep(delay)
        if cancel is not None and cancel.is_set():
            raise TransferCancelled

    def again(self, reason: str, attempt: int, retry_after_s: float | None = None) -> None:
        """Tell on_retry why attempt `attempt` failed, then wait before the next one."""
        message = f"{reason}; retrying ({attempt + 1} of {self.retries})"
        import logging

        logging.getLogger("imap_cli").warning("%s", message)
        if self.on_retry is not None:
            self.on_retry(message)
        self.wait(attempt, retry_after_s)
