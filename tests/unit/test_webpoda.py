"""core.poda and core.webpoda without sockets: the APID table, request shapes, packet counting,
the checks of a request, days and pointings, and where the PODA credential may go."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from imap_cli.core import poda
from imap_cli.core.errors import ConfigError, UnsafeRequest, UsageError
from imap_cli.core.webpoda import Span, daily_spans, file_name, plan_webpoda, pointing_spans

D = dt.datetime


def packet(apid: int, payload: int) -> bytes:
    head = ((1 << 11) | apid).to_bytes(2, "big") + (0xC000).to_bytes(2, "big")
    return head + (payload - 1).to_bytes(2, "big") + bytes(payload)


def test_the_apid_table_is_the_documented_one():
    assert len(poda.APIDS["ultra"]) == 58
    assert poda.APIDS["codice"][:4] == (1136, 1152, 1153, 1155)
    assert poda.APIDS["codice"][-1] == 1174 and 1163 not in poda.APIDS["codice"]
    assert poda.APIDS["mag"] == (1052, 1068)
    assert "l1const" not in poda.APIDS
    assert {"glows", "hi", "lo", "ultra"} == poda.REPOINTING_INSTRUMENTS


def test_request_shapes_escape_only_what_the_official_client_does():
    url = poda.times_url(
        "https://x/apids/", "SID1", 1052, D(2026, 1, 1), D(2026, 1, 2, 23, 59, 59, 999999)
    )
    assert url == (
        "https://x/apids/SID1/apid_1052.txt?ert%3E=2026-01-01T00:00:00.000000"
        "&ert%3C2026-01-02T23:59:59.999999&project(time)&formatTime(%22yyyy-MM-dd'T'HH:mm:ss%22)"
    )
    url = poda.packets_url(
        "https://x/apids", "SID2", 7, D(2025, 12, 31, 23, 30), D(2026, 1, 2, 0, 30)
    )
    assert url == (
        "https://x/apids/SID2/apid_7.bin?time%3E=2025-12-31T23:30:00.000000"
        "&time%3C2026-01-02T00:30:00.000000&project(packet)"
    )


def test_packets_are_counted_whatever_the_pieces():
    data = b"".join(packet(100 + i, 1 + (i * 37) % 300) for i in range(50))
    rng = random.Random(5)
    for _ in range(20):
        counter, at = poda.PacketCounter(), 0
        while at < len(data):
            step = rng.randint(1, 40)
            counter.feed(data[at : at + step])
            at += step
        assert counter.packets == 50


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"instrument": "l1const", "start_date": "20251001"}, "instrument"),
        ({"instrument": "mag", "start_date": "2025-13-01"}, "start_date"),
        ({"instrument": "mag", "start_date": "20251002", "end_date": "20251001"}, "end_date"),
        ({"instrument": "mag", "start_date": "20251001", "query_mode": "utc"}, "query_mode"),
        ({"instrument": "mag", "start_date": "20251001", "apids": "1052,x"}, "apids"),
        ({"instrument": "mag", "start_date": "20251001", "apids": [4096]}, "apids"),
        ({"instrument": "mag", "start_date": "20251001", "sid": "SID9"}, "sid"),
    ],
)
def test_a_bad_request_names_its_parameter(kwargs, field):
    with pytest.raises(UsageError) as caught:
        plan_webpoda(**kwargs)
    assert caught.value.field == field


def test_a_plan_keeps_the_table_order_or_the_apids_given():
    plan = plan_webpoda("MAG", "2025-10-01", query_mode="SCT")
    assert (plan.instrument, plan.apids, plan.mode) == ("mag", (1052, 1068), "sct")
    assert plan.window == (D(2025, 10, 1), D(2025, 10, 1, 23, 59, 59, 999999))
    assert plan_webpoda("mag", "20251001", apids="1068, 1052,1068").apids == (1068, 1052)


def test_days_carry_the_midnight_buffer():
    plan = plan_webpoda("codice", "20251001", "20251002", query_mode="sct")
    spans = daily_spans(plan, None)
    assert [(s.start, s.end) for s in spans] == [
        (D(2025, 9, 30, 23, 53), D(2025, 10, 2, 0, 7)),
        (D(2025, 10, 1, 23, 53), D(2025, 10, 3, 0, 7)),
    ]
    received = [D(2025, 9, 28, 5), D(2025, 10, 1, 1), D(2025, 10, 1, 2)]
    assert [s.day for s in daily_spans(plan, received)] == [
        dt.date(2025, 9, 28),
        dt.date(2025, 10, 1),
    ]
    assert daily_spans(plan_webpoda("idex", "20251001"), None)[0].start == D(2025, 10, 1)


def rows(*ends: str) -> list[dict[str, str]]:
    return [{"repoint_end_utc": end, "repoint_id": str(10 + i)} for i, end in enumerate(ends)]


def test_pointings_skip_nan_rows_and_keep_what_holds_a_packet():
    table = rows(
        "2025-10-01 01:00:00.000000",
        "2025-10-02 01:00:00.500000",
        "nan",
        "2025-10-04 01:00:00.000000",
        "2025-10-05 01:00:00.000000",
        "NaN",
    )
    plan = plan_webpoda("ultra", "20251002", "20251004", query_mode="sct")
    assert [s.repointing for s in pointing_spans(plan, table, None)] == [10, 13]
    # ERT: a packet's time (to the second) inside [start, end], ends included
    received = [D(2025, 10, 2, 1, 0, 0), D(2025, 10, 4, 1, 0, 0)]
    spans = pointing_spans(plan, table, received)
    # 10-02 01:00:00 is inside pointing 10 (it ends at 01:00:00.5); 10-04 01:00:00 is the
    # start of pointing 13 (11 and 12 have a NaN end)
    assert [(s.repointing, s.start) for s in spans] == [
        (10, D(2025, 10, 1, 1)),
        (13, D(2025, 10, 4, 1)),
    ]
    assert pointing_spans(plan, table, [D(2025, 10, 2, 1, 0, 1)]) == []
    assert (
        file_name("ultra", spans[0], 3) == "imap_ultra_l0_raw_20251001-repoint00010_v001.0003.pkts"
    )
    assert file_name("mag", Span(dt.date(2025, 1, 2), D(2025, 1, 2), D(2025, 1, 3)), 1) == (
        "imap_mag_l0_raw_20250102_v001.0001.pkts"
    )


def test_the_poda_credential_goes_to_poda_only():
    client = poda.PodaClient("http://127.0.0.1:9/ops/imap/poda/dap2/apids", "dG9rZW4=")
    assert client._headers(client.url + "/SID1/apid_1.txt") == {"Authorization": "Basic dG9rZW4="}
    with pytest.raises(UnsafeRequest):
        client._headers("http://127.0.0.1:10/x")
    remote = poda.PodaClient("http://poda.example.org/apids", "dG9rZW4=")
    with pytest.raises(UnsafeRequest, match="plain http"):
        remote._headers("http://poda.example.org/apids/SID1/apid_1.txt")
    with pytest.raises(ConfigError, match="PODA credentials"):
        poda.PodaClient("https://poda.example.org/apids", None)._headers(
            "https://poda.example.org/a"
        )
    assert "x-api-key" not in {k.lower() for k in client.session.headers}
    assert poda.encode_token("user", "p:ss") == "dXNlcjpwOnNz"


class _Answer:
    """A streamed PODA answer: its pieces, then (when cut) a broken chunked body."""

    def __init__(self, pieces: list[bytes], cut: bool) -> None:
        self.pieces, self.cut = pieces, cut

    def iter_content(self, size: int):
        import requests

        yield from self.pieces
        if self.cut:
            raise requests.exceptions.ChunkedEncodingError("cut")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("cuts", [1, 3])
def test_fetch_to_takes_back_the_bytes_of_a_cut_answer(cuts: int, monkeypatch) -> None:
    """on_bytes hears of each piece; a cut answer's bytes are taken back before it is asked
    for again, and when it is given up: the sum is always the bytes kept."""
    import io

    from imap_cli.core.errors import IntegrityError

    body = packet(1052, 100) + packet(1052, 50)
    answers = [_Answer([body[:60], body[60:90]], cut=True)] * cuts + [_Answer([body], cut=False)]
    client = poda.PodaClient("http://127.0.0.1:9/apids", "dG9rZW4=", retries=2, sleep=lambda s: 0)
    monkeypatch.setattr(client, "get", lambda url, what="PODA": answers.pop(0))
    heard: list[int] = []
    handle = io.BytesIO()
    if cuts < client.retry.attempts:
        assert client.fetch_to("http://127.0.0.1:9/apids/x", handle, heard.append) == (len(body), 2)
        assert handle.getvalue() == body
        assert heard == [60, 30, -90, len(body)] and sum(heard) == len(body)
    else:
        with pytest.raises(IntegrityError):
            client.fetch_to("http://127.0.0.1:9/apids/x", handle, heard.append)
        assert heard == [60, 30, -90] * cuts and sum(heard) == 0
