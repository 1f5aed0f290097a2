"""core.cdf (what is inside a file), core.provenance (Parents and the grouped SDC lookup),
core.loading's missing-extra error: no sockets."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from imap_cli.core import cdf as cdf_module
from imap_cli.core.cdf import (
    MissingExtra,
    UnreadableFile,
    check_cdf,
    need,
    packets_summary,
    parent_list,
    parents_of,
    summary,
)
from imap_cli.core.naming import parse
from imap_cli.core.provenance import (
    FileParents,
    Parent,
    SDCView,
    is_predicted,
    lookup,
    plan_groups,
)
from imap_cli.server.demo_files import cdf as demo_cdf

NAME = "imap_mag_l2_norm-gse_20251001_v001.0000.cdf"
PARENTS = ("imap_mag_l1b_norm-mago_20251001_v001.0000.cdf", "naif0012.tls")


@pytest.fixture
def l2(tmp_path: Path) -> Path:
    path = tmp_path / NAME
    path.write_bytes(demo_cdf(NAME, PARENTS, dt.datetime(2025, 10, 2)))
    return path


def packet(apid: int, seconds: int, payload: bytes = b"\x00" * 8, secondary: bool = True) -> bytes:
    body = seconds.to_bytes(4, "big") + payload
    first = (0x0800 if secondary else 0) | apid
    return first.to_bytes(2, "big") + b"\xc0\x00" + (len(body) - 1).to_bytes(2, "big") + body


def test_a_cdf_summary_has_attributes_and_variable_shapes(l2: Path) -> None:
    described = summary(l2)
    assert described["kind"] == "cdf"
    assert described["global_attributes"]["Parents"] == list(PARENTS)
    assert described["global_attributes"]["Logical_source"] == "imap_mag_l2_norm-gse"
    shapes = {v["name"]: v["shape"] for v in described["variables"]}
    assert shapes == {"epoch": [24], "vectors": [24, 3], "magnitude": [24]}
    assert parents_of(l2) == list(PARENTS)


def test_packets_per_apid_with_first_and_last_time(tmp_path: Path) -> None:
    day = int((dt.datetime(2025, 10, 1) - dt.datetime(2010, 1, 1)).total_seconds())
    path = tmp_path / "imap_mag_l0_raw_20251001_v001.0000.pkts"
    path.write_bytes(
        packet(7, day + 60) + packet(9, day) + packet(7, day) + packet(7, day + 3600, b"x" * 30)
    )
    described = packets_summary(path)
    assert described["packets"] == 4
    seven, nine = described["apids"]
    assert (seven["apid"], seven["packets"], nine["packets"]) == (7, 3, 1)
    assert seven["first"] == "2025-10-01T00:00:00Z" and seven["last"] == "2025-10-01T01:00:00Z"
    assert seven["bytes"] == 18 + 18 + 40


def test_a_packet_cut_short_is_named(tmp_path: Path) -> None:
    path = tmp_path / "imap_mag_l0_raw_20251001_v001.0000.pkts"
    path.write_bytes(packet(7, 10) + packet(7, 20)[:9])
    with pytest.raises(UnreadableFile, match="cut short: the packet at byte 18"):
        packets_summary(path)


def test_not_a_cdf_and_a_truncated_cdf(tmp_path: Path, l2: Path) -> None:
    text = tmp_path / "x.cdf"
    text.write_bytes(b"hello, world")
    with pytest.raises(UnreadableFile, match="neither a CDF"):
        summary(text)
    with pytest.raises(UnreadableFile, match="not a CDF file"):
        check_cdf(text)
    cut = tmp_path / "cut.cdf"
    whole = l2.read_bytes()
    for size in (10, 200, len(whole) - 1):
        cut.write_bytes(whole[:size])
        with pytest.raises(UnreadableFile, match="cut short"):
            summary(cut)


def test_parents_may_be_one_entry_with_commas_or_several() -> None:
    assert parent_list(["a.cdf, b.cdf", "c.cdf"]) == ["a.cdf", "b.cdf", "c.cdf"]
    assert parent_list("a.cdf b.cdf a.cdf") == ["a.cdf", "b.cdf"]
    assert parent_list([]) == []


def test_a_missing_library_says_the_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cdflib", None)  # import fails
    with pytest.raises(MissingExtra) as caught:
        need("cdflib", cdf_module.CDF_EXTRA, "reading CDF files")
    assert "pip install 'imap-sdc-cli[cdf]'" in caught.value.message
    assert "\n" not in caught.value.message


def test_loading_without_xarray_says_the_xarray_extra(monkeypatch, tmp_path, l2) -> None:
    from imap_cli.core.loading import open_dataset

    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(MissingExtra, match=r"pip install 'imap-sdc-cli\[xarray\]'"):
        open_dataset(l2)


def test_predicted_kernels() -> None:
    assert is_predicted(parse("imap_pred_20251001_20251101_v02.bsp"))
    assert is_predicted(parse("imap_2025_280_2025_287_01.ap.bc"))
    assert not is_predicted(parse("imap_recon_20250925_20251001_v01.bsp"))
    assert not is_predicted(parse("imap_mag_l1b_norm-mago_20251001_v001.0000.cdf"))


def days(first: str, count: int) -> list[str]:
    start = dt.date(int(first[:4]), int(first[4:6]), int(first[6:]))
    return [(start + dt.timedelta(days=i)).strftime("%Y%m%d") for i in range(count)]


def test_parents_are_grouped_by_product_and_runs_of_dates() -> None:
    names = [f"imap_mag_l1b_norm-mago_{d}_v001.0000.cdf" for d in days("20251001", 400)]
    names += [f"imap_mag_l1b_norm-magi_{d}_v001.0000.cdf" for d in days("20251001", 10)]
    names += [f"imap_mag_l1b_norm-mago_{d}_v001.0000.cdf" for d in days("20280101", 3)]
    names += ["imap_mag_l2-offsets_20251001_20251015_v001.cdf", "naif0012.tls"]
    names += [f"imap_{d[:4]}_{int(d[4:6]) * 28:03d}_{d[:4]}_{int(d[4:6]) * 28 + 1:03d}_01.ah.bc"
              for d in ("20251001", "20251101")]  # fmt: skip
    groups = plan_groups(parse(n) for n in names)
    tables = sorted((g.table, dict(g.filters).get("descriptor") or dict(g.filters)["type"])
                    for g in groups)  # fmt: skip
    assert tables == [
        ("ancillary", "l2-offsets"),
        ("science", "norm-magi"),
        ("science", "norm-mago"),
        ("science", "norm-mago"),  # 2028 is more than a month after 2026-11: another query
        ("spice", "attitude_history"),
        ("spice", "leapseconds"),
    ]
    mago = sorted(
        (g.start, g.end) for g in groups if dict(g.filters).get("descriptor") == "norm-mago"
    )
    assert mago == [("20251001", "20261104"), ("20280101", "20280103")]
    assert sum(len(members) for members in groups.values()) == len(names)


def test_lookup_sends_one_query_per_group_and_judges_each_parent() -> None:
    sent = []
    archive = [
        "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251001_v001.0001.cdf",
        "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251002_v001.0002.cdf",
        "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251003_v002.0000.cdf",
    ]

    def fake_query(client, **filters):
        sent.append(filters)
        return [{"file_path": key} for key in archive if filters.get("table") == "science"]

    parents = [
        Parent(n, parse(n).key, "science", parsed=parse(n))
        for n in (
            "imap_mag_l1a_norm-mago_20251001_v001.0001.cdf",  # the newest: ok
            "imap_mag_l1a_norm-mago_20251002_v001.0001.cdf",  # a newer minor
            "imap_mag_l1a_norm-mago_20251003_v001.0004.cdf",  # an older major: not listed
            "imap_mag_l1a_norm-mago_20251004_v001.0000.cdf",  # not there at all
        )
    ]
    view = lookup(object(), [p.name for p in parents], run_query=fake_query)
    assert view.queries == 1 and len(sent) == 1
    assert sent[0]["start_date"] == "20251001" and sent[0]["end_date"] == "20251004"
    for parent in parents:
        view.judge(parent)
    ok, minor, major, gone = parents
    assert (ok.in_sdc, ok.newer) == (True, None)
    assert minor.newer == "imap_mag_l1a_norm-mago_20251002_v001.0002.cdf"
    assert major.newer == "imap_mag_l1a_norm-mago_20251003_v002.0000.cdf"
    assert major.in_sdc is None  # a plain query lists only the newest major
    assert (gone.in_sdc, gone.newer) == (False, None)
    file = FileParents("f.cdf", "f.cdf", parents)
    assert file.status == "missing"
    assert file.as_check()["superseded"] == [
        {"parent": minor.name, "newer": minor.newer},
        {"parent": major.name, "newer": major.newer},
    ]
    assert FileParents("g.cdf", "g.cdf", [ok, minor]).status == "stale"
    assert FileParents("h.cdf", "h.cdf", [ok]).status == "ok"


def test_an_unrecognised_parent_is_never_asked_about() -> None:
    view = SDCView()
    parent = Parent("something-else.dat", problem="not an IMAP file name")
    view.judge(parent)
    assert parent.in_sdc is None and parent.newer is None
    assert FileParents("f.cdf", "f.cdf", [parent]).status == "ok"


def test_parents_read_directly_agree_with_cdflib_and_compressed_files_fall_back(
    tmp_path: Path,
) -> None:
    from cdflib.cdfwrite import CDF

    from imap_cli.core.cdf import _parents_directly, global_attributes

    for n, parents in enumerate(((), ("a.cdf",), tuple(f"p{i}.cdf" for i in range(40)))):
        path = tmp_path / f"plain{n}.cdf"
        path.write_bytes(demo_cdf(f"imap_mag_l2_norm-gse_2025100{n + 1}_v001.0000.cdf", parents,
                                  dt.datetime(2025, 10, 2)))  # fmt: skip
        direct = _parents_directly(path.read_bytes(), path)
        assert direct == list(parents) == global_attributes(path).get("Parents", [])
    packed = tmp_path / "packed.cdf"
    writer = CDF(str(packed), cdf_spec={"Compressed": 6})  # the whole file gzipped
    writer.write_globalattrs({"Parents": {0: "x.cdf", 1: "y.cdf"}})
    writer.close()
    assert _parents_directly(packed.read_bytes(), packed) is None  # cdflib's turn
    assert parents_of(packed) == ["x.cdf", "y.cdf"]


def test_a_group_the_sdc_refuses_leaves_its_names_unknown() -> None:
    from imap_cli.core.errors import BadRequest

    def fake_query(client, **filters):
        if filters["table"] == "spice":
            raise BadRequest("type is not a valid kernel type")
        return [{"file_path": parse(n).key} for n in names if parse(n).kind == "science"]

    names = ["imap_mag_l1a_norm-mago_20251001_v001.0001.cdf", "naif0012.tls"]
    view = lookup(object(), names, run_query=fake_query)
    science, kernel = (Parent(n, parse(n).key, parse(n).kind, parsed=parse(n)) for n in names)
    view.judge(science)
    view.judge(kernel)
    assert science.in_sdc is True
    assert kernel.in_sdc is None and kernel.newer is None
    assert view.queries == 2


def test_the_packaged_demo_cdfs_are_what_cdflib_makes_and_cover_the_demo() -> None:
    """The package ships the demo's CDFs (a quick `imap serve --demo`); after a change to the
    demo, `python -m imap_cli.server.demo` makes them again."""
    from imap_cli.server import demo_files
    from imap_cli.server.demo import demo_cdf_specs

    packaged = demo_files._packaged()
    specs = demo_cdf_specs()
    missing = [name for name, p, g in specs if demo_files._token(name, p, g) not in packaged]
    assert missing == [], "run: python -m imap_cli.server.demo"
    for name, parents, generated in specs[:: len(specs) // 4]:
        made = demo_files._make_cdf(name, parents, generated)
        assert packaged[demo_files._token(name, parents, generated)] == made, name
