"""An independent fake of LASP's PODA (a LaTiS 3 "dap2" service), written from the wire
contract (SDC-PROTOCOL §1.7), NOT from `imap serve`, so a misreading shared by both shows.

`GET /ops/imap/poda/dap2/apids/<SID>/apid_<N>.<ext>?<constraints>` behind HTTP Basic auth:
- ext `txt` (CSV rows, no header, CRLF), `csv` (with a header), `bin` (raw bytes of the
  projected values back to back); anything else is 400 `Unknown extension: <x>`;
- constraints: selections `name OP value` (OP >= <= > < = == !=) on time/ert, at millisecond
  precision; `project(...)` (or a bare `a,b` first piece), `formatTime("<pattern>")`,
  `take(n)`, `takeRight(n)`, `count()`; an unknown operation is 400 `Operation not found`;
- bodies are chunked (no Content-Length); an empty selection is 200 with an empty body;
- 404 `Resource not found: <path>` for an unknown SID or APID; 401 without the credential.

Every request is recorded (`fake.seen`: raw path and query, headers). Faults: `fake.fail(n,
status=503)` answers the next n matching requests with a status; `fake.cut(n)` sends half a
body and drops the connection.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from quiet_http import QuietHTTPServer

ROOT = "/ops/imap/poda/dap2/apids"
COLUMNS = ("time", "ert", "packet", "length")
_SELECTION = re.compile(r"^(time|ert|length)(>=|<=|==|!=|>|<|=)(.*)$")
_OPERATION = re.compile(r"^(\w+)\((.*)\)$")


def ccsds(apid: int, seq: int, payload: bytes) -> bytes:
    """One CCSDS space packet: version 0, telemetry, secondary header flag, the APID, a
    standalone sequence, and the length field (payload bytes - 1)."""
    word1 = (0b000 << 13) | (0 << 12) | (1 << 11) | (apid & 0x7FF)
    word2 = (0b11 << 14) | (seq & 0x3FFF)
    return (
        word1.to_bytes(2, "big")
        + word2.to_bytes(2, "big")
        + (len(payload) - 1).to_bytes(2, "big")
        + payload
    )


@dataclass
class Packet:
    time: dt.datetime  # packet (spacecraft) time
    ert: dt.datetime  # Earth-received time
    data: bytes


@dataclass
class Seen:
    path: str  # raw, as sent (percent-encoding kept)
    query: str  # raw
    headers: dict[str, str]
    status: int = 0


def _ms(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


def _parse_time(text: str) -> dt.datetime:
    text = text.strip().strip("'\"")
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        with contextlib.suppress(ValueError):
            return dt.datetime.strptime(text, pattern)
    raise ValueError(f"Failed to parse time: {text}")


def _java_format(moment: dt.datetime, pattern: str) -> str:
    """The few Java SimpleDateFormat letters PODA's users send."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.index("'", i + 1)
            out.append(pattern[i + 1 : end])
            i = end + 1
            continue
        for token, value in (
            ("yyyy", f"{moment.year:04d}"),
            ("MM", f"{moment.month:02d}"),
            ("dd", f"{moment.day:02d}"),
            ("HH", f"{moment.hour:02d}"),
            ("mm", f"{moment.minute:02d}"),
            ("ss", f"{moment.second:02d}"),
            ("SSS", f"{moment.microsecond // 1000:03d}"),
        ):
            if pattern.startswith(token, i):
                out.append(value)
                i += len(token)
                break
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


class BadQuery(Exception):
    pass


@dataclass
class FakePoda:
    """The fake's state: packets per (SID, APID), the credential, the log and the faults."""

    user: str = "poda-user"
    password: str = "poda-pass"
    packets: dict[tuple[str, int], list[Packet]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    statuses: list[tuple[int, str]] = field(default_factory=list)  # (status, path fragment)
    cuts: list[str] = field(default_factory=list)  # path fragments
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token(self) -> str:
        return base64.b64encode(f"{self.user}:{self.password}".encode()).decode()

    def add(self, apid: int, time: dt.datetime, ert: dt.datetime | None = None, *,
            size: int = 20, sid: str = "SID1") -> bytes:  # fmt: skip
        """Store one packet of `size` payload bytes (deterministic), return its bytes."""
        with self.lock:
            stored = self.packets.setdefault((sid, apid), [])
            seq = len(stored)
            payload = bytes((apid + seq + i) % 256 for i in range(size))
            packet = Packet(time, ert or time, ccsds(apid, seq, payload))
            stored.append(packet)
            return packet.data

    def fail(self, times: int, status: int = 503, path: str = "") -> None:
        """Answer the next `times` requests whose path holds `path` with `status`."""
        with self.lock:
            self.statuses += [(status, path)] * times

    def cut(self, times: int, path: str = ".bin") -> None:
        """Cut the next `times` matching bodies after half of them."""
        with self.lock:
            self.cuts += [path] * times

    def bins(self) -> list[Seen]:
        return [s for s in self.seen if ".bin" in s.path]

    def texts(self) -> list[Seen]:
        return [s for s in self.seen if ".txt" in s.path]

    # --- the model ---

    def answer(self, path: str, query: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a request path and raw query string."""
        rest = path[len(ROOT) :].strip("/") if path.startswith(ROOT) else None
        parts = rest.split("/") if rest else []
        if len(parts) != 2 or "." not in parts[1]:
            return 404, "text/plain", f"Resource not found: {path}".encode()
        sid, leaf = parts
        dataset, ext = leaf.rsplit(".", 1)
        if ext not in ("txt", "csv", "bin"):
            return 400, "text/plain", f"Unknown extension: {ext}".encode()
        found = re.fullmatch(r"apid_(\d+)", dataset)
        key = (sid, int(found.group(1))) if found else None
        if key is None or sid not in ("SID1", "SID2", "SID3"):
            return 404, "text/plain", f"Resource not found: {path}".encode()
        try:
            rows, columns, pattern, counting = self._select(self.packets.get(key, []), query)
        except BadQuery as bad:
            return 400, "text/plain", str(bad).encode()
        return self._render(rows, columns, pattern, counting, ext)

    def _select(
        self, packets: list[Packet], query: str
    ) -> tuple[list[Packet], list[str], Any, bool]:
        rows = sorted(packets, key=lambda p: _ms(p.time))
        columns, pattern, counting = list(COLUMNS), None, False
        pieces = [unquote(p) for p in query.split("&") if p]
        for index, piece in enumerate(pieces):
            selection = _SELECTION.match(piece)
            operation = _OPERATION.match(piece)
            if selection:
                name, op, value = selection.groups()
                try:
                    bound = _ms(_parse_time(value)) if name != "length" else int(value)
                except ValueError as exc:
                    raise BadQuery(str(exc)) from None
                rows = [r for r in rows if _compare(_value(r, name), op, bound)]
            elif operation:
                name, args = operation.groups()
                if name == "project":
                    columns = [c for c in COLUMNS if c in {a.strip() for a in args.split(",")}]
                elif name == "formatTime":
                    pattern = args.strip().strip('"')
                elif name == "take":
                    rows = rows[: int(args)]
                elif name == "takeRight":
                    rows = rows[-int(args) :] if int(args) else []
                elif name == "count":
                    counting = True
                else:
                    raise BadQuery(f"Operation not found: {name}")
            elif index == 0 and re.fullmatch(r"[\w,]+", piece):
                columns = [c for c in COLUMNS if c in piece.split(",")]
            else:
                raise BadQuery(f"Failed to parse expression: {piece}")
        return rows, columns, pattern, counting

    def _render(self, rows, columns, pattern, counting, ext) -> tuple[int, str, bytes]:
        if counting:
            text = ("count\r\n" if ext == "csv" else "") + f"{len(rows)}\r\n"
            return 200, "text/plain", text.encode()
        if ext == "bin":
            body = b"".join(
                r.data if c == "packet" else _cell(r, c, pattern).encode()
                for r in rows
                for c in columns
            )
            return 200, "application/octet-stream", body
        lines = [",".join(_cell(r, c, pattern) for c in columns) for r in rows]
        if ext == "csv":
            lines.insert(0, ",".join(columns))
        body = "".join(line + "\r\n" for line in lines).encode()
        return 200, "text/csv" if ext == "csv" else "text/plain", body


def _value(packet: Packet, name: str) -> int:
    if name == "length":
        return len(packet.data)
    return _ms(getattr(packet, name))


def _compare(left: int, op: str, right: int) -> bool:
    return {
        ">=": left >= right,
        "<=": left <= right,
        ">": left > right,
        "<": left < right,
        "=": left == right,
        "==": left == right,
        "!=": left != right,
    }[op]


def _cell(packet: Packet, column: str, pattern: str | None) -> str:
    if column in ("time", "ert"):
        moment = getattr(packet, column)
        if pattern:
            return _java_format(moment, pattern)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    if column == "length":
        return str(len(packet.data))
    return packet.data.hex()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake: FakePoda = self.server.fake  # type: ignore[attr-defined]
        path, _, query = self.path.partition("?")
        seen = Seen(path, query, {k.lower(): v for k, v in self.headers.items()})
        with fake.lock:
            fake.seen.append(seen)
            target = f"{path}?{query}"  # a fault may name a path and the start of its query
            status_fault = next((f for f in fake.statuses if f[1] in target), None)
            if status_fault:
                fake.statuses.remove(status_fault)
            cut = next((c for c in fake.cuts if c in target), None)
            if cut and not status_fault:
                fake.cuts.remove(cut)
        if self.headers.get("Authorization") != f"Basic {fake.token}":
            self._send(seen, 401, "text/plain", b"Unauthorized")
            return
        if status_fault:
            self._send(seen, status_fault[0], "text/plain", b"Service Unavailable")
            return
        with fake.lock:
            status, kind, body = fake.answer(path, query)
        self._send(seen, status, kind, body, cut=bool(cut) and status == 200)

    def _send(self, seen: Seen, status: int, kind: str, body: bytes, cut: bool = False) -> None:
        seen.status = status
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if status != 200:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if cut:
            half = body[: max(1, len(body) // 2)]
            self.wfile.write(f"{len(body):x}\r\n".encode() + half)
            self.wfile.flush()
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        for at in range(0, len(body), 4096):
            chunk = body[at : at + 4096]
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


class PodaServer:
    """The fake on 127.0.0.1 (a free port), in a daemon thread; a context manager."""

    def __init__(self, fake: FakePoda | None = None) -> None:
        self.fake = fake or FakePoda()

    def __enter__(self) -> PodaServer:
        self.server = QuietHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.fake = self.fake  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        """The `.../dap2/apids` base."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{ROOT}"
