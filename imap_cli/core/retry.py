"""The one retry policy, and cancellation: what is worth another attempt, how long to wait, and
a wait that a cancelled run ends at once.

SDC calls (core.http), query parts (core.query) and object transfers (core.download) all wait
through `RetryPolicy`. urllib3's `Retry` reads the Retry-After header here; its other semantics
do not fit: its backoff waits nothing before the second attempt and adds jitter rather than
scaling the wait; its sleep cannot be cancelled and tells nobody ("retrying (2 of 5)"); and a
streamed download resumes with Range, its budget counting only attempts that brought no new
byte, which a per-request Retry cannot express.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

# Statuses worth another attempt, and the longest wait between attempts without Retry-After.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_CAP = 8.0
# Retry-After beyond this is treated as "not soon": fail with the hint instead of hanging.
RETRY_AFTER_CAP = 120.0
# The first wait, doubled each attempt; tests shrink it so fault injection does not take minutes.
BACKOFF_BASE = 0.5


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
    status = f"{response.status_code} {response.reason or ''}".strip()
    return f"{what}: the server answered {status}"


class RetryPolicy:
    """`retries` more attempts after the first, with capped exponential backoff and jitter.

    `on_retry(message)` hears each retry ("...; retrying (1 of 5)"), so a person waiting on a
    dead URL sees why nothing happens yet. `sleep` is for tests; with the real one, a wait in a
    worker thread ends as soon as its run is cancelled.
    """

    def __init__(
        self,
        retries: int,
        *,
        sleep: Callable[[float], None] = time.sleep,
        base: float | None = None,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.retries = retries
        self.sleep = sleep
        self.base = (
            float(os.environ.get("IMAP_CLI_BACKOFF", BACKOFF_BASE)) if base is None else base
        )
        self.on_retry = on_retry

    @property
    def attempts(self) -> int:
        """Attempts in all: the first and the retries."""
        return self.retries + 1

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """The wait after failed attempt `attempt` (0-based): Retry-After when given."""
        if retry_after_s is not None:
            return retry_after_s
        # Jitter scales the wait into [1/2, 1): clients that failed together spread out.
        return min(BACKOFF_CAP, self.base * (2**attempt)) * (0.5 + random.random() / 2)

    @staticmethod
    def too_late(retry_after_s: float | None) -> bool:
        """A Retry-After too far off to wait for."""
        return retry_after_s is not None and retry_after_s > RETRY_AFTER_CAP

    def wait(self, attempt: int, retry_after_s: float | None = None) -> None:
        """Sleep before the next attempt; raise TransferCancelled if the run is cancelled."""
        delay = self.delay(attempt, retry_after_s)
        cancel = current_cancel()
        if cancel is not None and self.sleep is time.sleep:
            cancel.wait(delay)  # Ctrl-C must end the wait at once rather than after it
        else:
            self.sleep(delay)
        if cancel is not None and cancel.is_set():
            raise TransferCancelled

    def again(self, reason: str, attempt: int, retry_after_s: float | None = None) -> None:
        """Tell on_retry why attempt `attempt` failed, then wait before the next one."""
        if self.on_retry is not None:
            self.on_retry(f"{reason}; retrying ({attempt + 1} of {self.retries})")
        self.wait(attempt, retry_after_s)
