"""A notebook's session, as a script: query -> DataFrame -> the latest version per day ->
download -> open one file. tests/e2e/test_python_api_e2e.py runs it against `imap serve`
(IMAP_DATA_ACCESS_URL and IMAP_DATA_DIR set); it prints one JSON line of what it saw.
"""

from __future__ import annotations

import json
import sys

import imap_cli

rows = imap_cli.query(instrument="mag", data_level="l1a", descriptor="norm-mago")
df = rows.to_pandas()
latest = (
    df.sort_values(["start_date", "major_version", "minor_version"]).groupby("start_date").tail(1)
)
files = imap_cli.download_many(latest, progress=False)
first = files[0]
with open(first, "rb") as handle:
    head = handle.read(64)
json.dump(
    {
        "rows": len(rows),
        "days": int(df["start_date"].nunique()),
        "files": [str(p) for p in files],
        "versions": list(latest["version"]),
        "tz": str(df["start_date"].dt.tz),
        "first_bytes": len(head),
        "errors": len(files.errors),
    },
    sys.stdout,
)
