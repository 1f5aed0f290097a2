"""Shards: stable K/N shares of SDC keys, so N hosts (a scheduler's array) split one job.

A key's shard is a hash of the key alone, the same on every host and in every run, so shards
never overlap and together cover everything.

`shard="auto"` takes K and N from the batch system's array variables (`scheduler_shard`):
Slurm and SGE say both; LSF says the index and the last index (its arrays start at 1); PBS
says only the index, so the count is given as `"auto/N"`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping

from imap_cli.core.errors import UsageError, option, terminal

# The array variables looked for, in this order (a job sees one scheduler's).
SLURM = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN")
SGE = ("SGE_TASK_ID", "SGE_TASK_FIRST", "SGE_TASK_LAST", "SGE_TASK_STEPSIZE")
LSF = ("LSB_JOBINDEX", "LSB_JOBINDEX_END", "LSB_JOBINDEX_STEP")
PBS = ("PBS_ARRAY_INDEX", "PBS_ARRAYID")  # PBS Pro, Torque: the index only
ARRAY_INDEX = ("SLURM_ARRAY_TASK_ID", "SGE_TASK_ID", "LSB_JOBINDEX", *PBS)


def parse_shard(
    text: str | None, environ: Mapping[str, str] | None = None
) -> tuple[int, int] | None:
    """`K/N` (1 <= K <= N) -> (K, N); `auto` or `auto/N` -> from the batch system's array
    variables in `environ` (default: this process's); None for None. Raises UsageError."""
    if text is None or str(text).strip() == "":
        return None
    auto = re.fullmatch(r"\s*auto\s*(?:/\s*(\d{1,6})\s*)?", str(text), re.IGNORECASE)
    if auto:
        count = int(auto.group(1)) if auto.group(1) else None
        return scheduler_shard(os.environ if environ is None else environ, count)
    found = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", str(text))
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise UsageError(
            f"{text!r} is not a shard: use K/N with 1 <= K <= N, e.g. 2/8, or auto in an array job",
            terminal("shard-slurm", "In a Slurm array: shard=f'{task_id}/{task_count}'."),
            field="shard",
            value=text,
        )
    return int(found.group(1)), int(found.group(2))


def scheduler_shard(environ: Mapping[str, str], count: int | None = None) -> tuple[int, int]:
    """(K, N) of this task of a batch array job, from the scheduler's variables.

    `count` (N) is needed only where the scheduler does not say it (PBS); given elsewhere,
    it must agree. Raises UsageError when no array variable is set or they make no shard.
    """

    def number(name: str) -> int | None:
        value = environ.get(name, "").strip()
        return int(value) if value.isdigit() else None  # SGE says "undefined" outside arrays

    if number("SLURM_ARRAY_TASK_ID") is not None:
        index, first = number("SLURM_ARRAY_TASK_ID"), number("SLURM_ARRAY_TASK_MIN")
        last, step = number("SLURM_ARRAY_TASK_MAX"), number("SLURM_ARRAY_TASK_STEP") or 1
        said = number("SLURM_ARRAY_TASK_COUNT")
        if first is None or last is None:
            return _checked("Slurm", index, 1, said, 1, count)
        if said is not None and said != (last - first) // step + 1:
            raise UsageError(
                f"this Slurm array's indices ({first}..{last}, {said} tasks) are not one range "
                "with one step, so a task's index does not tell its shard",
                f"Give it yourself: {option('shard', 'K/N')}, K counting from 1.",
                field="shard",
            )
        return _checked("Slurm", index, first, last, step, count)
    if number("SGE_TASK_ID") is not None:
        first = number("SGE_TASK_FIRST") or 1
        last = number("SGE_TASK_LAST")
        return _checked(
            "SGE", number("SGE_TASK_ID"), first, last, number("SGE_TASK_STEPSIZE") or 1, count
        )
    if number("LSB_JOBINDEX"):  # 0 outside an array
        step = number("LSB_JOBINDEX_STEP") or 1
        return _checked("LSF", number("LSB_JOBINDEX"), 1, number("LSB_JOBINDEX_END"), step, count)
    for name in PBS:
        if number(name) is not None:
            if count is None:
                raise UsageError(
                    f"PBS gives this task's index ({name}={number(name)}) but not the array's size",
                    f"Say the number of tasks: {option('shard', 'auto/N')} (indices 1..N).",
                    field="shard",
                )
            return _checked("PBS", number(name), 1, count, 1, count)
    raise UsageError(
        "no batch array task found for the automatic shard: none of "
        f"{', '.join(ARRAY_INDEX)} is set",
        "Run it as an array job (Slurm, PBS, SGE, LSF), or give the shard: "
        f"{option('shard', 'K/N')}.",
        field="shard",
        value="auto",
    )


def _checked(
    who: str, index: int | None, first: int, last: int | None, step: int, count: int | None
) -> tuple[int, int]:
    """(K, N) for array index `index` of first..last by step; UsageError when it is none."""
    assert index is not None
    if last is None and count is not None:
        last = first + (count - 1) * step
    if last is None:
        raise UsageError(
            f"{who} gives this task's index ({index}) but not the array's last index",
            f"Say the number of tasks: {option('shard', 'auto/N')}.",
            field="shard",
        )
    total = (last - first) // step + 1
    shard = (index - first) // step + 1
    if count is not None and count != total:
        raise UsageError(
            f"the shard count {count} does not match this {who} array ({total} tasks, "
            f"{first}..{last})",
            f"Leave the count out: {option('shard', 'auto')}.",
            field="shard",
        )
    if total < 1 or (index - first) % step or not 1 <= shard <= total:
        raise UsageError(
            f"{who} array index {index} is not in its array {first}..{last} (step {step})",
            f"Start the array at 1, or give the shard: {option('shard', 'K/N')}.",
            field="shard",
        )
    return shard, total


def shard_of(key: str, count: int) -> int:
    """The shard (1..count) a key belongs to: a hash of the key, the same on every host."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Whether a key is in shard (K, N); everything is in shard None."""
    return shard is None or shard_of(key, shard[1]) == shard[0]
