"""`imap coverage`'s picture at a terminal: colour, NO_COLOR (shapes alone), width, ASCII."""

from __future__ import annotations

import io
import re

import pytest

from imap_cli.cli.coverage import _print
from imap_cli.cli.output import Output, Streams
from imap_cli.core.coverage import build_coverage, plan_coverage

SGR = re.compile(r"\x1b\[[0-9;]*m")
COLOUR = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-9]|9[0-7])m")  # dim and bold are no colour


def _found():
    rows = []
    for day in range(1, 31):
        levels = ("l1",) if day in (10, 11) else ("l1", "l2") if day != 20 else ()
        for level in levels:
            version = "v002.0000" if level == "l2" and day > 25 else "v001.0000"
            rows.append(
                {
                    "instrument": "swapi",
                    "data_level": level,
                    "descriptor": "sci",
                    "start_date": f"202510{day:02d}",
                    "version": version,
                }
            )
    return build_coverage(plan_coverage("swapi", start_date="20251001", end_date="20251030"), rows)


class Utf8(io.StringIO):
    encoding = "utf-8"


def _render(width: int, env: dict, stream: io.StringIO | None = None) -> str:
    out = stream or Utf8()
    streams = Streams(stdout=out, stderr=io.StringIO(), stdout_tty=True, stderr_tty=False,
                      env={"COLUMNS": str(width), **env})  # fmt: skip
    _print(Output(streams), _found(), gaps_only=False)
    return out.getvalue()


@pytest.mark.parametrize("width", [40, 80, 120])
def test_colour_and_no_color_show_the_same_shapes(width: int) -> None:
    coloured = _render(width, {})
    plain = _render(width, {"NO_COLOR": "1"})
    assert COLOUR.search(coloured) and not COLOUR.search(plain)
    plain = SGR.sub("", plain)
    assert SGR.sub("", coloured) == plain
    assert max(len(line) for line in plain.splitlines()) <= width
    l2 = next(line for line in plain.splitlines() if line.startswith("l2 sci"))
    if width >= 80:  # a column a day: older version, gaps of both kinds, newest
        grid = l2.split()[2]
        assert grid[:9] == "▒" * 9 and grid[9:11] == "○○" and grid[19] == "·"
        assert grid[25:] == "█" * 5
    words = " ".join(plain.split())  # at 40 columns the lines wrap
    assert "l2 sci: 2025-10-10 .. 2025-10-11 (2 days), l1 present" in words
    assert "l2 sci: 2025-10-20 (1 day), nothing below (no data)" in words


def test_ascii_terminal() -> None:
    class Latin1(io.StringIO):
        encoding = "latin-1"

    text = _render(80, {"NO_COLOR": "1"}, Latin1())
    text.encode("latin-1")  # nothing the terminal cannot show
    assert "#####" in text and "o" in text
