"""`shard="auto"`: K and N from each batch system's array variables; a clear error otherwise."""

from __future__ import annotations

import pytest

from imap_cli.core.errors import UsageError
from imap_cli.core.shard import in_shard, parse_shard


@pytest.mark.parametrize(
    ("environ", "text", "expected"),
    [
        # Slurm --array=1-100: the task's index and the count
        (
            {
                "SLURM_ARRAY_TASK_ID": "7",
                "SLURM_ARRAY_TASK_COUNT": "100",
                "SLURM_ARRAY_TASK_MIN": "1",
                "SLURM_ARRAY_TASK_MAX": "100",
            },
            "auto",
            (7, 100),
        ),
        # Slurm --array=0-99 (zero-based) and --array=0-30:10 (a step)
        (
            {
                "SLURM_ARRAY_TASK_ID": "0",
                "SLURM_ARRAY_TASK_COUNT": "100",
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_MAX": "99",
            },
            "auto",
            (1, 100),
        ),
        (
            {
                "SLURM_ARRAY_TASK_ID": "20",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_MAX": "30",
                "SLURM_ARRAY_TASK_STEP": "10",
            },
            "auto",
            (3, 4),
        ),
        # Slurm with min/max only (an older Slurm without the count)
        (
            {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_MAX": "8"},
            "AUTO",
            (1, 4),
        ),
        # SGE -t 2-10:2
        (
            {
                "SGE_TASK_ID": "6",
                "SGE_TASK_FIRST": "2",
                "SGE_TASK_LAST": "10",
                "SGE_TASK_STEPSIZE": "2",
            },
            "auto",
            (3, 5),
        ),
        # LSF job[1-50]
        ({"LSB_JOBINDEX": "50", "LSB_JOBINDEX_END": "50"}, "auto", (50, 50)),
        # PBS Pro -J 1-8 and Torque -t 1-8: the index only, the count given
        ({"PBS_ARRAY_INDEX": "2"}, "auto/8", (2, 8)),
        ({"PBS_ARRAYID": "8"}, " auto / 8 ", (8, 8)),
        # the count may be given where the scheduler says it too, if it agrees
        ({"SGE_TASK_ID": "1", "SGE_TASK_FIRST": "1", "SGE_TASK_LAST": "3"}, "auto/3", (1, 3)),
    ],
)
def test_auto_takes_the_shard_from_the_array_variables(environ, text, expected):
    assert parse_shard(text, environ) == expected


def test_every_task_of_an_array_gets_its_own_shard_and_together_they_cover_all():
    keys = [f"imap/mag/l1a/2025/01/file{n}.cdf" for n in range(300)]
    shards = [
        parse_shard(
            "auto",
            {
                "SLURM_ARRAY_TASK_ID": str(i),
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_MAX": "9",
                "SLURM_ARRAY_TASK_COUNT": "10",
            },
        )
        for i in range(10)
    ]
    assert sorted(shards) == [(k, 10) for k in range(1, 11)]
    taken = [key for shard in shards for key in keys if in_shard(key, shard)]
    assert sorted(taken) == sorted(keys)


@pytest.mark.parametrize(
    ("environ", "text", "says"),
    [
        ({}, "auto", "no batch array task found"),
        ({"SGE_TASK_ID": "undefined"}, "auto", "no batch array task found"),  # SGE, no array
        ({"LSB_JOBINDEX": "0"}, "auto", "no batch array task found"),  # LSF, no array
        ({"PBS_ARRAY_INDEX": "3"}, "auto", "not the array's size"),
        ({"PBS_ARRAY_INDEX": "0"}, "auto/4", "not in its array"),  # -J 0-3: not from 1
        ({"LSB_JOBINDEX": "3"}, "auto", "not the array's last index"),
        (
            {"SGE_TASK_ID": "1", "SGE_TASK_FIRST": "1", "SGE_TASK_LAST": "3"},
            "auto/4",
            "does not match",
        ),
        # --array=1,3,7: three tasks, not one range: the index says nothing
        (
            {
                "SLURM_ARRAY_TASK_ID": "3",
                "SLURM_ARRAY_TASK_COUNT": "3",
                "SLURM_ARRAY_TASK_MIN": "1",
                "SLURM_ARRAY_TASK_MAX": "7",
            },
            "auto",
            "not one range",
        ),
    ],
)
def test_auto_without_a_usable_array_is_a_usage_error(environ, text, says):
    with pytest.raises(UsageError) as caught:
        parse_shard(text, environ)
    assert says in caught.value.message
    assert caught.value.field == "shard" and caught.value.hint
