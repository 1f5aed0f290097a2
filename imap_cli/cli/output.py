"""One Output object: data on stdout, messages and progress on stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from imap_cli.core.errors import IMAPError


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Streams:
    """The process's streams and environment, passed in so both terminal paths are testable."""

    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout_tty: bool | None = None
    stderr_tty: bool | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def __post_init__(self) -> None:
        if self.stdout_tty is None:
            self.stdout_tty = _isatty(self.stdout)
        if self.stderr_tty is None:
            self.stderr_tty = _isatty(self.stderr)

    @property
    def color(self) -> bool:
        """Colour on stderr: a terminal, and NO_COLOR not set."""
        return bool(self.stderr_tty) and not self.env.get("NO_COLOR")


class Output:
    """Everything a command shows. `quiet` silences notes; `verbose` adds detail."""

    def __init__(self, streams: Streams | None = None, *, quiet: bool = False, verbose: int = 0):
        self.streams = streams or Streams()
        self.quiet = quiet
        self.verbose = verbose
        self._console = None

    # --- stderr: for people ---------------------------------------------------------------

    @property
    def console(self):  # -> rich.console.Console, imported only when needed
        """A rich console on stderr (markup off: server strings are never markup)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(
                file=self.streams.stderr,
                force_terminal=bool(self.streams.stderr_tty),
                no_color=not self.streams.color,
                markup=False,
                highlight=False,
                emoji=False,
                soft_wrap=not self.streams.stderr_tty,
            )
        return self._console

    def _say(self, text: str, style: str | None = None) -> None:
        if self.streams.stderr_tty:
            from rich.text import Text

            self.console.print(Text(text, style=style or ""))
        else:
            self.streams.stderr.write(text + "\n")
            self.streams.stderr.flush()

    def note(self, text: str) -> None:
        """A message for a person; hidden by -q."""
        if not self.quiet:
            self._say(text)

    def detail(self, text: str) -> None:
        """Extra detail, shown with -v."""
        if self.verbose and not self.quiet:
            self._say(text, "dim")

    def success(self, text: str) -> None:
        """A success message; hidden by -q."""
        if not self.quiet:
            self._say(text, "green")

    def warn(self, text: str) -> None:
        """A warning; shown even with -q."""
        self._say(f"Warning: {text}", "yellow")

    def error(self, error: IMAPError | str, hint: str | None = None) -> None:
        """`Error: <one line>` then `Hint: <hint>`; always shown."""
        message = error.message if isinstance(error, IMAPError) else str(error)
        hint = hint if hint is not None else getattr(error, "hint", "")
        self._say(f"Error: {' '.join(message.split())}", "bold red")
        if hint:
            self._say(f"Hint: {hint}", "cyan")

    # --- stdout: data -------------------------------------------------------------------

    def write(self, text: str) -> None:
        """Raw text to stdout."""
        self.streams.stdout.write(text)

    def lines(self, items: Iterable[str]) -> None:
        """One item per line on stdout."""
        out = self.streams.stdout
        out.writelines(f"{item}\n" for item in items)
        out.flush()

    def json(self, data: Any) -> None:
        """Valid JSON on stdout: indented for a terminal, one line for a pipe."""
        indent = 2 if self.streams.stdout_tty else None
        self.streams.stdout.write(json.dumps(data, indent=indent, ensure_ascii=False) + "\n")
        self.streams.stdout.flush()

    def csv(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """A header row, then one row per record."""
        import csv

        writer = csv.writer(self.streams.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        self.streams.stdout.flush()

    def table(
        self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
    ) -> None:
        """A table on stdout that a person can read, fast at tens of thousands of rows.

        rich's Table measures every cell of every row and takes seconds at 30,000 rows, so
        the columns are sized here once and each row is a single formatted line.
        """
        cells = [["" if v is None else str(v) for v in row] for row in rows]
        widths = [len(c) for c in columns]
        for row in cells:
            for i, value in enumerate(row):
                if len(value) > widths[i]:
                    widths[i] = len(value)
        gap = "  "
        out = self.streams.stdout
        color = bool(self.streams.stdout_tty) and not self.streams.env.get("NO_COLOR")
        header = gap.join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()
        rule = gap.join("─" * w for w in widths)
        if title:
            out.write(f"{title}\n")
        out.write(f"\x1b[1m{header}\x1b[0m\n" if color else header + "\n")
        out.write(rule + "\n")
        # Server strings are written as plain text: nothing here interprets markup.
        clean = str.maketrans({c: "?" for c in map(chr, range(32)) if c != "\t"})
        out.writelines(
            gap.join(v.translate(clean).ljust(w) for v, w in zip(row, widths)).rstrip() + "\n"
            for row in cells
        )
        out.flush()
