"""core.moments (times to the second) and core.levels (the highest level present)."""

from __future__ import annotations

import datetime as dt

import pytest

from imap_cli.core.errors import UsageError
from imap_cli.core.levels import highest_level, level_rank
from imap_cli.core.moments import (
    format_moment,
    in_window,
    ingestion_time,
    parse_moment,
    window_days,
)

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2025-10-01", "2025-10-01 00:00:00"),
        ("20251001", "2025-10-01 00:00:00"),
        ("2025-10-01T12:30", "2025-10-01 12:30:00"),
        ("2025-10-01 12:30:05", "2025-10-01 12:30:05"),
        ("2025-10-01T12:30:05Z", "2025-10-01 12:30:05"),
        ("2025-10-01T01:30:05+02:00", "2025-09-30 23:30:05"),
        ("2025-10-01T22:30:05-0330", "2025-10-02 02:00:05"),
        ("20251001T123005", "2025-10-01 12:30:05"),
    ],
)
def test_parse_moment(text: str, utc: str) -> None:
    assert format_moment(parse_moment(text)) == utc


@pytest.mark.parametrize("text", ["", "today", "2025-13-01", "2025-10-01T24:00", "2025-10-01+25"])
def test_parse_moment_refuses(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_moment(text, "ingested_before")
    assert caught.value.field == "ingested_before"


def test_naive_datetime_is_utc_and_dates_are_midnight() -> None:
    assert parse_moment(dt.datetime(2025, 1, 2, 3, 4, 5)).tzinfo is UTC
    assert parse_moment(dt.date(2025, 1, 2)) == dt.datetime(2025, 1, 2, tzinfo=UTC)


def test_ingestion_time_reads_every_shape() -> None:
    want = dt.datetime(2025, 10, 1, 12, 0, 1, tzinfo=UTC)
    for text in ("20251001 12:00:01", "2025-10-01 12:00:01", "2025-10-01, 12:00:01"):
        assert ingestion_time({"ingestion_date": text}) == want
    assert ingestion_time({"ingestion_date": None}) is None
    assert ingestion_time({"ingestion_date": "20251341 12:00:00"}) is None


def test_window_days_and_rows() -> None:
    since = parse_moment("2025-10-01T23:59:59.700")
    before = parse_moment("2025-10-03")
    assert window_days(since, before) == (dt.date(2025, 10, 1), dt.date(2025, 10, 2))
    rows = [{"ingestion_date": t} for t in ("20251001 23:59:58", "20251001 23:59:59")]
    rows += [{"ingestion_date": "20251003 00:00:00"}, {"ingestion_date": None}]
    # the second of `since` is kept (its fraction is below the rows' precision)
    assert in_window(rows, since, before) == [rows[1]]


def test_level_rank_orders_the_vocabulary() -> None:
    from imap_cli.core.vocabulary import DATA_LEVELS

    ordered = sorted(DATA_LEVELS, key=level_rank)
    assert ordered.index("l1d") > ordered.index("l1c") > ordered.index("l1a") > ordered.index("l1")
    assert ordered.index("l3") > ordered.index("l2c") and ordered[0] == "l0"


def row(level: str, day: str = "20251001", version: str = "v001.0001", **more) -> dict:
    return {
        "instrument": "hi",
        "data_level": level,
        "descriptor": "sci",
        "start_date": day,
        "repointing": None,
        "version": version,
    } | more


def test_highest_level_by_day_and_by_repointing() -> None:
    rows = [
        row("l1a"),
        row("l1b"),
        row("l1b", version="v001.0002"),
        row("l2", day="20251002"),
        row("l1a", repointing=7),
        row("l1c", repointing=7, day="20251002"),
        row("l1b", repointing=8),
    ]
    kept = highest_level(rows)
    assert kept == [rows[2], rows[3], rows[5], rows[6]]
