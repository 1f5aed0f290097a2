"""Byte for byte: the official client's `webpoda` and `imap webpoda`, against the same PODA
and SDC (`imap serve` over the demo archive), write the same L0 files.

The official client leaves two kinds of extra file that `imap` deliberately does not: the
production files it downloads to compare, and the duplicate it writes for a day that did not
change. The test checks that those are exactly its extras, and that every other file is the
same name, folder and bytes on both sides.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imap_cli.server import start_server

ROOT = "/ops/imap/poda/dap2/apids"
TOKEN = base64.b64encode(b"demo:secret").decode()

# The official client's PODA URL is a module constant: the test points it at imap serve.
OFFICIAL = """
import sys
import imap_data_access.webpoda as webpoda
webpoda.WEBPODA_APID_URL = sys.argv[1]
sys.argv = ["imap-data-access", *sys.argv[2:]]
from imap_data_access.cli import main
main()
"""


@pytest.fixture
def served(interop_root: Path):
    # A repoint table ingested now: the official client looks at the last two weeks only.
    folder = interop_root / "imap/spice/repoint"
    shutil.copy(folder / "imap_2025_276_01.repoint.csv", folder / "imap_2025_280_01.repoint.csv")
    with start_server(
        interop_root, rescan_interval=0, log=sys.stderr, poda_credentials="demo:secret"
    ) as server:
        yield server


def official_webpoda(server, data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("IMAP_API_KEY", "IMAP_ACCESS_TOKEN")}
    env.update(
        IMAP_DATA_ACCESS_URL=server.url, IMAP_DATA_DIR=str(data_dir), IMAP_WEBPODA_TOKEN=TOKEN
    )
    return subprocess.run(
        [sys.executable, "-c", OFFICIAL, server.url + ROOT, "webpoda", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def tree(data_dir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(data_dir).as_posix(): p.read_bytes()
        for p in data_dir.rglob("*.pkts")
        if p.is_file()
    }


# (instrument, start, end, query mode, files imap makes)
CASES = [
    ("mag", "20251002", "20251006", "ert", 2),  # 10-01 unchanged, 10-02 changed, 10-03 new
    ("mag", "20251001", "20251004", "sct", 3),  # and 10-04: the buffer after 10-03's midnight
    ("hi", "20251005", "20251005", "ert", 3),  # pointings 40..42, received on 10-05
    ("hi", "20251002", "20251003", "sct", 3),  # pointings overlapping the window
]


@pytest.mark.parametrize(("instrument", "start", "end", "mode", "count"), CASES)
def test_same_files_as_the_official_client(
    imap, served, interop_root: Path, tmp_path: Path, instrument, start, end, mode, count
):
    theirs_dir, ours_dir = tmp_path / "official", tmp_path / "ours"
    done = official_webpoda(
        served,
        theirs_dir,
        "--instrument", instrument, "--start-date", start, "--end-date", end,
        "--query-mode", mode,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    ran = imap.against(served.url, data_dir=ours_dir)(
        "webpoda", "-i", instrument, "-s", start, "-e", end, "--query-mode", mode,
        env={"IMAP_WEBPODA_URL": served.url + ROOT, "IMAP_WEBPODA_TOKEN": TOKEN},
    )  # fmt: skip
    assert ran.code == 0, ran.err
    ours, theirs = tree(ours_dir), tree(theirs_dir)
    assert len(ours) == count, sorted(ours)
    for name, data in ours.items():
        assert theirs.get(name) == data, name
    production = tree(interop_root / "imap") if (interop_root / "imap").exists() else {}
    production = {f"imap/{k}": v for k, v in production.items()}
    for name in set(theirs) - set(ours):
        # a production copy it downloaded, or an unchanged day's duplicate of one
        same_day = [
            v for k, v in production.items() if k.rsplit("_v", 1)[0] == name.rsplit("_v", 1)[0]
        ]
        assert theirs[name] in same_day, name
