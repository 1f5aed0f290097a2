"""The transfer progress on a terminal: an overall total that never grows, no absurd ETA,
and bars that stay readable at 80 columns."""

from __future__ import annotations

import io
import re

import pytest

from imap_cli.cli.output import Output, Streams
from imap_cli.cli.progress import ETA_MAX, TransferProgress, _short_name, name_width, size_of
from imap_cli.core.transfer import Stage, TransferEvent

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
KEYS = [
    f"imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_202510{d:02d}_v001.0001.cdf" for d in range(1, 7)
]


def terminal(width: int) -> tuple[Output, io.StringIO]:
    err = io.StringIO()
    streams = Streams(stdout=io.StringIO(), stderr=err, stderr_tty=True, stdout_tty=False, env={})
    output = Output(streams)
    output.console.width = width
    return output, err


def overall(progress: TransferProgress):
    return progress._progress.tasks[0]


def test_the_overall_total_never_grows_as_files_start() -> None:
    output, _ = terminal(80)
    sizes = [5_000_000, 1_000, 80_000_000, 300, 7_000_000, 2_000_000]
    seen = []
    with TransferProgress(output) as progress:
        for key in KEYS:
            progress.handle(TransferEvent(Stage.PLANNED, key))
        for i, (key, size) in enumerate(zip(KEYS, sizes)):
            progress.handle(TransferEvent(Stage.STARTED, key, total=size))
            progress.handle(TransferEvent(Stage.PROGRESS, key, total=size, advance=size // 2))
            task = overall(progress)
            seen.append((task.total, task.fields["of"]))
            if i < len(KEYS) - 1:
                # files waiting: the bar counts files, its total is the number planned
                assert task.total == len(KEYS) and task.fields["of"] is None
                assert task.fields["eta"] is None or task.fields["eta"] <= ETA_MAX
        # every file started and every size known: bytes, and the total is their sum
        assert seen[-1] == (sum(sizes), sum(sizes))
        before = overall(progress).percentage
        for key, size in zip(KEYS, sizes):
            progress.handle(
                TransferEvent(Stage.PROGRESS, key, total=size, advance=size - size // 2)
            )
            progress.handle(TransferEvent(Stage.DONE, key, total=size))
            assert overall(progress).total == sum(sizes)
        assert overall(progress).percentage == 100 > before


def test_a_failed_file_leaves_the_bytes_total() -> None:
    output, _ = terminal(80)
    with TransferProgress(output) as progress:
        for key in KEYS[:2]:
            progress.handle(TransferEvent(Stage.PLANNED, key))
            progress.handle(TransferEvent(Stage.STARTED, key, total=1000))
        progress.handle(TransferEvent(Stage.PROGRESS, KEYS[0], total=1000, advance=600))
        progress.handle(TransferEvent(Stage.FAILED, KEYS[0]))
        task = overall(progress)
        assert (task.total, task.completed, task.fields["moved"]) == (1000, 0, 0)


@pytest.mark.parametrize("width", [80, 120])
def test_bars_fit_and_keep_the_figures_whole(width: int) -> None:
    output, err = terminal(width)
    with TransferProgress(output) as progress:
        for key in KEYS:
            progress.handle(TransferEvent(Stage.PLANNED, key))
        for key in KEYS[:3]:
            progress.handle(TransferEvent(Stage.STARTED, key, total=444_000_000))
            progress.handle(
                TransferEvent(Stage.PROGRESS, key, total=444_000_000, advance=3_700_000)
            )
        progress._progress.refresh()
    lines = [line for line in ANSI.sub("\n", err.getvalue()).splitlines() if line.strip()]
    assert lines and all(len(line) <= width for line in lines)
    assert any("3.7/444.0 MB" in line for line in lines)  # never "3.7… 444…"
    assert any("Downloading 0/6 files" in line for line in lines)
    names = [line for line in lines if "20251001" in line]
    assert names and all("…" not in line.split()[0] or width < 100 for line in names)
    assert not any("…" in line for line in lines if line.strip().startswith("Downloading"))


def test_names_are_shortened_in_the_middle_keeping_date_and_version() -> None:
    name = KEYS[0].rpartition("/")[2]
    assert _short_name(KEYS[0], 60) == name
    assert _short_name(KEYS[0], 40) == name.removeprefix("imap_")
    short = _short_name(KEYS[0], 30)
    assert len(short) == 30 and short.endswith("20251001_v001.0001.cdf"[-19:]) and "…" in short
    assert name_width(80) >= 34 and name_width(200) <= 60


def test_size_of_uses_the_totals_unit() -> None:
    assert size_of(500_000, 1_200_000) == "0.5/1.2 MB"
    assert size_of(12, 999) == "12/999 bytes"


def test_a_table_without_a_drop_order_is_never_cut_down() -> None:
    out = io.StringIO()
    streams = Streams(stdout=out, stderr=io.StringIO(), stdout_tty=False, env={"COLUMNS": "20"})
    Output(streams).table(["KEY", "VALUE", "ORIGIN"], [("data-dir", "/a/long/path", "default")])
    assert out.getvalue().splitlines()[0].split() == ["KEY", "VALUE", "ORIGIN"]
    out = io.StringIO()
    streams = Streams(stdout=out, stderr=io.StringIO(), stdout_tty=False, env={"COLUMNS": "20"})
    Output(streams).table(["A", "NAME"], [("x" * 10, "y" * 30)], drop_order=["A"])
    assert out.getvalue().splitlines() == ["NAME", "─" * 20, "y" * 30]
