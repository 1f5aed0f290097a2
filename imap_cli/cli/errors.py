"""How the terminal says an IMAPError: the flag names, the message, its hint and the exit code.

Core errors name parameters as Python does, through markers (imap_cli.core.errors: `word`,
`plural`, `option`, `terminal`); this module is the only place that knows how a parameter is
spelled on the command line (FIELDS), which phrases only the terminal has (PHRASES), and which
exit code each error class ends the process with (EXIT_CODES). Hints: imap_cli/cli/hints.py.

To take a flag out of a core string, name the parameter with a marker instead::

    raise UsageError(f"{value!r} is not a valid {word('data_level')}",
                     f"For example: {option('data_level', 'l1a')}", field="data_level")

Python reads "'l9' is not a valid data_level" and "For example: data_level='l1a'"; the
terminal reads "'l9' is not a valid data level" and "For example: --data-level l1a". Add the
field to FIELDS only when its flag or its word differs from the default (`--` and the name with
dashes; the name with spaces). Code that shows a core error's text must go through
`message_for` / `at_terminal`, not `error.message`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING

from imap_cli.core import errors as core_errors
from imap_cli.core.errors import IMAPError, render

if TYPE_CHECKING:
    from imap_cli.core.transfer import FileResult


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in the README and `imap --help`."""

    OK = 0
    PARTIAL = 1  # some items failed
    USAGE = 2  # bad usage or input
    UNAVAILABLE = 3  # SDC unreachable or failing (network, TLS, 5xx after retries)
    TIMED_OUT = 3  # a wait (--wait --timeout) ended with jobs still running; alias of 3
    REFUSED = 4  # 401/403
    HANGUP = 129  # SIGHUP: the terminal or session went away
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    TERMINATED = 143  # SIGTERM: `kill`, a batch system's time limit


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread: stops a run as Ctrl-C does (what arrived
    is kept), with the signal's exit code (128 + its number)."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.exit_code = 128 + signum


def install_stop_signals() -> None:
    """Make SIGTERM and SIGHUP stop `imap` as Ctrl-C does: what arrived is kept and said.

    Only the first such signal raises (a batch system may send TERM to every process of a job,
    and a second raise would cut the clean-up short); a later one is ignored. Outside the main
    thread (imap embedded in another program) nothing is installed.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    first = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        if first.is_set():
            return
        first.set()
        raise Stopped(signum, signal.Signals(signum).name)

    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is signal.SIG_DFL:
            signal.signal(number, stop)


def interrupted_code(stop: BaseException) -> int:
    """The exit code of a run stopped by Ctrl-C (130) or a signal (129 HUP, 143 TERM)."""
    return getattr(stop, "exit_code", ExitCode.INTERRUPTED)


def interrupted_word(stop: BaseException) -> str:
    """How a stop is named to people: "Interrupted" (Ctrl-C) or "Stopped by SIGTERM"."""
    name = getattr(stop, "name", None)
    return f"Stopped by {name}" if name else "Interrupted"


# Each error class's exit code; a class not listed takes its nearest listed base's.
EXIT_CODES: dict[type[IMAPError], ExitCode] = {
    IMAPError: ExitCode.PARTIAL,
    core_errors.UsageError: ExitCode.USAGE,
    core_errors.BadRequest: ExitCode.USAGE,
    core_errors.Refused: ExitCode.REFUSED,
    core_errors.Unavailable: ExitCode.UNAVAILABLE,
}

# Parameter -> (its flag, its word in a sentence), where either differs from the default.
FIELDS: dict[str, tuple[str, str]] = {
    "type": ("--type", "SPICE kernel type"),  # imap query's --type
    "types": ("--type", "kernel type"),  # imap metakernel's --type
    "status": ("--status", "job status"),  # imap jobs' --status
    "ingested_since": ("--ingested-since", "--ingested-since time"),
    "ingested_before": ("--ingested-before", "--ingested-before time"),
    "since": ("--since", "--since time"),  # imap jobs --wait / imap reprocess --check
}

# Phrases only the terminal has, by the key core gives them.
PHRASES: dict[str, str] = {
    "query-help": " (see imap query -h)",
    "see-help": "; see --help",
    "download-it": "Download it directly: imap download",
    "reprocess-example": "imap reprocess --start-date 20251001 --end-date 20251003 -i mag",
    "reprocess-both": "-l l1a -d norm-mago",
    "i-mag": "-i mag",
    "set-api-key": "`imap config set api-key KEY`",
    "jobs-of": "`imap jobs -i INSTRUMENT`",
    "log-stream": "`imap jobs` (LOG STREAM column, or job_log_stream_id in -o json)",
    "spice-tables": "`imap query --table spice --type spin`",
    "spice-query": "`imap query --table spice --start-date D`",
    "debug": "--debug",
    "query-filename": "`imap query --filename NAME`",
    "config-show": "Run `imap config show` to see them all.",
    "config-set-wont": "; `imap config set` will not overwrite a file it cannot read",
    "config-set-url": "`imap config set url https://...`",
    "config-get-url": "`imap config get url`",
    "config-get-api-key": "`imap config get api-key`",
    "example-url": "imap config set url https://api.imap-mission.com",
    "example-data-dir": "imap config set data-dir ~/imap",
    "example-jobs": "imap config set jobs 8",
    "example-retries": "imap config set retries 8",
    "example-timeout": "imap config set timeout 60",
    "shard-slurm": (
        "In a Slurm array started with --array=1-N: --shard "
        "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT."
    ),
}


def flag(field: str) -> str:
    """How `field` (a Python parameter) is spelled on the command line."""
    return FIELDS.get(field, ("--" + field.replace("_", "-"), ""))[0]


def label(field: str) -> str:
    """How a sentence at the terminal names `field`."""
    return FIELDS.get(field, ("", field.replace("_", " ")))[1]


def _at_terminal(style: str, field: str, value: str | None) -> str:
    if style == "t":
        return PHRASES[field]
    if style == "w":
        return label(field)
    if style == "p":
        return label(field) + "s"
    return flag(field) if value is None else f"{flag(field)} {value}"


def at_terminal(text: str) -> str:
    """`text` (a core message or hint) with its parameters named as flags and words."""
    return render(text, _at_terminal)


def message_for(error: IMAPError) -> str:
    """The error's message as the terminal shows it."""
    return at_terminal(error.template)


def exit_code_for(error: IMAPError) -> ExitCode:
    """The process exit code for `error`, from EXIT_CODES."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]  # type: ignore[index]
    return ExitCode.PARTIAL


def run_exit_code(results: Sequence[FileResult]) -> int:
    """The exit code of a download or upload run.

    0 when nothing failed; 1 when some failed. When every file failed for the same reason that
    is not about one file (2 bad input or setting, 3 SDC unreachable or failing, 4 refused),
    that code, so a script can tell "the SDC is down" from "some files were missing".
    """
    failed = [r for r in results if not r.ok]
    if not failed:
        return ExitCode.OK
    if len(failed) == len(results):
        codes = {exit_code_for(r.error) for r in failed if r.error is not None}
        if len(codes) == 1 and codes <= {ExitCode.USAGE, ExitCode.UNAVAILABLE, ExitCode.REFUSED}:
            return int(codes.pop())
    return ExitCode.PARTIAL
