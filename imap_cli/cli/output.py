"""One Output object: data on stdout, messages and progress on stderr."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from imap_cli.core.errors import UNSAFE_TEXT as _UNSAFE_CHARS
from imap_cli.core.errors import IMAPError, printable


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
    stdin_tty: bool | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def __post_init__(self) -> None:
        if self.stdout_tty is None:
            self.stdout_tty = _isatty(self.stdout)
        if self.stderr_tty is None:
            self.stderr_tty = _isatty(self.stderr)
        if self.stdin_tty is None:
            self.stdin_tty = _isatty(self.stdin)

    @property
    def columns(self) -> int | None:
        """The width tables must fit: COLUMNS, else the terminal's; None for a pipe or file."""
        text = self.env.get("COLUMNS", "").strip()
        if text.isdigit() and int(text) > 0:
            return int(text)
        if not self.stdout_tty:
            return None
        try:
            return os.get_terminal_size(self.stdout.fileno()).columns or None
        except (AttributeError, ValueError, OSError):
            return None

    @property
    def color(self) -> bool:
        """Colour on stderr: a terminal, and NO_COLOR not set."""
        return bool(self.stderr_tty) and not self.env.get("NO_COLOR")


def silence(stream: Any) -> None:
    """Point a stream whose reader has gone at the null device: later writes, and the flush at
    exit, then succeed instead of raising BrokenPipeError (or turning the exit code into 120)."""
    with contextlib.suppress(Exception):
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


def _data(method: Callable[..., None]) -> Callable[..., None]:
    """A stdout writer that outlives its reader: `imap download - | head -1` still finishes,
    says its summary on stderr and exits with its own code (not click's 1 for a broken pipe)."""

    @functools.wraps(method)
    def guarded(self: Output, *args: Any, **kwargs: Any) -> None:
        if self.stdout_gone:
            return
        try:
            method(self, *args, **kwargs)
        except BrokenPipeError:
            self.stdout_gone = True
            silence(self.streams.stdout)

    return guarded


class Output:
    """Everything a command shows. `quiet` silences notes; `verbose` adds detail."""

    def __init__(self, streams: Streams | None = None, *, quiet: bool = False, verbose: int = 0):
        self.streams = streams or Streams()
        self.quiet = quiet
        self.verbose = verbose
        self._console = None
        self.stdout_gone = False  # the reader of stdout has left (see _data)

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
        text = printable(text)
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

    def prompt(self, text: str) -> None:
        """What the command waits for from the person at the terminal; shown even with -q."""
        self._say(text, "cyan")

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
        if isinstance(error, IMAPError):
            from imap_cli.cli.errors import message_for
            from imap_cli.cli.hints import hint_for

            message = message_for(error)
            hint = hint_for(error) if hint is None else hint
        else:
            message = str(error)
        self._say(f"Error: {' '.join(message.split())}", "bold red")
        if hint:
            self._say(f"Hint: {hint}", "cyan")

    def ask(self, question: str) -> bool:
        """Ask yes/no on stderr, read the answer from stdin; only "y"/"yes" is yes.

        Callers ask only when stdin is a terminal (`stdin_tty`); end of input is no.
        """
        self.streams.stderr.write(f"{printable(question)} [y/N] ")
        self.streams.stderr.flush()
        answer = self.streams.stdin.readline()
        if not answer.endswith("\n"):
            self.streams.stderr.write("\n")
        return answer.strip().lower() in ("y", "yes")

    @property
    def stdin_tty(self) -> bool:
        """True when stdin is a terminal (a person could answer a question)."""
        return _isatty(self.streams.stdin)

    @_data
    def write(self, text: str) -> None:
        """Raw text to stdout."""
        self.streams.stdout.write(text)

    @_data
    def lines(self, items: Iterable[str]) -> None:
        """One item per line on stdout."""
        out = self.streams.stdout
        if self.streams.stdout_tty:
            items = map(printable, items)
        out.writelines(f"{item}\n" for item in items)
        out.flush()

    @_data
    def json(self, data: Any) -> None:
        """Valid JSON on stdout: indented for a terminal, one line for a pipe."""
        indent = 2 if self.streams.stdout_tty else None
        self.streams.stdout.write(json.dumps(data, indent=indent, ensure_ascii=False) + "\n")
        self.streams.stdout.flush()

    @_data
    def csv(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """A header row, then one row per record."""
        import csv

        writer = csv.writer(self.streams.stdout, lineterminator="\n")
        writer.writerow(columns)
        cells = (["" if v is None else v for v in row] for row in rows)
        if self.streams.stdout_tty:  # a pipe gets the data as it is; a terminal, nothing to obey
            cells = ([printable(str(v)) for v in row] for row in cells)
        writer.writerows(cells)
        self.streams.stdout.flush()

    @_data
    def json_bytes(self, body: bytes) -> None:
        """Already-encoded JSON (UTF-8) on stdout, unchanged: no decode/encode round trip."""
        out = self.streams.stdout
        out.flush()
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            buffer.write(body.rstrip())
            buffer.write(b"\n")
            buffer.flush()
        else:  # a text-only stream (e.g. io.StringIO)
            out.write(body.decode("utf-8").rstrip() + "\n")
            out.flush()

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        title: str | None = None,
        drop_order: Sequence[str] = (),
    ) -> None:
        """A table on stdout that a person can read, fast at tens of thousands of rows.

        rich's Table measures every cell of every row and takes seconds at 30,000 rows, so
        the columns are sized here once and each row is a single formatted line.
        """
        data = list(zip(*rows)) if rows else [() for _ in columns]
        self.table_columns(columns, data, title, drop_order=drop_order)

    def _fit(
        self,
        columns: Sequence[str],
        texts: list[Sequence[str]],
        widths: list[int],
        styles: Mapping[int, Mapping[str, str]] | None,
        limit: int,
        drop_order: Sequence[str],
    ) -> tuple[Any, Any, Any, Any]:
        """The columns (names, texts, widths, styles) that fit `limit`, by `drop_order`."""
        keep = fitting_columns(columns, widths, limit, drop_order)
        if len(keep) == len(columns):
            return columns, texts, widths, styles
        hidden = [columns[i] for i in range(len(columns)) if i not in keep]
        self.detail(f"Not shown at {limit} columns: {', '.join(hidden)}.")
        if styles:
            styles = {keep.index(i): v for i, v in styles.items() if i in keep}
        return (
            [columns[i] for i in keep],
            [texts[i] for i in keep],
            [min(widths[i], limit) if len(keep) == 1 else widths[i] for i in keep],
            styles,
        )

    @_data
    def table_columns(
        self,
        columns: Sequence[str],
        data: Sequence[Sequence[Any]],
        title: str | None = None,
        styles: Mapping[int, Mapping[str, str]] | None = None,
        drop_order: Sequence[str] = (),
        last_below: bool = False,
    ) -> None:
        """Like table(), given column by column (`data[i]` holds column i's values).

        `last_below`: when the table is too wide, the last column (a long handle, e.g. a job's
        log stream) goes under each row, indented; the others fit by `drop_order`.

        Column-wise is the fast way: widths are one C-level max() per column, and each line
        is one %-format. None prints as empty; other non-text values through str().
        `styles`: column index -> {cell text: SGR code, e.g. "31" for red}, applied on a
        colour terminal only (e.g. a job's status).

        With a `drop_order`, the table fits `streams.columns` (when known): the columns it names
        are left out, first to last, until the lines fit; no cell is ever cut. When only the
        columns not in `drop_order` remain and still do not fit, the last column (the file
        name) stands alone. Without one, nothing is left out.
        """
        texts: list[Sequence[str]] = []
        for values in data:
            if set(map(type, values)) <= {str}:
                texts.append(values)
            else:
                texts.append(["" if v is None else str(v) for v in values])
        widths = [
            max(len(name), max(map(len, values), default=0)) for name, values in zip(columns, texts)
        ]
        limit = self.streams.columns if drop_order else None
        below: Sequence[str] | None = None
        if last_below and limit and len(columns) > 1 and sum(widths) + 2 * len(widths) > limit + 2:
            below, below_name = texts[-1], columns[-1]
            columns, texts, widths = columns[:-1], texts[:-1], widths[:-1]
        if limit is not None and columns:
            columns, texts, widths, styles = self._fit(
                columns, texts, widths, styles, limit, drop_order
            )
        # The last column is not padded: no trailing blanks on every line.
        fmt = "  ".join([*(f"%-{w}s" for w in widths[:-1]), "%s"])
        out = self.streams.stdout
        encoding = (getattr(out, "encoding", None) or "utf-8").lower().replace("-", "")
        rule_char = "─" if encoding in ("utf8", "utf8sig") else "-"
        header = (fmt % tuple(columns)).rstrip()
        rule = "  ".join(rule_char * w for w in widths)
        if below is not None:
            header += f"\n  {below_name}"
        body = "\n".join(map(fmt.__mod__, zip(*texts)))
        if body and body.count("\n") != len(texts[0]) - 1:  # a cell with a line break
            texts = [[v.replace("\n", "?") for v in values] for values in texts]
            body = "\n".join(map(fmt.__mod__, zip(*texts)))
        # Server strings are written as plain text: control and bidi characters (which could
        # move the cursor or reorder what is shown) become "?", one character for one.
        if _UNSAFE_CHARS.search(body):
            body = _UNSAFE_CHARS.sub("?", body)
        color = bool(self.streams.stdout_tty) and not self.streams.env.get("NO_COLOR")
        if color and styles and body:
            # Pad first, then wrap in the colour: the %-format's padding then adds nothing.
            # The body was made safe above; rebuild it from safe cells, then add the codes.
            texts = [[_UNSAFE_CHARS.sub("?", v.replace("\n", "?")) for v in t] for t in texts]
            for index, codes in styles.items():
                width = widths[index]
                texts[index] = [
                    f"\x1b[{codes[v]}m{v.ljust(width)}\x1b[0m" if v in codes else v
                    for v in texts[index]
                ]
            body = "\n".join(map(fmt.__mod__, zip(*texts)))
        if below is not None and body:
            body = _with_handles(body, below)
        parts = [f"{title}\n"] if title else []
        parts.append(f"\x1b[1m{header}\x1b[0m\n" if color else header + "\n")
        parts.append(rule + "\n")
        if body:
            parts.append(body + "\n")
        out.write("".join(parts))
        out.flush()


def _with_handles(body: str, below: Sequence[str]) -> str:
    """Each line of `body` with its handle under it, indented, made safe as the cells were."""
    handles = [_UNSAFE_CHARS.sub("?", b.replace("\n", "?")) for b in below]
    return "\n".join(f"{line}\n  {handle}" for line, handle in zip(body.split("\n"), handles))


def fitting_columns(
    columns: Sequence[str], widths: Sequence[int], limit: int, drop_order: Sequence[str]
) -> list[int]:
    """Indexes of the columns to show so a line (two blanks between columns) fits `limit`.

    Columns go in `drop_order`; if the rest still does not fit, only the last column stays.
    """
    keep = list(range(len(columns)))

    def width() -> int:
        return sum(widths[i] for i in keep) + 2 * (len(keep) - 1)

    for name in drop_order:
        if width() <= limit:
            return keep
        if name in columns and columns.index(name) in keep and len(keep) > 1:
            keep.remove(columns.index(name))
    if width() > limit:
        return [len(columns) - 1]
    return keep


def table_date(value: Any) -> str:
    """A date or time as every table shows it: `YYYY-MM-DD`, and ` HH:MM` (UTC) only when the
    time is not midnight. Takes the SDC's forms (20251001, 2025-10-01, "20251002 10:51:16",
    "2025-10-01, 00:00:00", ISO with an offset); anything else is shown as it came."""
    import datetime as dt

    if value is None or value == "":
        return ""
    text = str(value).strip().replace(", ", " ").replace("T", " ")
    if len(text) >= 8 and text[:8].isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:8]}{text[8:]}"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if moment.time() == dt.time(0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M")


def table_dates(values: Sequence[Any]) -> list[str]:
    """table_date() of each value; each distinct value converted once (a column of a large
    answer repeats few dates)."""
    seen: dict[Any, str] = {}
    out = []
    for value in values:
        key = value if isinstance(value, (str, int)) or value is None else str(value)
        if key not in seen:
            seen[key] = table_date(value)
        out.append(seen[key])
    return out
