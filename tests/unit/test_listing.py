"""core.listing: what `-` reads, for download and upload alike."""

from __future__ import annotations

import json

import pytest

from imap_cli.core.listing import ListingError, parse_listing

KEY = "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251001_v001.0001.cdf"
NAME = KEY.rpartition("/")[2]
KERNEL = {"file_name": "ck/imap_2025_274_2025_276_001.ah.bc", "kernel_type": "attitude_history"}


def test_paths_and_names_one_per_line_with_comments() -> None:
    assert parse_listing(f"# from yesterday\n\n{KEY}\n  {NAME}  \n") == [KEY, NAME]


def test_nothing_but_comments_is_an_empty_list() -> None:
    assert parse_listing("# c\n\n") == [] and parse_listing("") == []


def test_json_array_of_records_names_and_spice_records() -> None:
    text = json.dumps([{"file_path": KEY, "instrument": "mag"}, NAME, KERNEL])
    assert parse_listing(text) == [KEY, NAME, "imap/spice/ck/imap_2025_274_2025_276_001.ah.bc"]


def test_json_lines() -> None:
    text = f'{{"file_path": "{KEY}"}}\n# note\n{json.dumps(KERNEL)}\n'
    assert parse_listing(text) == [KEY, "imap/spice/ck/imap_2025_274_2025_276_001.ah.bc"]


def test_csv_with_the_name_column_anywhere() -> None:
    text = f"instrument,file_path,released\nmag,{KEY},true\n\nmag,{KEY},false\n"
    assert parse_listing(text) == [KEY, KEY]
    spice = "file_name,kernel_type\nck/imap_2025_274_2025_276_001.ah.bc,attitude_history\n"
    assert parse_listing(spice) == ["imap/spice/ck/imap_2025_274_2025_276_001.ah.bc"]
    local = "file_path,size\n/tmp/out/imap_mag_l1a_norm-mago_20251001_v001.0001.cdf,3\n"
    assert parse_listing(local, paths=True) == [
        "/tmp/out/imap_mag_l1a_norm-mago_20251001_v001.0001.cdf"
    ]
    assert parse_listing(json.dumps([{"file_path": "my run/a.cdf"}]), paths=True) == [
        "my run/a.cdf"
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[1, 2", "not valid JSON"),
        ("[1, 2]", "not a query record"),
        ('{"instrument": "mag"}', "no file_path or file_name"),
        ("{broken\n", "not a JSON record"),
        ("instrument,level\nmag,l1a\n", "CSV without a file_path column"),
        ("file_path,instrument\n,mag\n", "has no file_path"),
        ("INSTRUMENT  LEVEL  NAME\nmag  l1a  x.cdf\n", "line 1 is not a file name"),
    ],
)
def test_anything_else_is_one_short_error(text: str, said: str) -> None:
    with pytest.raises(ListingError) as caught:
        parse_listing(text + "x" * 10_000 if text.startswith("INSTR") else text)
    assert said in caught.value.message
    assert len(caught.value.message) < 120
    assert "-o paths" in caught.value.hint


def test_the_table_view_gives_its_file_names() -> None:
    text = f"START     FILENAME\n────────  ────\n20251001  {NAME}\n20251001  {NAME}\n"
    assert parse_listing(text) == [NAME, NAME]


def test_paths_may_hold_spaces_for_upload() -> None:
    assert parse_listing("out/my run/a.cdf\n", paths=True) == ["out/my run/a.cdf"]
    with pytest.raises(ListingError):
        parse_listing("out/my run/a.cdf\n")
