"""A notebook's calls, typed: mypy must pass this file (tests/unit/test_typing.py, .ci/run).

Not a test module (pytest does not collect it) and never run: it is read by mypy only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import imap_cli
from imap_cli.errors import TransferError, UsageError


def latest_mag(day: dt.date) -> list[Path]:
    rows: imap_cli.QueryResult = imap_cli.query(
        instrument="mag", data_level="l1b", start_date=day, end_date="20251003", version="latest"
    )
    keys: list[str] = rows.keys
    try:
        files: imap_cli.Downloaded = imap_cli.download_many(rows, jobs=4, raise_on_error=True)
    except TransferError as error:
        files = error.outcome.retry(raise_on_error=False)
    except UsageError as error:
        print(error.hint, keys)
        return []
    return list(files)


def upload_and_check(path: Path) -> bool:
    key: imap_cli.UploadedKey = imap_cli.upload(path, progress=False)
    sent: imap_cli.Uploaded = imap_cli.upload_many([path], dry_run=True)
    return key.uploaded and not sent.errors


def with_a_client() -> int:
    with imap_cli.Client(url="http://127.0.0.1:8765", jobs=2, timeout=30.0) as client:
        kernels = client.spice_query(type="leapseconds", version="latest")
        summary = client.sync(instrument="mag", data_level="l2", latest_only=True, dry_run=True)
        name = imap_cli.parse_name(kernels.keys[0])
        print(name.kind, summary["files"])
        one: Path = client.download(kernels[0])
        return len(str(one))
