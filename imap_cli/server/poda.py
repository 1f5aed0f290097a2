"""`imap serve` as LASP's PODA: `/ops/imap/poda/dap2/apids/<SID>/apid_<N>.<txt|csv|bin>`.

The packets come from `<archive>/poda/<SID>/*.pkts`: CCSDS packets back to back, in any order.
A packet's time is its secondary header's first 4 bytes, whole seconds after MET_EPOCH (IMAP's
SHCOARSE); its Earth-received time is its file's modification time (a backfill is a file
written later). Files are read again when their size or mtime changes.

Constraints, as LaTiS 3 reads them: selections `time|ert|length OP value` (>= <= > < = == !=;
times compared at millisecond precision), `project(...)` (or a bare first `a,b`),
`formatTime("<Java pattern>")`, `take(n)`, `takeRight(n)`, `count()`. Text answers are CSV
with CRLF (`.csv` with a header row); `packet` in text is hex. `.bin` answers the selected
values' bytes back to back. Bodies are streamed (chunked). Errors are plain text: 404
`Resource not found: <path>`, 400 `Unknown extension: <x>` / `Operation not found: <name>` /
the parser's message, 401 without the Basic credential when the server has one.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import os
import re
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

PREFIX = "/ops/imap/poda/dap2/"
FOLDER = "poda"
SIDS = ("SID1", "SID2", "SID3")
MET_EPOCH = dt.datetime(2010, 1, 1, tzinfo=dt.timezone.utc)
COLUMNS = ("time", "ert", "packet", "length")
_EPOCH_MS = int(MET_EPOCH.timestamp() * 1000)
_SELECT = re.compile(r"(time|ert|length)\s*(>=|<=|==|!=|=|>|<)\s*(.+)")
_CALL = re.compile(r"(\w+)\((.*)\)")
_JAVA = re.compile(r"'[^']*'|yyyy|MM|dd|HH|mm|ss|SSS|DDD|.")

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Stored:
    """One packet: its time and ERT (epoch ms) and where its bytes are."""

    time: int
    ert: int
    path: str
    offset: int
    size: int


def packet_time_ms(packet: bytes) -> int:
    """Epoch milliseconds of a packet's SHCOARSE (seconds after MET_EPOCH)."""
    if len(packet) < 10:
        return _EPOCH_MS
    return _EPOCH_MS + struct.unpack(">I", packet[6:10])[0] * 1000


def read_packets(path: Path) -> dict[int, list[Stored]]:
    """The packets of one file by APID; a truncated last packet is left out."""
    info = path.stat()
    ert = info.st_mtime_ns // 1_000_000
    found: dict[int, list[Stored]] = {}
    data = path.read_bytes()
    at = 0
    while at + 6 <= len(data):
        apid = int.from_bytes(data[at : at + 2], "big") & 0x7FF
        size = 6 + int.from_bytes(data[at + 4 : at + 6], "big") + 1
        if at + size > len(data):
            break
        stored = Stored(packet_time_ms(data[at : at + size]), ert, str(path), at, size)
        found.setdefault(apid, []).append(stored)
        at += size
    return found


class PacketStore:
    """The packets under `<root>/poda/<SID>`, re-read per file when it changes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / FOLDER
        self.lock = threading.Lock()
        self.files: dict[str, tuple[tuple[int, int], dict[int, list[Stored]]]] = {}

    def packets(self, sid: str, apid: int) -> list[Stored]:
        """The APID's packets, in time order (then file order)."""
        folder = self.root / sid
        out: list[Stored] = []
        try:
            entries = [e for e in os.scandir(folder) if e.name.endswith(".pkts")]
        except OSError:
            return out
        for entry in sorted(entries, key=lambda e: e.name):
            info = entry.stat()
            stamp = (info.st_size, info.st_mtime_ns)
            with self.lock:
                cached = self.files.get(entry.path)
                if cached is None or cached[0] != stamp:
                    cached = (stamp, read_packets(Path(entry.path)))
                    self.files[entry.path] = cached
            out.extend(cached[1].get(apid, ()))
        out.sort(key=lambda p: p.time)
        return out


class Refusal(Exception):
    """A 400 with PODA's plain-text message."""


@dataclass
class Request:
    """What the constraints ask for."""

    columns: list[str]
    pattern: str | None = None
    count: bool = False


def parse(query: str, rows: list[Stored]) -> tuple[list[Stored], Request]:
    """Apply the constraints in order: the rows kept, and what to render."""
    wanted = Request(list(COLUMNS))
    for index, piece in enumerate(p for p in unquote(query).split("&") if p):
        selection = _SELECT.fullmatch(piece)
        call = _CALL.fullmatch(piece)
        if selection:
            name, op, raw = selection.groups()
            bound = int(raw) if name == "length" else _time_ms(raw)
            rows = [r for r in rows if _holds(_column(r, name), op, bound)]
        elif call:
            rows = _operation(call.group(1), call.group(2), rows, wanted)
        elif index == 0 and re.fullmatch(r"\w+(,\w+)*", piece):
            wanted.columns = _projection(piece)
        else:
            raise Refusal(f"Failed to parse constraint: {piece}")
    return rows, wanted


def _operation(name: str, args: str, rows: list[Stored], wanted: Request) -> list[Stored]:
    if name == "project":
        wanted.columns = _projection(args)
    elif name == "formatTime":
        wanted.pattern = args.strip().strip('"')
    elif name in ("take", "takeRight"):
        if not args.strip().isdigit():
            raise Refusal(f"{name} needs a whole number, not {args!r}")
        n = int(args)
        return rows[:n] if name == "take" else (rows[len(rows) - n :] if n else [])
    elif name == "count":
        wanted.count = True
    else:
        raise Refusal(f"Operation not found: {name}")
    return rows


def _projection(args: str) -> list[str]:
    names = [a.strip() for a in args.split(",") if a.strip()]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise Refusal(f"Variable not found: {unknown[0]}")
    return [c for c in COLUMNS if c in names]  # the model's order, as LaTiS keeps it


def _time_ms(raw: str) -> int:
    text = raw.strip().strip("'\"")
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            moment = dt.datetime.strptime(text, pattern).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
        return int(moment.timestamp() * 1000)
    raise Refusal(f"Failed to parse time: {text}")


def _column(row: Stored, name: str) -> int:
    return row.size if name == "length" else getattr(row, name)


def _holds(left: int, op: str, right: int) -> bool:
    if op in ("=", "=="):
        return left == right
    if op == "!=":
        return left != right
    if op == ">=":
        return left >= right
    if op == "<=":
        return left <= right
    return left > right if op == ">" else left < right


def java_time(ms: int, pattern: str | None) -> str:
    """Epoch ms as ISO with milliseconds, or per a Java SimpleDateFormat pattern."""
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    if pattern is None:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}"
    fields = {
        "yyyy": f"{moment.year:04d}",
        "MM": f"{moment.month:02d}",
        "dd": f"{moment.day:02d}",
        "HH": f"{moment.hour:02d}",
        "mm": f"{moment.minute:02d}",
        "ss": f"{moment.second:02d}",
        "SSS": f"{ms % 1000:03d}",
        "DDD": f"{moment.timetuple().tm_yday:03d}",
    }
    out = []
    for token in _JAVA.findall(pattern):
        if token.startswith("'"):
            out.append(token[1:-1] or "'")
        else:
            out.append(fields.get(token, token))
    return "".join(out)


class _Reader:
    """Packet bytes from their files, each file opened once per answer."""

    def __init__(self) -> None:
        self.handles: dict[str, IO[bytes]] = {}

    def __call__(self, row: Stored) -> bytes:
        handle = self.handles.get(row.path)
        if handle is None:
            handle = self.handles[row.path] = open(row.path, "rb")  # noqa: SIM115
        handle.seek(row.offset)
        return handle.read(row.size)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def _text(row: Stored, columns: list[str], pattern: str | None, read: _Reader) -> str:
    cells = []
    for name in columns:
        if name in ("time", "ert"):
            cells.append(java_time(getattr(row, name), pattern))
        elif name == "length":
            cells.append(str(row.size))
        else:
            cells.append(read(row).hex())
    return ",".join(cells) + "\r\n"


def _body(rows: list[Stored], wanted: Request, ext: str) -> Iterator[bytes]:
    if wanted.count:
        yield (("count\r\n" if ext == "csv" else "") + f"{len(rows)}\r\n").encode()
        return
    if ext == "csv":
        yield (",".join(wanted.columns) + "\r\n").encode()
    batch: list[bytes] = []
    read = _Reader()
    try:
        for row in rows:
            if ext == "bin":
                batch.extend(_binary(row, wanted.columns, read))
            else:
                batch.append(_text(row, wanted.columns, wanted.pattern, read).encode())
            if len(batch) >= 256:
                yield b"".join(batch)
                batch = []
    finally:
        read.close()
    if batch:
        yield b"".join(batch)


def _binary(row: Stored, columns: list[str], read: _Reader) -> Iterator[bytes]:
    for name in columns:
        if name == "packet":
            yield read(row)
        elif name == "length":
            yield row.size.to_bytes(4, "big")
        else:
            yield getattr(row, name).to_bytes(8, "big", signed=True)


_TYPES = {"txt": "text/plain", "csv": "text/csv", "bin": "application/octet-stream"}


class PodaApp:
    """The PODA routes; anything else goes to `fallback` (the SDC API)."""

    def __init__(self, root: Path, credentials: str | None, fallback: Any) -> None:
        self.store = PacketStore(root)
        self.fallback = fallback
        # "user:password" -> the Basic header a client must send
        self.expected = (
            None
            if credentials is None
            else "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.fallback(environ, start_response)
        if self.expected is not None and not hmac.compare_digest(
            environ.get("HTTP_AUTHORIZATION", "").encode(), self.expected.encode()
        ):
            return _plain(start_response, 401, "Unauthorized", [("WWW-Authenticate", "Basic")])
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return _plain(start_response, 405, "Method not allowed")
        try:
            return self._answer(environ, path, start_response)
        except Refusal as refusal:
            return _plain(start_response, 400, str(refusal))
        except OSError:  # a packet file that went away or cannot be read
            return _plain(start_response, 500, "Internal Server Error")

    def _answer(
        self, environ: dict[str, Any], path: str, start_response: StartResponse
    ) -> Iterable[bytes]:
        parts = path[len(PREFIX) :].split("/")
        if len(parts) != 3 or parts[0] != "apids" or parts[1] not in SIDS or "." not in parts[2]:
            return _plain(start_response, 404, f"Resource not found: {path}")
        dataset, ext = parts[2].rsplit(".", 1)
        found = re.fullmatch(r"apid_(\d{1,4})", dataset)
        if ext not in _TYPES:
            raise Refusal(f"Unknown extension: {ext}")
        if not found:
            return _plain(start_response, 404, f"Resource not found: {path}")
        rows = self.store.packets(parts[1], int(found.group(1)))
        rows, wanted = parse(environ.get("QUERY_STRING", ""), rows)
        start_response("200 OK", [("Content-Type", _TYPES[ext])])
        if environ["REQUEST_METHOD"] == "HEAD":
            return []
        return _body(rows, wanted, ext)


def _plain(
    start_response: StartResponse, status: int, text: str, extra: list | None = None
) -> list[bytes]:
    from http import HTTPStatus

    body = text.encode()
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers + (extra or []))
    return [body]


def with_poda(app: Any, root: Path, credentials: str | None) -> PodaApp:
    """`app` (the SDC API), answering PODA's paths too."""
    return PodaApp(root, credentials, app)
