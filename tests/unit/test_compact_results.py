"""CompactResults: one result per file in a few bytes, read back as the FileResults it got."""

from __future__ import annotations

from pathlib import Path

import pytest

from imap_cli.core.errors import IMAPError
from imap_cli.core.transfer import CompactResults, FileResult

ROOT = Path("/data")
KEYS = [f"imap/mag/l1a/2025/01/file{n}.cdf" for n in range(4)]


def path_of(key: str) -> Path:
    return ROOT / key


def test_results_read_back_equal_to_what_was_settled():
    store = CompactResults(KEYS, path_of)
    settled = [
        FileResult(KEYS[0], "downloaded", path_of(KEYS[0]), 10),
        FileResult(KEYS[1], "skipped", path_of(KEYS[1]), 3, reason="already present"),
        FileResult(KEYS[2], "failed", path_of(KEYS[2]), error=IMAPError("gone"), reason="gone"),
        FileResult(KEYS[3], "downloaded", Path("/elsewhere"), 5, reason="forced"),  # kept whole
    ]
    for index, result in enumerate(settled):
        assert store.settle(index, result)
    assert list(store) == settled
    assert store[2] is settled[2] and store[-1] == settled[3] and store[1:3] == settled[1:3]
    assert len(store) == 4


def test_a_file_is_settled_once():
    store = CompactResults(KEYS[:1], path_of)
    first = FileResult(KEYS[0], "downloaded", path_of(KEYS[0]), 10)
    assert store.settle(0, first)
    assert not store.settle(0, FileResult(KEYS[0], "failed", error=IMAPError("late")))
    assert list(store) == [first]


def test_unsettled_files_are_left_out_and_not_readable():
    store = CompactResults(KEYS, path_of)
    store.settle(1, FileResult(KEYS[1], "downloaded", path_of(KEYS[1]), 1))
    assert [r.key for r in store] == [KEYS[1]]
    with pytest.raises(LookupError):
        store[0]
    with pytest.raises(IndexError):
        store[9]


def test_many_distinct_reasons_still_read_back():
    keys = [f"k{n}" for n in range(600)]
    store = CompactResults(keys, path_of)
    results = [
        FileResult(k, "downloaded", path_of(k), n, reason=f"r{n}") for n, k in enumerate(keys)
    ]
    for n, result in enumerate(results):
        store.settle(n, result)
    assert list(store) == results
