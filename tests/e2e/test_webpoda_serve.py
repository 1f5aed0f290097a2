"""`imap serve` answering as PODA, and `imap webpoda` against `imap serve --demo`."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest
import requests

from imap_cli.server import start_server

ROOT = "/ops/imap/poda/dap2/apids"
TOKEN = base64.b64encode(b"demo:secret").decode()


@pytest.fixture
def guarded(demo_root: Path):
    """The demo served with PODA credentials."""
    with start_server(
        demo_root, rescan_interval=0, log=sys.stderr, poda_credentials="demo:secret"
    ) as server:
        yield server


def get(server, path: str, token: str | None = TOKEN) -> requests.Response:
    headers = {"Authorization": f"Basic {token}"} if token else {}
    return requests.get(server.url + ROOT + path, headers=headers, timeout=10)


def test_poda_answers_and_errors(guarded):
    whole = get(guarded, "/SID1/apid_1052.bin?project(packet)")
    assert whole.status_code == 200 and whole.headers["Content-Type"] == "application/octet-stream"
    assert "Content-Length" not in whole.headers  # streamed
    lines = get(guarded, "/SID1/apid_1052.txt?project(time)").text.split("\r\n")
    assert lines[0] == "2025-10-01T00:10:00.000" and lines[-1] == ""
    count = int(get(guarded, "/SID1/apid_1052.txt?count()").text)
    assert count == len(lines) - 1
    # packets are whole CCSDS packets: the length fields add up to the body
    data, at, seen = whole.content, 0, 0
    while at < len(data):
        at += 6 + int.from_bytes(data[at + 4 : at + 6], "big") + 1
        seen += 1
    assert at == len(data) and seen == count
    csv = get(guarded, "/SID1/apid_1052.csv?time>=2025-10-02&time<2025-10-03&project(ert,time)")
    rows = csv.text.split("\r\n")
    assert rows[0] == "time,ert"  # the model's order, whatever the projection's
    assert all(r.startswith("2025-10-02") for r in rows[1:-1])
    formatted = get(
        guarded,
        "/SID1/apid_1052.txt?ert>=2025-10-06T00:00:00.000000&project(time)"
        "&formatTime(%22yyyy-MM-dd'T'HH:mm:ss%22)",
    )
    assert formatted.text == "2025-10-02T13:05:00\r\n"  # the backfill, received on 10-06
    assert get(guarded, "/SID1/apid_1052.txt?project(time)&take(2)").text.count("\r\n") == 2
    right = get(guarded, "/SID1/apid_1052.txt?project(time)&takeRight(1)").text
    assert right == lines[-2] + "\r\n"
    assert get(guarded, "/SID1/apid_1052.bin?time>=2030-01-01&project(packet)").content == b""
    assert get(guarded, "/SID1/apid_1052.csv?time>=2030-01-01&project(time)").text == "time\r\n"
    bad = get(guarded, "/SID1/apid_1052.json")
    assert (bad.status_code, bad.text) == (400, "Unknown extension: json")
    bad = get(guarded, "/SID1/apid_1052.txt?frobnicate(1)")
    assert (bad.status_code, bad.text) == (400, "Operation not found: frobnicate")
    missing = get(guarded, "/SID7/apid_1052.txt")
    assert missing.status_code == 404
    assert missing.text == f"Resource not found: {ROOT}/SID7/apid_1052.txt"
    assert get(guarded, "/SID1/apid_1052.txt", token=None).status_code == 401
    assert get(guarded, "/SID1/apid_1052.txt", token="d3Jvbmc6").status_code == 401
    # the SDC API is still there, and not behind PODA's credentials
    assert requests.get(guarded.url + "/query?instrument=mag", timeout=10).status_code == 200


def test_imap_webpoda_against_the_demo(imap, sdc_env):
    env = {
        "IMAP_WEBPODA_URL": sdc_env.url + ROOT,
        "IMAP_WEBPODA_TOKEN": TOKEN,
    }
    ran = imap("webpoda", "-i", "mag", "-s", "20251002", "-e", "20251006", "-o", "json", env=env)
    assert ran.code == 0, ran.err
    days = {d["date"]: d for d in json.loads(ran.out)["days"]}
    assert {k: d["action"] for k, d in days.items()} == {
        "2025-10-01": "unchanged",
        "2025-10-02": "changed",
        "2025-10-03": "new",
    }
    made = sorted(p.name for p in sdc_env.data_dir.rglob("*.pkts"))
    assert made == [
        "imap_mag_l0_raw_20251002_v001.0002.pkts",
        "imap_mag_l0_raw_20251003_v001.0001.pkts",
    ]
    assert not list(sdc_env.data_dir.rglob("*.part"))
    ran = imap("webpoda", "-i", "hi", "-s", "20251005", "-o", "json", env=env)
    assert ran.code == 0, ran.err
    assert [d["repointing"] for d in json.loads(ran.out)["days"]] == [40, 41, 42]
    assert len(list((sdc_env.data_dir / "imap/hi/l0/2025/10").glob("*-repoint0004?_*"))) == 3


def test_the_python_webpoda_reports_progress(sdc_env, monkeypatch, capsys):
    import imap_cli

    monkeypatch.setenv("IMAP_WEBPODA_URL", sdc_env.url + ROOT)
    monkeypatch.setenv("IMAP_WEBPODA_TOKEN", TOKEN)
    seen = []
    days = imap_cli.webpoda(
        instrument="mag", start_date="20251002", end_date="20251006", progress=seen.append
    )
    assert [d["action"] for d in days] == ["unchanged", "changed", "new"]
    assert seen[0].phase == "finding" and seen[0].days is None
    last = seen[-1]
    assert (last.days, last.done, last.failed, last.current) == (3, 3, 0, ())
    assert last.received == sum(d["bytes"] for d in days) > 0
    assert [s.done for s in seen] == sorted(s.done for s in seen)  # in order
    # progress=False (and the default, stderr not being a terminal here) draws nothing
    imap_cli.webpoda(instrument="mag", start_date="20251002", dry_run=True, progress=False)
    imap_cli.webpoda(instrument="mag", start_date="20251002", dry_run=True)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError):
        imap_cli.webpoda(instrument="mag", start_date="20251002", progres=True)


def test_the_python_webpoda_draws_a_bar_when_asked(sdc_env, monkeypatch, capsys):
    import imap_cli

    monkeypatch.setenv("IMAP_WEBPODA_URL", sdc_env.url + ROOT)
    monkeypatch.setenv("IMAP_WEBPODA_TOKEN", TOKEN)
    imap_cli.webpoda(instrument="hi", start_date="20251005", dry_run=True, progress=True)
    err = capsys.readouterr().err
    assert "Fetching pointings 3/3" in err, err
