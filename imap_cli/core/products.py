"""The catalogue of products: one row per (instrument, data level, descriptor) the SDC holds.

Each product says how many files it has (the latest version of each day or repointing),
the first and last day they cover, its latest version and when a file of it was last
ingested. Built from queries with `version=latest` (core.query), one per instrument unless
one is given, each of any size (split by core.split when too large for one answer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from imap_cli.core.errors import UsageError, option
from imap_cli.core.filters import check_member

# The tables that hold products (spice kernels are not instrument products).
PRODUCT_TABLES: tuple[str, ...] = ("science", "ancillary", "quicklook")
PRODUCT_FIELDS: tuple[str, ...] = (
    "instrument",
    "data_level",
    "descriptor",
    "files",
    "first_date",
    "last_date",
    "latest_version",
    "last_ingested",
)


@dataclass(frozen=True)
class Product:
    """One product: what the SDC holds of an instrument's level and descriptor."""

    instrument: str
    data_level: str | None  # None on the ancillary table
    descriptor: str
    files: int
    first_date: str | None  # YYYY-MM-DD
    last_date: str | None
    latest_version: str | None
    last_ingested: str | None  # YYYY-MM-DD HH:MM:SS, UTC

    def as_dict(self) -> dict[str, Any]:
        """The product as plain data, in PRODUCT_FIELDS order."""
        return asdict(self)


def plan_products(
    *, instrument: Any = None, data_level: Any = None, table: Any = "science"
) -> list[Any]:
    """The checked queries (core.query plans) that list the products; UsageError first."""
    from imap_cli.core.query import plan_query
    from imap_cli.core.vocabulary import INSTRUMENTS

    table = check_member("table", table or "science", PRODUCT_TABLES, "science")
    if data_level not in (None, "") and table == "ancillary":
        raise UsageError(
            "ancillary files have no data level",
            f"Drop {option('data_level')}, or use {option('table', 'science')}.",
            field="data_level",
        )
    instruments = [instrument] if instrument not in (None, "") else sorted(INSTRUMENTS)
    return [
        plan_query(table=table, instrument=name, data_level=data_level, version="latest")
        for name in instruments
    ]


def summarise(rows: Sequence[dict]) -> list[Product]:
    """Group records into products, sorted by instrument, level and descriptor."""
    from imap_cli.core.moments import format_moment, ingestion_time
    from imap_cli.core.records import version_rank

    groups: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = (row.get("instrument"), row.get("data_level"), row.get("descriptor"))
        group = groups.setdefault(key, {"files": 0, "first": None, "last": None})
        group["files"] += 1
        first = _day(row.get("start_date"))
        last = _day(row.get("end_date")) or first
        if first and (group["first"] is None or first < group["first"]):
            group["first"] = first
        if last and (group["last"] is None or last > group["last"]):
            group["last"] = last
        rank = version_rank(row)
        if "rank" not in group or rank > group["rank"]:
            group["rank"], group["version"] = rank, row.get("version")
        moment = ingestion_time(row)
        if moment is not None and (group.get("ingested") is None or moment > group["ingested"]):
            group["ingested"] = moment
    products = []
    for (instrument, level, descriptor), group in groups.items():
        ingested = group.get("ingested")
        products.append(
            Product(
                instrument=str(instrument or ""),
                data_level=level,
                descriptor=str(descriptor or ""),
                files=group["files"],
                first_date=group["first"],
                last_date=group["last"],
                latest_version=_version_text(group.get("version")),
                last_ingested=format_moment(ingested) if ingested is not None else None,
            )
        )
    products.sort(key=lambda p: (p.instrument, _level_key(p.data_level), p.descriptor))
    return products


def _level_key(level: str | None) -> tuple[int, str]:
    from imap_cli.core.levels import level_rank

    return level_rank(level)


def _day(value: Any) -> str | None:
    """YYYY-MM-DD from the SDC's YYYYMMDD (or an ISO date); None when there is none."""
    text = str(value or "").strip().replace("-", "")[:8]
    if len(text) != 8 or not text.isdigit():
        return None
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


def _version_text(value: Any) -> str | None:
    return None if value is None else str(value)


def list_products(
    client: Any,
    *,
    instrument: Any = None,
    data_level: Any = None,
    table: Any = "science",
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Product]:
    """The SDC's products. `on_progress(done, total)` follows the queries (one per instrument
    when none is given); each query too large for one answer is fetched in parts."""
    from imap_cli.core.query import fetch_result

    plans = plan_products(instrument=instrument, data_level=data_level, table=table)
    rows: list[dict] = []
    for done, plan in enumerate(plans):
        if on_progress is not None:
            on_progress(done, len(plans))
        rows += fetch_result(client, plan).rows
    if on_progress is not None:
        on_progress(len(plans), len(plans))
    return summarise(rows)
