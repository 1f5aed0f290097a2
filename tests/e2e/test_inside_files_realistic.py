"""`imap info` and `imap parents --check` against the independent SDC fake (realistic_sdc),
with CDFs written here with cdflib (not by imap serve's demo)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cdflib.cdfwrite import CDF
from realistic_sdc import RealisticSDC

import imap_cli

L1A = "imap_mag_l1a_norm-mago_{}_v001.{:04d}.cdf"
L1B = "imap_mag_l1b_norm-mago_{}_v001.0000.cdf"


def write_cdf(path: Path, parents: list[str], records: int = 24) -> bytes:
    writer = CDF(str(path), cdf_spec={"Compressed": 0})
    writer.write_globalattrs(
        {
            "Logical_source": {0: "_".join(path.name.split("_")[:4])},
            "Logical_file_id": {0: path.stem},
            "Parents": dict(enumerate(parents)),
        }
    )
    spec = {"Num_Elements": 1, "Rec_Vary": True}
    writer.write_var(
        {**spec, "Variable": "epoch", "Data_Type": 33, "Dim_Sizes": []},
        {"VAR_TYPE": "support_data"},
        (np.arange(records, dtype=np.int64) + 1) * 10**12,
    )
    writer.write_var(
        {**spec, "Variable": "b", "Data_Type": 21, "Dim_Sizes": [3]},
        {"VAR_TYPE": "data", "UNITS": "nT", "DEPEND_0": "epoch"},
        np.ones((records, 3), dtype=np.float32),
    )
    writer.close()
    return path.read_bytes()


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    made = tmp_path / "made"
    made.mkdir()
    with RealisticSDC() as sdc:
        for day, minors in (("20251001", (1,)), ("20251002", (1, 2)), ("20251003", (0,))):
            for minor in minors:
                name = L1A.format(day, minor)
                data = write_cdf(made / name, [f"imap_mag_l0_raw_{day}_v001.0000.pkts"])
                sdc.add_science(imap_cli.parse_name(name).key, data)
        monkeypatch.setenv("IMAP_DATA_ACCESS_URL", sdc.api_url)
        monkeypatch.setenv("IMAP_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("IMAP_RETRIES", "1")
        yield sdc
    assert sdc.server_errors == []


def test_check_against_the_fake(imap, fake: RealisticSDC, tmp_path: Path) -> None:
    files = []
    for day, parent in (
        ("20251001", L1A.format("20251001", 1)),  # the newest
        ("20251002", L1A.format("20251002", 1)),  # reprocessed since: v001.0002
        ("20251004", L1A.format("20251004", 0)),  # never in the SDC
    ):
        path = tmp_path / L1B.format(day)
        write_cdf(path, [parent])
        files.append(str(path))
    ran = imap("parents", "--check", *files, "-o", "json")
    assert ran.code == 1, ran.err
    verdicts = [(Path(v["file"]).name[23:31], v["status"]) for v in json.loads(ran.out)]
    assert verdicts == [("20251001", "ok"), ("20251002", "stale"), ("20251004", "missing")]
    queries = [s for s in fake.requests("api") if s.path.endswith("/query")]
    assert len(queries) == 1  # one product, one run of dates
    assert queries[0].query["start_date"] == "20251001"
    assert queries[0].query["end_date"] == "20251004"


def test_parents_download_and_info_against_the_fake(imap, fake: RealisticSDC, tmp_path) -> None:
    path = tmp_path / L1B.format("20251001")
    write_cdf(path, [L1A.format("20251001", 1)])
    ran = imap("parents", str(path), "--download", "-o", "json")
    assert ran.code == 0, ran.err
    (entry,) = json.loads(ran.out)
    (parent,) = entry["parents"]
    assert parent["local"] and parent["in_sdc"] and Path(parent["path"]).is_file()
    info = imap("info", L1A.format("20251002", 2), "-o", "json")
    assert info.code == 0, info.err
    (described,) = json.loads(info.out)
    assert described["global_attributes"]["Parents"] == ["imap_mag_l0_raw_20251002_v001.0000.pkts"]
    assert {v["name"]: v["shape"] for v in described["variables"]} == {
        "epoch": [24],
        "b": [24, 3],
    }


def test_a_parent_named_but_not_imap_is_listed_and_not_asked(imap, fake, tmp_path) -> None:
    path = tmp_path / L1B.format("20251001")
    write_cdf(path, ["calibration-notes.txt"])
    ran = imap("parents", "--check", str(path), "-o", "json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)[0]["status"] == "ok"
    assert fake.requests("api") == []
