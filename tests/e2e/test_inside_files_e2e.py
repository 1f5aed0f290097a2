"""`imap info`, `imap parents` (and its --check audit), `imap_cli.load`/`open`, against
`imap serve --demo`, whose CDFs are real (cdflib) and carry Parents chains:
mag L0 -> L1A -> L1B + calibration -> L2 + SPICE (see imap_cli/server/demo.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import imap_cli

L2 = "imap_mag_l2_norm-gse_{}_v001.0000.cdf"
L1B = "imap_mag_l1b_norm-mago_{}_v001.0000.cdf"
L0 = "imap_mag_l0_raw_20251001_v001.0000.pkts"


@pytest.fixture
def imap(imap, sdc_env):
    return imap.against(sdc_env.url, data_dir=sdc_env.data_dir, retries=1)


def local(sdc_env, name: str) -> Path:
    return sdc_env.data_dir / imap_cli.parse_name(name).key


def test_info_of_a_key_downloads_it_then_shows_attributes_and_variables(imap, sdc_env):
    ran = imap("info", L2.format("20251001"), "-o", "json")
    assert ran.code == 0, ran.err
    (described,) = json.loads(ran.out)
    assert described["kind"] == "cdf"
    assert Path(described["path"]) == local(sdc_env, L2.format("20251001"))
    attrs = described["global_attributes"]
    assert attrs["Logical_source"] == "imap_mag_l2_norm-gse"
    assert attrs["Logical_file_id"] == L2.format("20251001").removesuffix(".cdf")
    assert attrs["Data_version"] == "v001.0000"
    assert L1B.format("20251001") in attrs["Parents"]
    variables = {v["name"]: v for v in described["variables"]}
    assert variables["vectors"]["shape"] == [24, 3]
    assert variables["vectors"]["units"] == "nT"
    assert variables["vectors"]["depend_0"] == "epoch"
    assert variables["epoch"]["type"] == "CDF_TIME_TT2000"


def test_info_table_shows_key_attributes_and_more_with_verbose(imap):
    short = imap("info", L2.format("20251002"), "-o", "table")
    assert short.code == 0, short.err
    assert "Logical_source" in short.out and "Project" not in short.out
    assert "more global attributes" in short.out
    assert "VARIABLE" in short.out and "24x3" in short.out
    full = imap("info", L2.format("20251002"), "-o", "table", "-v")
    assert "Project" in full.out and "Mission_group" in full.out


def test_info_of_packets_counts_them_per_apid_with_times(imap):
    ran = imap("info", L0, "-o", "json")
    assert ran.code == 0, ran.err
    (described,) = json.loads(ran.out)
    assert described["kind"] == "pkts"
    apids = {a["apid"]: a for a in described["apids"]}
    assert set(apids) == {1052, 1068}
    assert described["packets"] == sum(a["packets"] for a in apids.values())
    assert apids[1052]["first"] == "2025-10-01T00:00:00Z"
    assert apids[1052]["last"] == "2025-10-01T23:45:00Z"


def test_parents_lists_keys_local_and_in_sdc(imap, sdc_env):
    ran = imap("parents", L2.format("20251001"), "-o", "json")
    assert ran.code == 0, ran.err
    (entry,) = json.loads(ran.out)
    parents = {p["name"]: p for p in entry["parents"]}
    assert parents[L1B.format("20251001")]["key"] == imap_cli.parse_name(L1B.format("20251001")).key
    assert parents["naif0012.tls"]["key"] == "imap/spice/lsk/naif0012.tls"
    assert all(p["in_sdc"] for p in parents.values())
    assert not any(p["local"] for p in parents.values())  # only the L2 was fetched


def test_parents_recursive_download_fetches_the_whole_tree_once(imap, sdc_env):
    ran = imap("parents", L2.format("20251001"), "--recursive", "--download", "-o", "json")
    assert ran.code == 0, ran.err
    files = json.loads(ran.out)
    names = [Path(f["file"]).name for f in files]
    assert len(names) == len(set(names))  # each file once
    assert {L1B.format("20251001"), "imap_mag_l1a_norm-mago_20251001_v001.0001.cdf"} <= set(names)
    for name in (L1B.format("20251001"), L0, "naif0012.tls", "imap_sclk_0012.tsc"):
        assert local(sdc_env, name).is_file(), name
    deepest = max(f["depth"] for f in files)
    assert deepest == 2  # L2 -> L1B -> L1A (-> L0, which names no parents)


def test_check_finds_superseded_predicted_and_missing_inputs(imap, sdc_env):
    days = ("20251001", "20251002", "20251003", "20251004")
    names = [L2.format(d) for d in days] + [L1B.format("20251002")]
    ran = imap("parents", "--check", *names, "-o", "json")
    assert ran.code == 1, ran.err
    verdicts = {Path(v["file"]).name: v for v in json.loads(ran.out)}
    assert verdicts[L2.format("20251001")]["status"] == "ok"
    assert verdicts[L2.format("20251002")]["status"] == "ok"
    assert verdicts[L2.format("20251003")]["status"] == "stale"
    assert verdicts[L2.format("20251003")]["predicted"] == ["imap_pred_20251001_20251101_v02.bsp"]
    assert verdicts[L2.format("20251004")]["status"] == "missing"
    assert verdicts[L2.format("20251004")]["missing"] == ["imap_2025_277_2025_278_001.ah.bc"]
    stale = verdicts[L1B.format("20251002")]
    assert stale["status"] == "stale"
    assert stale["superseded"] == [
        {
            "parent": "imap_mag_l1a_norm-mago_20251002_v001.0001.cdf",
            "newer": "imap_mag_l1a_norm-mago_20251002_v001.0002.cdf",
        }
    ]


def test_check_all_good_exits_0_and_the_table_says_so(imap):
    ran = imap("parents", "--check", L2.format("20251001"), L1B.format("20251003"), "-o", "table")
    assert ran.code == 0, ran.err
    assert ran.out.count("ok ") == 2 and "stale" not in ran.out
    assert "2 ok, 0 stale" in ran.err


def test_check_asks_the_sdc_a_few_grouped_queries(imap, sdc_env):
    days = ("20251001", "20251002", "20251003", "20251004")
    imap("download", *[L2.format(d) for d in days])
    before = len(sdc_env.server.requests)
    ran = imap("parents", "--check", *[L2.format(d) for d in days], "-o", "json")
    assert ran.code == 1
    sent = [r.path for r in list(sdc_env.server.requests)[before:]]
    # 4 files name 12 distinct parents; one query per product: the L1B, the offsets, and
    # five kernel types (reconstructed, predicted, attitude, leapseconds, clock)
    assert len(sent) == 7, sent
    assert sent.count("/query") == 2 and sent.count("/spice-query") == 5


def test_load_joins_days_in_time_order_with_a_variables_filter(sdc_env):
    ds = imap_cli.load(
        instrument="mag",
        data_level="l2",
        descriptor="norm-gse",
        start_date="20251001",
        end_date="20251003",
        variables=["magnitude"],
    )
    assert list(ds.data_vars) == ["magnitude"]
    assert ds["magnitude"].shape == (3 * 24,)
    times = ds["epoch"].values
    assert np.all(np.diff(times) > np.timedelta64(0, "ns"))
    assert str(times[0]).startswith("2025-10-01T00:00") and str(times[-1]).startswith("2025-10-03")
    assert ds.attrs["files"] == [L2.format(d) for d in ("20251001", "20251002", "20251003")]


def test_load_over_a_missing_day_leaves_it_out(sdc_env):
    # SWAPI L2 has no files for 2025-10-20 .. 2025-10-22
    ds = imap_cli.load(
        instrument="swapi", data_level="l2", start_date="20251019", end_date="20251023"
    )
    assert len(ds.attrs["files"]) == 2
    assert ds.sizes["epoch"] == 2 * 24
    days = {str(t)[:10] for t in ds["epoch"].values}
    assert days == {"2025-10-19", "2025-10-23"}
    assert ds["counts"].dims == ("epoch", "dim0") or ds["counts"].shape == (48, 8)


def test_open_reads_one_file_by_name(sdc_env):
    ds = imap_cli.open(L2.format("20251004"))
    assert ds["vectors"].shape == (24, 3)
    assert "imap_2025_277_2025_278_001.ah.bc" in ds.attrs["Parents"]


def test_bad_inputs_are_one_line_without_traceback(imap, sdc_env, tmp_path):
    text = tmp_path / "notes.cdf"
    text.write_text("not a CDF at all\n")
    ran = imap("info", str(text))
    assert ran.code == 2
    assert "neither a CDF nor a CCSDS packet file" in ran.err
    assert ran.err.count("Error:") == 1

    whole = imap("info", L2.format("20251001"), "-o", "json")
    path = Path(json.loads(whole.out)[0]["path"])
    cut = tmp_path / path.name
    cut.write_bytes(path.read_bytes()[:2000])
    for command in ("info", "parents"):
        ran = imap(command, str(cut))
        assert ran.code in (1, 2)
        assert "cut short" in ran.err and ran.err.count("Error:") == 1

    ran = imap("parents", "not_an_imap_file.cdf")
    assert ran.code == 2
    assert "no such file" in ran.err and ran.err.count("Error:") == 1

    # one bad file among good ones: the good ones are still audited, exit 1
    ran = imap("parents", "--check", str(cut), L2.format("20251001"), "-o", "json")
    assert ran.code == 1
    assert [v["status"] for v in json.loads(ran.out)] == ["ok"]
