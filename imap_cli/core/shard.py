"""Shards: stable K/N shares of SDC keys, so N hosts (a scheduler's array) split one job.

A key's shard is a hash of the key alone, the same on every host and in every run, so shards
never overlap and together cover everything.
"""

from __future__ import annotations

import hashlib
import re

from imap_cli.core.errors import UsageError, terminal


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """`K/N` (1 <= K <= N) -> (K, N); None for None. Raises UsageError otherwise."""
    if text is None or str(text).strip() == "":
        return None
    found = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", str(text))
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise UsageError(
            f"{text!r} is not a shard: use K/N with 1 <= K <= N, e.g. 2/8",
            terminal("shard-slurm", "In a Slurm array: shard=f'{task_id}/{task_count}'."),
            field="shard",
            value=text,
        )
    return int(found.group(1)), int(found.group(2))


def shard_of(key: str, count: int) -> int:
    """The shard (1..count) a key belongs to: a hash of the key, the same on every host."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Whether a key is in shard (K, N); everything is in shard None."""
    return shard is None or shard_of(key, shard[1]) == shard[0]
