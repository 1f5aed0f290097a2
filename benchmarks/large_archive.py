"""Build a large science archive for `imap serve`: 48 files a day, up to yesterday.

    python benchmarks/large_archive.py DIR [--files 19200]

8 instruments x 3 levels x 2 descriptors = 48 series a day, going back from yesterday (UTC)
as a mission's daily data does, so 19,200 files cover 400 days. Each /query row is about
350 bytes: the whole archive answers about 6.8 MB of JSON, more than the SDC can send at
once. Files hold a few bytes each (their name), so the archive is small on disk.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

PRODUCTS = [
    (instrument, level, descriptor)
    for instrument in ("codice", "hi", "hit", "lo", "mag", "swapi", "swe", "ultra")
    for level in ("l1a", "l1b", "l2")
    for descriptor in ("sci", "hk")
]


def build(root: Path, files: int = 19_200, last_day: dt.date | None = None) -> list[str]:
    """Write `files` science files under root at their SDC keys; their keys, sorted."""
    if last_day is None:
        last_day = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    keys = []
    day = last_day
    while len(keys) < files:
        for instrument, level, descriptor in PRODUCTS:
            if len(keys) == files:
                break
            name = f"imap_{instrument}_{level}_{descriptor}_{day:%Y%m%d}_v001.0001.cdf"
            key = f"imap/{instrument}/{level}/{day:%Y}/{day:%m}/{name}"
            path = root.joinpath(*key.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(name.encode())
            keys.append(key)
        day -= dt.timedelta(days=1)
    return sorted(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--files", type=int, default=19_200)
    args = parser.parse_args()
    keys = build(args.root, args.files)
    print(f"{len(keys):,} files under {args.root}")


if __name__ == "__main__":
    main()
