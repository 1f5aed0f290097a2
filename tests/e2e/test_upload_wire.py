"""core.upload over real sockets: what goes on the wire to the SDC and to the object host.

Two stdlib HTTP servers on 127.0.0.1, on different ports: an "SDC" that hands out upload URLs
and an "object host" that records each PUT (headers and bytes) and answers from a script.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from quiet_http import QuietHTTPServer

from imap_cli.core.http import SDCClient
from imap_cli.core.settings import resolve
from imap_cli.core.transfer import Stage, TransferEvent
from imap_cli.core.upload import PROGRESS_STEP, upload_files

KEY = "secret-key-0123456789"
MAG = "imap_mag_l1a_norm-mago_20250102_v001.0002.cdf"


@dataclass
class Put:
    path: str
    headers: dict[str, str]
    body: bytes
    reads: int  # recv calls: more than one means the body arrived as a stream


@dataclass
class Wire:
    api_url: str
    objects_url: str
    api_headers: list[dict[str, str]] = field(default_factory=list)
    puts: list[Put] = field(default_factory=list)
    # Answers for successive PUTs: a status, or ("307", path) to redirect.
    script: list[object] = field(default_factory=list)


def _serve(handler: type[BaseHTTPRequestHandler]) -> QuietHTTPServer:
    server = QuietHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def wire() -> Iterator[Wire]:
    state: dict[str, Wire] = {}

    class Objects(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            chunks, reads = [], 0
            while length > 0:
                chunk = self.rfile.read1(min(length, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                length -= len(chunk)
                reads += 1
            w = state["wire"]
            w.puts.append(Put(self.path, dict(self.headers.items()), b"".join(chunks), reads))
            answer = w.script.pop(0) if w.script else 200
            if isinstance(answer, tuple):
                self.send_response(307)
                self.send_header("Location", w.objects_url + answer[1])
            else:
                self.send_response(int(answer))
            self.send_header("Content-Length", "0")
            self.end_headers()

    class Api(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            w = state["wire"]
            w.api_headers.append(dict(self.headers.items()))
            name = self.path.rsplit("/", 1)[-1]
            body = json.dumps(f"{w.objects_url}/bucket/{name}?X-Amz-Signature=1").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    objects, api = _serve(Objects), _serve(Api)
    state["wire"] = Wire(
        api_url=f"http://127.0.0.1:{api.server_address[1]}",
        objects_url=f"http://127.0.0.1:{objects.server_address[1]}",
    )
    yield state["wire"]
    for server in (objects, api):
        server.shutdown()
        server.server_close()


def client_for(wire: Wire, **changes) -> SDCClient:
    settings = replace(resolve(), **{"url": wire.api_url, "retries": 2, **changes})
    return SDCClient(settings, sleep=lambda _: None)


def credential_names(headers: dict[str, str]) -> set[str]:
    return {k.lower() for k in headers} & {"x-api-key", "authorization"}


def test_the_put_is_streamed_with_content_length_and_no_credentials(
    wire: Wire, tmp_path: Path
) -> None:
    size = 3 * PROGRESS_STEP + 4321
    path = tmp_path / MAG
    path.write_bytes(os.urandom(size))
    events: list[TransferEvent] = []
    with client_for(wire, api_key=KEY) as client:
        (result,) = upload_files(client, [path], jobs=1, on_event=events.append)
    assert result.status == "uploaded", result.error
    assert wire.api_headers[0]["x-api-key"] == KEY
    (put,) = wire.puts
    assert put.path == f"/bucket/{MAG}?X-Amz-Signature=1"
    assert put.body == path.read_bytes()
    assert put.reads > 1
    headers = {k.lower(): v for k, v in put.headers.items()}
    assert headers["content-length"] == str(size)
    assert headers["content-type"] == ""
    assert "transfer-encoding" not in headers
    assert credential_names(put.headers) == set()
    progress = [e for e in events if e.stage == Stage.PROGRESS]
    assert len(progress) >= 3 and sum(e.advance for e in progress) == size


def test_307_and_503_resend_the_whole_file_without_credentials(wire: Wire, tmp_path: Path) -> None:
    path = tmp_path / MAG
    path.write_bytes(os.urandom(PROGRESS_STEP + 99))
    wire.script = [("307", f"/regional/{MAG}"), 503, 200]
    events: list[TransferEvent] = []
    with client_for(wire, access_token="token-0123456789") as client:
        (result,) = upload_files(client, [path], on_event=events.append)
    assert result.status == "uploaded", result.error
    assert wire.api_headers[0]["Authorization"] == "Bearer token-0123456789"
    assert [p.path.split("?")[0] for p in wire.puts] == [
        f"/bucket/{MAG}",
        f"/regional/{MAG}",
        f"/regional/{MAG}",
    ]
    for put in wire.puts:
        assert put.body == path.read_bytes()
        assert credential_names(put.headers) == set()
    assert sum(e.advance for e in events) == path.stat().st_size
