"""`sync` keeps no object per file: its memory must not grow with the file count.

A structural check, not a measurement (benchmarks/bench_sync_memory.py measures peak RSS over
100,000 files): after a sync of a few hundred files, with its summary still held, count the
result and name objects alive. A summary holding a FileResult per file (as a list would) has
hundreds; the compact one has none but the failures.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest
import responses

from imap_cli.core import sync
from imap_cli.core.http import SDCClient
from imap_cli.core.naming import IMAPName
from imap_cli.core.settings import resolve
from imap_cli.core.transfer import FileResult

SDC = "https://sdc.example"
S3 = "https://bucket.s3.example"
FILES = 300
BODY = b"x"


def _keys(count: int) -> list[str]:
    first = dt.date(2025, 1, 1)
    keys = []
    for n in range(count):
        day = first + dt.timedelta(days=n)
        name = f"imap_mag_l1a_norm-mago_{day:%Y%m%d}_v001.0001.cdf"
        keys.append(f"imap/mag/l1a/{day:%Y}/{day:%m}/{name}")
    return keys


def _row(key: str) -> dict:
    name = key.rsplit("/", 1)[1]
    return {
        "file_path": key,
        "instrument": "mag",
        "data_level": "l1a",
        "descriptor": "norm-mago",
        "start_date": name.split("_")[4],
        "repointing": None,
        "major_version": 1,
        "minor_version": 1,
        "version": "v001.0001",
        "extension": "cdf",
        "ingestion_date": "20251002 10:00:00",
        "cr": None,
        "crid": None,
        "released": True,
    }


def _alive(kind: type) -> int:
    gc.collect()
    return sum(isinstance(obj, kind) for obj in gc.get_objects())


def _serve(keys: list[str]) -> None:
    responses.get(f"{SDC}/query", json=[_row(key) for key in keys])
    etag = '"' + hashlib.md5(BODY).hexdigest() + '"'
    responses.get(
        re.compile(rf"{re.escape(SDC)}/download/.*"),
        status=302,
        headers={"Location": f"{S3}/object?X-Amz-Signature=s"},
    )
    responses.get(f"{S3}/object", body=BODY, headers={"ETag": etag})


@responses.activate
def test_a_sync_keeps_no_result_or_name_object_per_file(tmp_path: Path) -> None:
    keys = _keys(FILES)
    _serve(keys)
    client = SDCClient(replace(resolve(), url=SDC, retries=0), sleep=lambda _: None)
    before_results, before_names = _alive(FileResult), _alive(IMAPName)
    summary = sync.sync(client, data_dir=tmp_path / "data", filters={"instrument": "mag"}, jobs=4)
    assert summary.new_count == FILES and summary.skipped_count == 0 and not summary.failed
    assert summary.advanced
    # Held summary, and nothing per file behind it.
    assert _alive(FileResult) - before_results < 10
    assert _alive(IMAPName) - before_names < 10
    # Yet every file's result can still be read, with its path, one at a time.
    paths = [r.path for r in summary.iter_new()]
    assert sorted(p.relative_to(tmp_path / "data").as_posix() for p in paths) == keys
    assert len(summary.results) == FILES
    assert summary.as_dict()["new"] == FILES and len(summary.as_dict()["files"]) == FILES

    again = sync.sync(client, data_dir=tmp_path / "data", filters={"instrument": "mag"}, jobs=4)
    assert again.new_count == 0 and again.skipped_count == FILES
    assert _alive(FileResult) - before_results < 10


def test_joined_results_read_as_one_sequence() -> None:
    first = [FileResult("a", "failed", None)]
    rest = [FileResult("b", "downloaded", None), FileResult("c", "skipped", None)]
    joined = sync.Joined(first, rest)
    assert len(joined) == 3
    assert [r.key for r in joined] == ["a", "b", "c"]
    assert joined[0].key == "a" and joined[2].key == "c" and joined[-1].key == "c"
    assert [r.key for r in joined[1:]] == ["b", "c"]
    with pytest.raises(IndexError):
        joined[3]
