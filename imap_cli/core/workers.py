"""The one worker pool: a few daemon threads running calls from a queue.

Query parts (core.split) and transfers (core.transfer) both run on it. Not ThreadPoolExecutor:
its threads are joined when the `with` ends and at interpreter exit, so a request blocked on a
stalled host would hold up Ctrl-C; daemon threads let the process leave.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from imap_cli.core.retry import bind_cancel


class WorkerPool:
    """`size` daemon threads; each call's outcome goes to the Future `submit` returns.

    A call that raises also hands its exception to `on_crash` (when given); the thread lives
    on, so the calls queued behind it still run. `cancel` becomes the threads' cancel flag, so
    a retry's wait inside a call ends when the run is cancelled.
    """

    def __init__(
        self,
        size: int,
        name: str,
        on_crash: Callable[[BaseException], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.tasks: queue.SimpleQueue[tuple[cf.Future, Callable[..., Any], tuple] | None] = (
            queue.SimpleQueue()
        )
        self.on_crash = on_crash
        self.cancel = cancel
        self._dropping = False
        self.threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(max(1, size))
        ]
        for thread in self.threads:
            thread.start()

    def _work(self) -> None:
        bind_cancel(self.cancel)
        while (task := self.tasks.get()) is not None:
            future, call, args = task
            if self._dropping:
                future.cancel()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call(*args)
            except BaseException as exc:  # one call's end must not be the thread's
                future.set_exception(exc)
                if self.on_crash is not None:
                    with contextlib.suppress(BaseException):
                        self.on_crash(exc)
            else:
                future.set_result(result)

    def submit(self, call: Callable[..., Any], *args: Any) -> cf.Future:
        """Run `call(*args)` on a free thread; its Future holds the result or exception."""
        future: cf.Future = cf.Future()
        self.tasks.put((future, call, args))
        return future

    def stop(self, *, drop: bool = False) -> None:
        """Let the threads end once the queue is done; with `drop`, calls not started yet are
        cancelled instead of run (the ones in flight end on their own)."""
        self._dropping = self._dropping or drop
        for _ in self.threads:
            self.tasks.put(None)
