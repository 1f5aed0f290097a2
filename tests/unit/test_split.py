"""core.split: every row once, in file_path order, from an SDC that cannot answer it at once.

The SDC here is a small in-memory model of /query's date filters, ordering, offset/limit and
the gateway's size limit, so that each test can count requests and failures exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from imap_cli.cli.hints import hint_for
from imap_cli.core.errors import BadRequest, TooLarge, Unavailable
from imap_cli.core.split import (
    Page,
    SizeFailure,
    Window,
    covers,
    fetch_all,
    is_size_failure,
    merge,
)

TODAY = dt.date(2026, 6, 30)


def day(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y%m%d").date()


# A row's bytes in an answer (its JSON, then ", "): padded to a science row's size.
ROW_BYTES = 360


class Model:
    """/query over `rows` with a response limit (in rows of ROW_BYTES); pagination optional."""

    def __init__(self, rows: list[dict], limit_rows: int, *, pagination: bool) -> None:
        self.rows = sorted(rows, key=lambda r: r["file_path"])
        self.limit_rows = limit_rows
        self.pagination = pagination
        self.asked: list[dict[str, str]] = []
        self.size_failures = 0
        self.down = False
        self.lock = threading.Lock()

    def ask(self, params: list[tuple[str, str]], patient: bool) -> list[dict]:
        query = dict(params)
        with self.lock:
            self.asked.append(query)
        if self.down:
            if patient:
                raise Unavailable("query: 500 Internal Server Error")
            raise SizeFailure
        if not self.pagination and ("offset" in query or "limit" in query):
            raise BadRequest("query: 400: offset is not a valid query parameter for science table")
        rows = [
            r
            for r in self.rows
            if query.get("start_date", "") <= r["start_date"] <= query.get("end_date", "99999999")
        ]
        if "offset" in query:
            first = int(query["offset"])
            rows = rows[first : first + int(query["limit"])]
        if len(rows) > self.limit_rows:  # each row is ROW_BYTES
            with self.lock:
                self.size_failures += 1
            if patient:
                raise Unavailable("query: 500 Internal Server Error")
            raise SizeFailure
        return rows


def rows_over(first: str, days: int, per_day: int) -> list[dict]:
    start = day(first)
    out = []
    for n in range(days):
        when = f"{start + dt.timedelta(days=n):%Y%m%d}"
        for k in range(per_day):
            name = f"imap_mag_l1a_p{k:03d}_{when}_v001.0001.cdf"
            row = {"file_path": f"imap/mag/l1a/{when[:4]}/{when[4:6]}/{name}", "start_date": when}
            row["pad"] = "x" * (ROW_BYTES - 2 - len(json.dumps({**row, "pad": ""})))
            out.append(row)
    return out


def expected(model: Model, low: str = "", high: str = "99999999") -> list[str]:
    return [r["file_path"] for r in model.rows if low <= r["start_date"] <= high]


@pytest.mark.parametrize("pagination", [True, False])
@pytest.mark.parametrize(
    ("params", "low", "high"),
    [
        ([("table", "science"), ("start_date", "20000101")], "20000101", "99999999"),
        ([("table", "science"), ("end_date", "20260301")], "", "20260301"),
        ([("table", "science"), ("instrument", "mag")], "", "99999999"),
        (
            [("table", "science"), ("start_date", "20250920"), ("end_date", "20251231")],
            "20250920",
            "20251231",
        ),
    ],
    ids=["start-only", "end-only", "no-dates", "both"],
)
def test_every_row_once_in_file_path_order(params, low, high, pagination) -> None:
    model = Model(rows_over("20250924", 280, 30), limit_rows=2000, pagination=pagination)
    got = fetch_all(model.ask, params, today=TODAY)
    paths = [r["file_path"] for r in got]
    assert paths == expected(model, low, high)
    assert len(set(paths)) == len(paths)


def test_windows_reach_answerable_sizes_in_few_failures() -> None:
    # 400 days x 48 files, a limit of ~17,000 rows: the 6.8 MB benchmark's shape.
    model = Model(rows_over("20250526", 400, 48), limit_rows=17_000, pagination=False)
    got = fetch_all(model.ask, [("table", "science"), ("start_date", "20000101")], today=TODAY)
    assert len(got) == 400 * 48
    assert model.size_failures == 0  # the first windows all fit
    assert len(model.asked) <= 12


def test_pagination_is_left_alone_while_windows_do() -> None:
    # Each page makes the SDC run the whole query again; windows together cost about one.
    model = Model(rows_over("20250526", 400, 48), limit_rows=17_000, pagination=True)
    got = fetch_all(model.ask, [("table", "science")], today=TODAY)
    assert len(got) == 400 * 48
    assert not any("offset" in q or "limit" in q for q in model.asked)


def test_a_day_too_large_is_paged_where_the_sdc_has_pages() -> None:
    rows = rows_over("20251001", 9, 5) + rows_over("20251010", 1, 3000)
    rows += rows_over("20251011", 20, 5)
    model = Model(rows, limit_rows=700, pagination=True)
    got = fetch_all(model.ask, [("table", "science"), ("start_date", "20251001")], today=TODAY)
    assert [r["file_path"] for r in got] == expected(model, "20251001")
    pages = [q for q in model.asked if "offset" in q]
    assert pages and all(q["start_date"] == q["end_date"] == "20251010" for q in pages)
    # 10,000 -> 2,500 -> 625 rows a page: only the pages from the day's first row fail.
    assert [q["limit"] for q in pages if int(q["limit"]) > 700 and q["offset"] == "0"] == [
        "10000",
        "2500",
    ]


def test_progress_counts_up_to_the_total() -> None:
    model = Model(rows_over("20250924", 100, 30), limit_rows=500, pagination=False)
    seen: list[tuple[int, int]] = []
    fetch_all(
        model.ask, [("table", "science")], today=TODAY, on_progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1][0] == seen[-1][1] == len(model.asked) - 1  # all but the health check
    assert all(done <= total for done, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_one_day_too_large_is_too_large_after_few_requests() -> None:
    rows = rows_over("20251001", 30, 5) + rows_over("20251010", 1, 900)
    model = Model(rows, limit_rows=400, pagination=False)
    with pytest.raises(TooLarge) as caught:
        fetch_all(model.ask, [("table", "science"), ("start_date", "20251001")], today=TODAY)
    assert "2025-10-10" in caught.value.message
    assert "too large" in caught.value.message
    # Python names the parameters, the terminal their flags.
    assert "add instrument, data_level" in caught.value.hint
    assert "--instrument" in hint_for(caught.value)
    assert len(model.asked) <= 40


def test_an_sdc_that_fails_everything_is_an_outage_not_a_split_storm() -> None:
    model = Model(rows_over("20251001", 30, 5), limit_rows=400, pagination=True)
    model.down = True
    with pytest.raises(Unavailable) as caught:
        fetch_all(model.ask, [("table", "science")], today=TODAY)
    assert not isinstance(caught.value, TooLarge)
    assert len(model.asked) <= 5  # the first 4 windows and the health check beside them


def test_another_400_is_the_users() -> None:
    def ask(params, patient):
        raise BadRequest("query: 400: Invalid 'version' value.")

    with pytest.raises(BadRequest):
        fetch_all(ask, [("table", "science")], today=TODAY)


# --- the pieces -------------------------------------------------------------------------------


def covered(windows: list[Window], low: dt.date, high: dt.date) -> list[dt.date]:
    """Every day of [low, high] that a window holds, with repeats."""
    days = []
    d = low
    while d <= high:
        days += [d] * sum(
            (w.low is None or w.low <= d) and (w.high is None or d <= w.high) for w in windows
        )
        d += dt.timedelta(days=1)
    return days


@pytest.mark.parametrize(
    "params",
    [
        [("table", "science")],
        [("table", "science"), ("start_date", "20000101")],
        [("table", "science"), ("end_date", "20991231")],
        [("table", "science"), ("start_date", "20250601"), ("end_date", "20260101")],
    ],
    ids=["none", "start", "end", "both"],
)
def test_the_plan_covers_each_day_once(params) -> None:
    model = Model(rows_over("20250526", 400, 48), limit_rows=3000, pagination=False)
    plans: list = []
    fetch_all(model.ask, params, today=TODAY, on_plan=plans.append)
    (plan,) = plans
    assert covers(plan, params)
    windows = [Window(a and day(a), b and day(b)) for a, b, _ in plan]
    lo, hi = dt.date(1990, 1, 1), dt.date(2040, 1, 1)
    low, high = (dict(params).get(k) for k in ("start_date", "end_date"))
    lo, hi = (day(low) if low else lo), (day(high) if high else hi)
    span = (hi - lo).days + 1
    assert covered(windows, lo, hi) == [lo + dt.timedelta(days=n) for n in range(span)]
    # A re-run with the plan: its windows at once, none too large, no health check needed.
    again = Model(model.rows, limit_rows=3000, pagination=False)
    rows = fetch_all(again.ask, params, today=TODAY, plan=plan)
    assert [r["file_path"] for r in rows] == expected(again, low or "", high or "99999999")
    assert again.size_failures == 0
    assert len(again.asked) == len(plan) < len(model.asked) - 2


@pytest.mark.parametrize(
    "window",
    [
        Window(day("20250101"), day("20250102")),
        Window(day("20250101"), day("20251231")),
        Window(None, day("20251231")),
        Window(day("20250101"), None),
        Window(None, None),
    ],
)
def test_a_split_covers_its_window_exactly(window: Window) -> None:
    parts = window.split(TODAY)
    assert len(parts) >= 2
    lo, hi = window.low or dt.date(1990, 1, 1), window.high or dt.date(2040, 1, 1)
    span = (hi - lo).days + 1
    assert covered(parts, lo, hi) == [lo + dt.timedelta(days=n) for n in range(span)]
    assert covered(parts, lo, hi) == covered([window], lo, hi)


def test_a_single_day_cannot_be_split() -> None:
    assert Window(day("20250101"), day("20250101")).split(TODAY) == []
    assert Page(7, 1).split() == []


def test_a_page_splits_into_four_exactly() -> None:
    parts = Page(100, 10).split()
    assert [(p.offset, p.limit) for p in parts] == [(100, 3), (103, 3), (106, 3), (109, 1)]


def test_window_params_keep_the_filters_and_replace_the_dates() -> None:
    base = [
        ("table", "science"),
        ("instrument", "mag"),
        ("start_date", "20000101"),
        ("latest", "true"),
    ]
    assert Window(day("20250101"), None).params(base) == [
        ("table", "science"),
        ("instrument", "mag"),
        ("start_date", "20250101"),
        ("latest", "true"),
    ]
    assert Window(None, day("20250102")).params(base)[2] == ("end_date", "20250102")


@pytest.mark.parametrize(
    ("status", "body", "expected_result"),
    [
        (500, {"message": "Internal Server Error"}, True),
        (502, {"message": "Internal server error"}, True),
        (503, {"message": "Service Unavailable"}, False),
        (502, {"message": "Bad Gateway"}, False),
        (500, "Internal Server Error", False),
    ],
)
def test_size_failure_is_the_gateways_500_or_502(status, body, expected_result) -> None:
    assert is_size_failure(status, json.dumps(body).encode()) is expected_result
    assert is_size_failure(status, b"<html>oops</html>") is False


def test_merge_keeps_each_file_once_in_order() -> None:
    rows = [{"file_path": "b"}, {"file_path": "a"}, {"file_path": "b"}]
    assert merge(rows) == [{"file_path": "a"}, {"file_path": "b"}]


def test_merge_of_ordered_parts_keeps_the_first_copy_of_a_file() -> None:
    # Parts as they arrive: each ordered by file_path; a page of a changed day asked twice.
    first = [{"file_path": f"k{n:03d}", "part": 1} for n in range(0, 300, 3)]
    second = [{"file_path": f"k{n:03d}", "part": 2} for n in range(1, 300, 3)]
    again = [{"file_path": f"k{n:03d}", "part": 3} for n in range(0, 30)]
    merged = merge(second + first + again)
    assert [r["file_path"] for r in merged] == sorted(
        {f"k{n:03d}" for n in range(300)} - {f"k{n:03d}" for n in range(2, 300, 3) if n >= 30}
    )
    assert all(r["part"] != 3 for r in merged if int(r["file_path"][1:]) % 3 != 2)
    # Rows without a file_path (another table's) are still kept once each, in order.
    assert merge([{"name": "b"}, {"name": "a"}, {"name": "b"}]) == [{"name": "a"}, {"name": "b"}]


@pytest.mark.parametrize("lag", [1, 3, 6])
def test_files_that_come_days_late_do_not_make_the_windows_too_large(lag: int) -> None:
    # The newest days have no files yet (they come days after): the first week holds fewer
    # days of files than it spans. Counted by the days it spans, the bytes a day seen were a
    # fraction of the real ones, and the windows sized from them failed.
    last = TODAY - dt.timedelta(days=lag)
    first = f"{last - dt.timedelta(days=399):%Y%m%d}"
    model = Model(rows_over(first, 400, 48), limit_rows=17_000, pagination=False)
    got = fetch_all(model.ask, [("table", "science"), ("start_date", "20000101")], today=TODAY)
    assert len(got) == 400 * 48
    assert model.size_failures == 0
    assert len(model.asked) <= 12


def test_dense_data_is_split_by_the_density_seen_not_blindly() -> None:
    # 1,000 files a day: even the first 32-day window is too large. Once 8-day windows have
    # answered, a failed 256-day window is cut into 8-day parts at once, not 32-day ones that
    # would fail again.
    model = Model(rows_over("20250526", 400, 1000), limit_rows=17_000, pagination=False)
    got = fetch_all(model.ask, [("table", "science"), ("start_date", "20000101")], today=TODAY)
    assert len(got) == 400_000
    # The first windows that hold data (32, 64, 128 and 256 days) fail once each; every part
    # they are cut into fits (splitting in four, again and again, fails 13 times here).
    assert model.size_failures <= 4


# --- the remembered split -----------------------------------------------------------------------


def test_a_plan_that_does_not_cover_the_query_is_not_used() -> None:
    model = Model(rows_over("20250526", 400, 48), limit_rows=17_000, pagination=False)
    params = [("table", "science"), ("start_date", "20000101")]
    gap = [("20000101", "20250701", 0), ("20250703", None, 0)]  # 2025-07-02 missing
    assert not covers(gap, params)
    assert not covers([("20000102", None, 0)], params)
    assert not covers([("2000-01-01", None, 0)], params)
    got = fetch_all(model.ask, params, today=TODAY, plan=gap)
    assert [r["file_path"] for r in got] == expected(model, "20000101")


def test_a_stale_plan_is_split_again_and_still_complete() -> None:
    model = Model(rows_over("20250526", 400, 48), limit_rows=17_000, pagination=False)
    params = [("table", "science")]
    stale = [(None, "20251231", 0), ("20260101", None, 0)]  # 2026 now holds 8,640 rows...
    model.limit_rows = 6000  # ...and the SDC's limit is lower than thought
    plans: list = []
    got = fetch_all(model.ask, params, today=TODAY, plan=stale, on_plan=plans.append)
    assert [r["file_path"] for r in got] == expected(model)
    assert model.size_failures >= 1
    assert covers(plans[0], params) and len(plans[0]) > 2


def test_plans_are_kept_bounded_and_atomic(tmp_path, monkeypatch) -> None:
    from imap_cli.core import splitplans

    path = tmp_path / "cache" / "query-splits.json"
    key = splitplans.plan_key("https://sdc.example/api-key-in-url", [("table", "science")])
    assert "api-key" not in key and len(key) == 32
    assert splitplans.load_plan(key, path) is None
    splitplans.save_plan(key, [(None, "20250101", 0), ("20250102", None, 100)], path)
    assert splitplans.load_plan(key, path) == [(None, "20250101", 0), ("20250102", None, 100)]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    monkeypatch.setattr(splitplans, "MAX_PLANS", 3)
    for n in range(5):
        splitplans.save_plan(f"k{n}", [(None, None, 0)], path)
    assert [splitplans.load_plan(f"k{n}", path) is not None for n in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    too_many = [(None, None, 0)] * (splitplans.MAX_WINDOWS + 1)
    splitplans.save_plan("big", too_many, path)
    assert splitplans.load_plan("big", path) is None


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"k": {"windows": [[1, 2, 3]]}}', '{"k": {"windows": "x"}}'],
)
def test_a_damaged_plan_file_is_no_plan(tmp_path, text: str) -> None:
    from imap_cli.core import splitplans

    path = tmp_path / "query-splits.json"
    path.write_text(text)
    assert splitplans.load_plan("k", path) is None
    splitplans.save_plan("k", [(None, None, 0)], path)  # and is replaced, not a failure
    assert splitplans.load_plan("k", path) == [(None, None, 0)]


@pytest.mark.parametrize(
    "params",
    [
        [("table", "science"), ("start_date", "20000101")],
        [("table", "science"), ("end_date", "20991231")],
        [("table", "science")],
    ],
    ids=["start", "end-2099", "no-dates"],
)
def test_every_shape_costs_about_the_same_few_requests(params) -> None:
    # 2,000 days x 48 files (34 MB), a limit of ~17,000 rows: 6 answers could carry it. The
    # old split took 38 requests for this; an open start walked back from 2099 and gave up.
    model = Model(rows_over("20210108", 2000, 48), limit_rows=17_000, pagination=False)
    got = fetch_all(model.ask, params, today=TODAY)
    assert len(got) == 96_000
    assert model.size_failures == 0  # a week to learn the bytes a day, then windows that fit
    assert len(model.asked) <= 17
