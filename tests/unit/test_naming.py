"""Tests for imap_cli.core.naming: the shared name table, every family, messages, properties."""

from __future__ import annotations

import functools
import importlib.util
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imap_cli.core.errors import InvalidName
from imap_cli.core.naming import (
    IMAPName,
    build_ancillary_name,
    build_science_name,
    parse,
    parse_key,
    version_sort_key,
)
from imap_cli.core.vocabulary import (
    DATA_LEVELS,
    EXTENSIONS,
    INSTRUMENTS,
    KINDS,
    SPICE_SUBDIRS,
    SPICE_TYPES,
)

# ---------------------------------------------------------------------------------------
# A table of 234 real and edge-case names with the official client's verdict.

_HERE = Path(__file__).resolve()
_TSV_COPY = _HERE.parents[1] / "data" / "imap-filenames.tsv"


class Row(NamedTuple):
    name: str
    verdict: str
    kind: str
    key: str
    note: str


def _read_rows(path: Path) -> list[Row]:
    # Names are exact: split on newlines and tabs only, never strip (one name is "").
    with open(path, newline="", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    assert lines[0].split("\t") == ["name", "verdict", "kind", "key", "note"]
    return [Row(*line.split("\t")) for line in lines[1:] if line != ""]


ROWS = _read_rows(_TSV_COPY)
VALID_NAMES = [row.name for row in ROWS if row.verdict == "valid"]

# Rows where the official client's verdict looks wrong (`DISPUTED:` in the note), with our
# verdict and a fragment our message must contain. We reject every one of them.
DISPUTED = {
    "/scratch/imap_mag_l1a_norm-mago_20251017_v001.cdf": (
        "path separator",
        "a '/' would put a directory inside the key",
    ),
    "imap/mag/../../imap_mag_l1a_norm-mago_20251017_v001.cdf": (
        "path separator",
        "'/' and a '..' segment: the key would climb out of its folder",
    ),
    "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf": (
        "path separator",
        "a full key is not a file name; parse_key accepts it (tested below)",
    ),
    "imap_mag_l1a_norm mago_20251017_v001.cdf": ("space", "whitespace inside the name"),
    "imap_mag_l1a_norm-mago_20251017_v００１.cdf": (
        "non-ASCII digit",
        "fullwidth digits are not ASCII digits",
    ),
    "imap_mag_..\\..\\.._20210101_v001.csv": (
        "path separator '\\\\'",
        "backslashes are path separators on Windows",
    ),
    "/etc/naif0012.tls": ("path separator", "the client's key is an absolute path"),
    "de440.tls": ("does not fit planetary_ephemeris", "planetary ephemerides are .bsp"),
    "imap_2025_122_01.repoint.csv.bak": ("unexpected text '.bak'", "text after the kernel"),
    "imap_2025_366_2025_366_01.spin.csv": (
        "'2025_366' is not a real year and day of year",
        "2025 has 365 days; the client rolls day 366 into 2026",
    ),
    "imap_dps_2025_281_2025_286_001.ah.bcimap_2025_302_2025_303_001.ah.bc": (
        "unexpected text",
        "two kernel names run together",
    ),
    "naif0012.tls.txt": ("unexpected text '.txt'", "text after the kernel name"),
    "naif0012.tpc": ("does not fit leapseconds", "leapseconds kernels are .tls"),
    "pck00010.tls": ("does not fit planetary_constants", "planetary constants are .tpc"),
    "imap_noburn_20250924_20251124_v01.bsp": (
        "unknown ephemeris type 'noburn'",
        "the client (and so the SDC key layout we can promise) knows only six ephemeris types",
    ),
}


def _row_id(row: Row) -> str:
    return repr(row.name[:50])


def test_table_is_complete() -> None:
    assert len(ROWS) == 234
    assert sum(row.verdict == "valid" for row in ROWS) == 176
    assert "" in [row.name for row in ROWS]
    disputed = {row.name for row in ROWS if "DISPUTED" in row.note}
    assert disputed == set(DISPUTED)


@pytest.mark.parametrize("row", [row for row in ROWS if "DISPUTED" not in row.note], ids=_row_id)
def test_table_row_matches_official_client(row: Row) -> None:
    if row.verdict == "invalid":
        with pytest.raises(InvalidName):
            parse(row.name)
        return
    parsed = parse(row.name)
    assert (parsed.kind, parsed.key) == (row.kind, row.key)
    assert parsed.name == row.name
    assert parse_key(parsed.key) == parsed


@pytest.mark.parametrize("row", [row for row in ROWS if "DISPUTED" in row.note], ids=_row_id)
def test_table_disputed_row_is_rejected(row: Row) -> None:
    fragment, _reason = DISPUTED[row.name]
    with pytest.raises(InvalidName) as caught:
        parse(row.name)
    assert fragment in caught.value.message


def test_full_key_from_the_table_is_a_good_key() -> None:
    key = "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf"
    assert parse_key(key).key == key


# ---------------------------------------------------------------------------------------
# Every file-name family the SDC knows, field by field.


def _fields(parsed: IMAPName) -> dict[str, object]:
    return {name: getattr(parsed, name) for name in IMAPName.__dataclass_fields__}


FAMILY_CASES = [
    (
        "imap_codice_l2_hi-omni_20251225_v001.0002.cdf",
        dict(
            kind="science",
            key="imap/codice/l2/2025/12/imap_codice_l2_hi-omni_20251225_v001.0002.cdf",
            extension="cdf",
            instrument="codice",
            data_level="l2",
            descriptor="hi-omni",
            start_date="20251225",
            version="v001.0002",
            major_version=1,
            minor_version=2,
        ),
    ),
    (
        "imap_mag_l1a_norm-mago_20251017_v001.cdf",
        dict(
            kind="science",
            key="imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf",
            extension="cdf",
            instrument="mag",
            data_level="l1a",
            descriptor="norm-mago",
            start_date="20251017",
            version="v001",
            minor_version=1,
        ),
    ),
    (
        "imap_glows_l3a_hist_20250429-repoint01014_v001.cdf",
        dict(
            kind="science",
            key="imap/glows/l3a/2025/04/imap_glows_l3a_hist_20250429-repoint01014_v001.cdf",
            extension="cdf",
            instrument="glows",
            data_level="l3a",
            descriptor="hist",
            start_date="20250429",
            repointing=1014,
            version="v001",
            minor_version=1,
        ),
    ),
    (
        "imap_glows_l3a_test_20210101-cr00023_v000.0001.cdf",
        dict(
            kind="science",
            key="imap/glows/l3a/2021/01/imap_glows_l3a_test_20210101-cr00023_v000.0001.cdf",
            extension="cdf",
            instrument="glows",
            data_level="l3a",
            descriptor="test",
            start_date="20210101",
            cr=23,
            version="v000.0001",
            major_version=0,
            minor_version=1,
        ),
    ),
    (
        "imap_mag_l0_raw_20231212_v001.pkts",
        dict(
            kind="science",
            key="imap/mag/l0/2023/12/imap_mag_l0_raw_20231212_v001.pkts",
            extension="pkts",
            instrument="mag",
            data_level="l0",
            descriptor="raw",
            start_date="20231212",
            version="v001",
            minor_version=1,
        ),
    ),
    (
        "imap_mag_l1a_test_20210101-repoint00001_v001.0001.png",
        dict(
            kind="quicklook",
            key="imap/quicklook/mag/l1a/2021/01/"
            "imap_mag_l1a_test_20210101-repoint00001_v001.0001.png",
            extension="png",
            instrument="mag",
            data_level="l1a",
            descriptor="test",
            start_date="20210101",
            repointing=1,
            version="v001.0001",
            major_version=1,
            minor_version=1,
        ),
    ),
    (
        "imap_swe_l3_sci-9ad0ccff_20260120_v009.json",
        dict(
            kind="dependency",
            key="imap/dependency/swe/l3/2026/01/imap_swe_l3_sci-9ad0ccff_20260120_v009.json",
            extension="json",
            instrument="swe",
            data_level="l3",
            descriptor="sci-9ad0ccff",
            start_date="20260120",
            version="v009",
            minor_version=9,
        ),
    ),
    (
        "imap_mag_l1b-cal_20250103_20250104_v002.cdf",
        dict(
            kind="ancillary",
            key="imap/ancillary/mag/imap_mag_l1b-cal_20250103_20250104_v002.cdf",
            extension="cdf",
            instrument="mag",
            descriptor="l1b-cal",
            start_date="20250103",
            end_date="20250104",
            version="v002",
            minor_version=2,
        ),
    ),
    (
        "imap_glows_exclusions_20260418-repoint02000_v001.dat",
        dict(
            kind="ancillary",
            key="imap/ancillary/glows/imap_glows_exclusions_20260418-repoint02000_v001.dat",
            extension="dat",
            instrument="glows",
            descriptor="exclusions",
            start_date="20260418",
            repointing=2000,
            version="v001",
            minor_version=1,
        ),
    ),
    (
        "imap_idex_dust-model_20250101_v001.tsv",
        dict(
            kind="ancillary",
            key="imap/ancillary/idex/imap_idex_dust-model_20250101_v001.tsv",
            extension="tsv",
            instrument="idex",
            descriptor="dust-model",
            start_date="20250101",
            version="v001",
            minor_version=1,
        ),
    ),
    (
        "imap_hit_data-release-001_20260101_20260131_v001.txt",
        dict(
            kind="release",
            key="imap/release/hit/imap_hit_data-release-001_20260101_20260131_v001.txt",
            extension="txt",
            instrument="hit",
            descriptor="data-release-001",
            start_date="20260101",
            end_date="20260131",
            version="v001",
            minor_version=1,
        ),
    ),
]


def _spice(
    subdir: str, spice_type: str, extension: str, version: str | None = None, **more: object
) -> dict[str, object]:
    return dict(
        kind="spice",
        spice_subdir=subdir,
        spice_type=spice_type,
        extension=extension,
        version=version,
        minor_version=None if version is None else int(version),
        **more,
    )


SPICE_CASES = [
    (
        "imap_2025_032_2025_034_003.ah.bc",
        _spice("ck", "attitude_history", "bc", "003", start_date="20250201", end_date="20250203"),
    ),
    (
        "imap_2024_366_2025_001_01.ap.bc",
        _spice("ck", "attitude_predict", "bc", "01", start_date="20241231", end_date="20250101"),
    ),
    (
        "imap_2025_122_2025_122_01.spin.csv",
        _spice("spin", "spin", "csv", "01", start_date="20250502", end_date="20250502"),
    ),
    (
        "imap_2025_122_2025_122_01.spin",
        _spice("spin", "spin", "spin", "01", start_date="20250502", end_date="20250502"),
    ),
    (
        "imap_dps_2025_121_2025_202_07.ah.bc",
        _spice("ck", "pointing_attitude", "bc", "07", start_date="20250501", end_date="20250721"),
    ),
    (
        "imap_lopivot-repoint00132_2026_020_2026_021_01.bc",
        _spice(
            "ck",
            "lo_pivot_attitude",
            "bc",
            "01",
            start_date="20260120",
            end_date="20260121",
            repointing=132,
        ),
    ),
    (
        "imap_2025_230_01.repoint.csv",
        _spice("repoint", "repoint", "csv", "01", end_date="20250818"),
    ),
    (
        "imap_2025_230_01.repoint",
        _spice("repoint", "repoint", "repoint", "01", end_date="20250818"),
    ),
    (
        "imap_recon_od005_20250925_20251014_v01.bsp",
        _spice(
            "spk",
            "ephemeris_reconstructed",
            "bsp",
            "01",
            start_date="20250925",
            end_date="20251014",
        ),
    ),
    (
        "imap_nom_20231024_20231025_v00.bsp",
        _spice("spk", "ephemeris_nominal", "bsp", "00", start_date="20231024", end_date="20231025"),
    ),
    (
        "imap_pred_od009_20251104_20251216.bsp",
        _spice(
            "spk", "ephemeris_predicted", "bsp", None, start_date="20251104", end_date="20251216"
        ),
    ),
    (
        "imap_90days_20250101_20250401_v02.bsp",
        _spice("spk", "ephemeris_90days", "bsp", "02", start_date="20250101", end_date="20250401"),
    ),
    (
        "imap_long_20250924_20350924_v01.bsp",
        _spice("spk", "ephemeris_long", "bsp", "01", start_date="20250924", end_date="20350924"),
    ),
    (
        "imap_launch_20250924_20251024_v01.bsp",
        _spice("spk", "ephemeris_launch", "bsp", "01", start_date="20250924", end_date="20251024"),
    ),
    ("naif0012.tls", _spice("lsk", "leapseconds", "tls", "0012")),
    ("pck00011.tpc", _spice("pck", "planetary_constants", "tpc", "00011")),
    ("de440.bsp", _spice("spk", "planetary_ephemeris", "bsp", "440")),
    ("L1_de431.bsp", _spice("spk", "lagrange_point", "bsp", "431")),
    ("imap_sclk_0012.tsc", _spice("sclk", "spacecraft_clock", "tsc", "0012")),
    ("imap_001.tf", _spice("fk", "imap_frames", "tf", "001")),
    ("imap_science_120.tf", _spice("fk", "science_frames", "tf", "120")),
    (
        "imap_2026_267_2026_267_sff_hist_02.sff",
        _spice(
            "activities",
            "thruster",
            "sff",
            "02",
            descriptor="sff_hist",
            start_date="20260924",
            end_date="20260924",
        ),
    ),
    (
        "imap_sdc_metakernel_2025_v100.tm",
        _spice("mk", "metakernel", "tm", "100", start_date="20250101"),
    ),
    ("imap_2025_005_a01.spice.mk", _spice("mk", "metakernel", "mk", "01", start_date="20250105")),
    ("IMAP_2025_005_e01.mk", _spice("mk", "metakernel", "mk", "01", start_date="20250105")),
    (
        "earth_000101_230322_221227.bpc",
        _spice("pck", "earth_attitude", "bpc", start_date="20000101", end_date="20230322"),
    ),
]


@pytest.mark.parametrize(
    ("name", "expected"), FAMILY_CASES + SPICE_CASES, ids=lambda v: str(v)[:50]
)
def test_family_fields(name: str, expected: dict[str, object]) -> None:
    parsed = parse(name)
    fields = _fields(parsed)
    if parsed.kind == "spice":
        expected = {**expected, "key": f"imap/spice/{expected['spice_subdir']}/{name}"}
    for field, value in expected.items():
        assert fields[field] == value, field
    # Every field not named is None: nothing leaks between kinds.
    for field in set(fields) - set(expected) - {"name"}:
        assert fields[field] is None, field
    assert parsed.name == name
    assert parsed.folder == parsed.key.rsplit("/", 1)[0]


def test_every_spice_type_has_a_case() -> None:
    assert {expected["spice_type"] for _, expected in SPICE_CASES} == set(SPICE_TYPES)


def test_legacy_version_flag() -> None:
    assert parse("imap_mag_l1a_norm-mago_20251017_v001.cdf").is_legacy_version
    assert not parse("imap_codice_l2_hi-omni_20251225_v001.0002.cdf").is_legacy_version
    assert not parse("imap_swe_config_20251119_v002.json").is_legacy_version


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        # Science is tried before ancillary: a science-valid name wins even when it also
        # reads as an ancillary name with an end date.
        ("imap_mag_l1a_20210101_20210102_v001.cdf", "science"),
        # Ancillary is tried before dependency.
        ("imap_mag_l1a_20210101_20210102_v001.json", "ancillary"),
        ("imap_mag_l1a_20210101_20210102_v001.png", "quicklook"),
        ("imap_mag_l1a_20210101_20210102_v001.txt", "release"),
        ("imap_mag_l1a_20210101_v001.cdf", "ancillary"),
        ("imap_hit_release_20260101_20260131_v001.csv", "ancillary"),
    ],
)
def test_classification_order(name: str, kind: str) -> None:
    assert parse(name).kind == kind


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        # the prefix matches case-insensitively
        ("IMAP_2025_032_2025_034_003.ah.bc", "imap/spice/ck"),
        ("IMAP_recon_20250925_20260420_v01.bsp", "imap/spice/spk"),
        # so does a fixed extension...
        ("imap_dps_2025_121_2025_202_07.AH.BC", "imap/spice/ck"),
        ("naif0012.TLS", "imap/spice/lsk"),
        # a non-ASCII letter in a descriptor
        ("imap_mag_l1a_norm-magö_20251017_v001.cdf", "imap/mag/l1a/2025/10"),
        # '..' inside a descriptor is no segment
        ("imap_mag_l1a_norm..mago_20251017_v001.cdf", "imap/mag/l1a/2025/10"),
        ("imap_mag_l1a_norm-mago*_20251017_v001.cdf", "imap/mag/l1a/2025/10"),
        # the client allows `_v` with no digits
        ("imap_recon_20250101_20250102_v.bsp", "imap/spice/spk"),
    ],
)
def test_accepted_oddities(name: str, folder: str) -> None:
    # Accepted: classified, the name kept as written, and filed under its kind's folder.
    parsed = parse(name)
    assert (parsed.name, parsed.key) == (name, f"{folder}/{name}")


@pytest.mark.parametrize(
    "name",
    [
        "imap_2025_032_2025_034_003.AH.BC",  # ...but type words are case-sensitive
        "IMAP_DPS_2025_121_2025_202_07.ah.bc",
        "NAIF0012.TLS",
        "l1_de431.bsp",
        "imap_mag_l1a_x_20250101-REPOINT00001_v001.cdf",
        "imap_mag_l1a_x_20250101_v001.CDF",
    ],
)
def test_case_sensitive_parts(name: str) -> None:
    with pytest.raises(InvalidName):
        parse(name)


# ---------------------------------------------------------------------------------------
# Stricter than the official client


def _message(name: str) -> str:
    with pytest.raises(InvalidName) as caught:
        parse(name)
    message = caught.value.message
    assert "\n" not in message and "\r" not in message
    assert "\n" not in caught.value.hint
    return message


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("imap_mag_l1a_norm\tmago_20251017_v001.cdf", "control character '\\t'"),
        ("imap_mag_l1a_norm-mago_20251017_v001.cdf\n", "control character '\\n'"),
        ("imap_mag_test_20210101_v001.csv\n", "control character"),  # the client accepts it
        ("imap_mag_l1a_norm\x00mago_20251017_v001.cdf", "control character"),
        ("imap_mag_l1a_norm\u00a0mago_20251017_v001.cdf", "non-ASCII whitespace"),
        ("imap_mag_l1a_norm\u202emago_20251017_v001.cdf", "non-ASCII character"),
        ("imap_mag_l1a_norm\u3164mago_20251017_v001.cdf", "non-ASCII character"),
        ("imap_mag_l1a_norm-mago_2025101٧_v001.cdf", "non-ASCII digit"),
        ("imap_mag_l1a_norm:mago_20251017_v001.cdf", "':'"),
        ("imap_mäg_l1a_norm-mago_20251017_v001.cdf", "unknown instrument 'mäg'"),
        ("ımap_001.tf", "no naming convention matches"),
        ("imap_2023_366_2024_001_01.ap.bc", "'2023_366' is not a real year and day of year"),
        ("imap_2025_000_2025_001_01.ah.bc", "'2025_000'"),
        ("earth_000229_010229_000101.bpc", "'010229' is not a date (YYMMDD)"),
        ("imap_recon_20250230_20250301.bsp", "'20250230' is not a date"),
        ("imap_sdc_metakernel_0000_v100.tm", "'0000' is not a year"),
        ("imap_spin_20250101_20250102.bsp", "does not fit spin kernels; allowed: csv, spin"),
        ("imap_2025_001_2025_002_01.ah.bc.", "unexpected text '.'"),
        ("imap_001.tfx", "unexpected text 'x'"),
    ],
)
def test_stricter_rejections(name: str, fragment: str) -> None:
    assert fragment in _message(name)


def test_dot_names_are_rejected() -> None:
    for name in (".", ".."):
        assert "not a file name" in _message(name)


def test_empty_and_non_text() -> None:
    assert "empty" in _message("")
    with pytest.raises(InvalidName):
        parse(None)  # type: ignore[arg-type]


def test_length_limit_is_255_bytes() -> None:
    stem = "imap_mag_l1a__20251017_v001.cdf"
    longest = stem.replace("l1a__", "l1a_" + "d" * (255 - len(stem)) + "_")
    assert len(longest) == 255
    assert parse(longest).descriptor == "d" * (255 - len(stem))
    too_long = longest.replace("_d", "_dd", 1)
    assert "256 bytes long" in _message(too_long)
    # Bytes, not characters: 'ö' is two bytes in UTF-8.
    assert "256 bytes long" in _message(longest.replace("_d", "_ö", 1))


# ---------------------------------------------------------------------------------------
# Messages say which part is wrong and what is allowed.


def test_message_unknown_instrument_lists_sorted_instruments() -> None:
    message = _message("imap_magnetometer_l1a_norm-mago_20251017_v001.cdf")
    assert message.startswith("'imap_magnetometer_l1a_norm-mago_20251017_v001.cdf': ")
    assert "unknown instrument 'magnetometer'" in message
    assert ", ".join(sorted(INSTRUMENTS)) in message


def test_message_unknown_ancillary_instrument() -> None:
    message = _message("imap_his_pset-calibration-prod-config_20240101_v001.csv")
    assert "unknown instrument 'his'" in message
    assert ", ".join(sorted(INSTRUMENTS)) in message


def test_message_unknown_level_lists_levels() -> None:
    message = _message("imap_mag_l4_norm-mago_20251017_v001.cdf")
    assert "unknown data level 'l4'" in message
    assert ", ".join(DATA_LEVELS) in message


def test_message_names_an_impossible_date() -> None:
    message = _message("imap_mag_l1a_norm-mago_20251332_v001.cdf")
    assert "imap_mag_l1a_norm-mago_20251332_v001.cdf" in message
    assert "'20251332' is not a date" in message
    assert "YYYYMMDD" in message
    assert "'20250229' is not a date" in _message("imap_mag_l2-calibration_20250229_v002.cdf")


def test_message_bad_science_version() -> None:
    message = _message("imap_mag_l1a_norm-mago_20251017_v1.cdf")
    assert "version 'v1'" in message
    assert "vMMM.mmmm" in message and "vXXX" in message


def test_message_bad_ancillary_version() -> None:
    message = _message("imap_mag_test_20210101_v001.0001.csv")
    assert "version 'v001.0001'" in message and "vXXX" in message


def test_message_bad_extension_lists_allowed() -> None:
    message = _message("imap_mag_l1a_burst_20210101_v001.0001.abc")
    assert "extension 'abc'" in message
    allowed = sorted({*EXTENSIONS["science"], *EXTENSIONS["quicklook"], *EXTENSIONS["dependency"]})
    assert "allowed: " + ", ".join(allowed) in message
    message = _message("imap_swe_early-release_20260201_20260430_v001.md")
    assert "extension 'md'" in message
    allowed = sorted({*EXTENSIONS["ancillary"], *EXTENSIONS["release"]})
    assert "allowed: " + ", ".join(allowed) in message


def test_message_bad_repointing_suffix() -> None:
    message = _message("imap_glows_l3b_ion-rate-profile_20100422-cr2096_v001.cdf")
    assert "'-cr2096'" in message and "5 digits" in message


def test_message_spice() -> None:
    assert "'noburn'" in _message("imap_noburn_20250924_20251124_v01.bsp")
    assert "case-sensitive" in _message("NAIF0012.TLS")
    message = _message("naif0012.tpc")
    assert "extension 'tpc' does not fit leapseconds kernels; allowed: tls" in message


def test_message_unrecognisable_name() -> None:
    assert "no naming convention matches" in _message("mag_l1a_norm-mago_20251017_v001.cdf")


def test_message_shows_control_characters_escaped() -> None:
    message = _message("imap_mag_l1a_norm-mago_20251017_v001.cdf\r\n")
    assert "\\r\\n" in message


# ---------------------------------------------------------------------------------------
# parse_key


def test_parse_key_good_keys() -> None:
    for name in VALID_NAMES:
        if "/" in name or "\\" in name or name in DISPUTED:
            continue
        parsed = parse(name)
        assert parse_key(parsed.key) == parsed
        assert parse_key(name) == parsed


@pytest.mark.parametrize(
    ("key", "expected_folder"),
    [
        ("imap/mag/l1a/2025/11/imap_mag_l1a_norm-mago_20251017_v001.cdf", "imap/mag/l1a/2025/10/"),
        ("imap/mag/l1b/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf", "imap/mag/l1a/2025/10/"),
        ("mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf", "imap/mag/l1a/2025/10/"),
        ("data/imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf", "imap/mag/l1a"),
        ("imap/ancillary/mag/x/imap_mag_test_20210101_v001.cdf", "imap/ancillary/mag/"),
        ("imap/spice/spk/naif0012.tls", "imap/spice/lsk/"),
        ("imap/naif0012.tls", "imap/spice/lsk/"),
    ],
)
def test_parse_key_wrong_folder(key: str, expected_folder: str) -> None:
    with pytest.raises(InvalidName) as caught:
        parse_key(key)
    assert "expected" in caught.value.message
    assert expected_folder in caught.value.message


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "empty"),
        ("/imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf", "absolute"),
        ("imap/mag/../mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf", "'..'"),
        ("imap/mag/l1a/2025/10/../10/imap_mag_l1a_norm-mago_20251017_v001.cdf", "'..'"),
        ("../imap_mag_l1a_norm-mago_20251017_v001.cdf", "'..'"),
        ("imap/mag/l1a/2025/10/./imap_mag_l1a_norm-mago_20251017_v001.cdf", "'.'"),
        ("imap//mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251017_v001.cdf", "empty path segment"),
        ("imap/mag/l1a/2025/10/", "empty path segment"),
        ("imap\\mag\\l1a\\2025\\10\\imap_mag_l1a_norm-mago_20251017_v001.cdf", "backslash"),
        ("imap/mag/l1a/2025/10\\imap_mag_l1a_norm-mago_20251017_v001.cdf", "backslash"),
        ("imap/mag/l1a/2025/10/imap_mag_l1a_norm mago_20251017_v001.cdf", "space"),
        ("imap/mag/l1a/2025/10/imap_mag_l4_norm-mago_20251017_v001.cdf", "unknown data level"),
    ],
)
def test_parse_key_rejections(key: str, fragment: str) -> None:
    with pytest.raises(InvalidName) as caught:
        parse_key(key)
    assert fragment in caught.value.message
    assert "\n" not in caught.value.message


# ---------------------------------------------------------------------------------------
# Builders and version order


def test_build_science_name() -> None:
    name = build_science_name("mag", "l1a", "norm-mago", "20251017", "v001.0002")
    assert name == "imap_mag_l1a_norm-mago_20251017_v001.0002.cdf"
    assert build_science_name("mag", "l0", "raw", date(2023, 12, 12), "v001") == (
        "imap_mag_l0_raw_20231212_v001.pkts"
    )
    assert build_science_name(
        "hi", "l1c", "45sensor-pset", "20250415", "v001", repointing=1000
    ) == ("imap_hi_l1c_45sensor-pset_20250415-repoint01000_v001.cdf")
    assert build_science_name("glows", "l3a", "test", "20210101", "v000.0001", cr=23) == (
        "imap_glows_l3a_test_20210101-cr00023_v000.0001.cdf"
    )
    name = build_science_name("swe", "l1a", "cem-raw", "20260309", "v001", "jpg")
    assert parse(name).kind == "quicklook"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(instrument="jim"), "unknown instrument 'jim'"),
        (dict(data_level="l4"), "unknown data level 'l4'"),
        (dict(descriptor="a_b"), "contains '_'"),
        (dict(descriptor=""), "non-empty"),
        (dict(descriptor="a/b"), "path separator"),
        (dict(start_date="20251332"), "'20251332' is not a date"),
        (dict(version="v1"), "version 'v1'"),
        (dict(version="v001.001"), "version 'v001.001'"),
        (dict(extension="csv"), "unknown extension 'csv'"),
        (dict(repointing=100000), "0 to 99999"),
        (dict(repointing=True), "0 to 99999"),
        (dict(repointing=1, cr=2), "not both"),
        # A dependency name whose descriptor is a date reads as an ancillary file.
        (dict(descriptor="20210101", start_date="20210102", extension="json"), "ancillary"),
    ],
)
def test_build_science_name_rejects(kwargs: dict[str, object], fragment: str) -> None:
    args: dict[str, object] = dict(
        instrument="mag", data_level="l1a", descriptor="norm", start_date="20250101", version="v001"
    )
    with pytest.raises(InvalidName) as caught:
        build_science_name(**{**args, **kwargs})  # type: ignore[arg-type]
    assert fragment in caught.value.message


def test_build_ancillary_name() -> None:
    assert build_ancillary_name("mag", "l1b-cal", "20250103", "v002", "cdf", "20250104") == (
        "imap_mag_l1b-cal_20250103_20250104_v002.cdf"
    )
    assert build_ancillary_name("lo", "bg-rates", "20260120", "v002", "json", repointing=132) == (
        "imap_lo_bg-rates_20260120-repoint00132_v002.json"
    )
    name = build_ancillary_name("hit", "data-release-001", "20260101", "v001", "txt", "20260131")
    assert parse(name).kind == "release"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(instrument="his"), "unknown instrument 'his'"),
        (dict(version="v001.0001"), "version 'v001.0001'"),
        (dict(extension="png"), "unknown extension 'png'"),
        (dict(end_date="20250230"), "'20250230' is not a date"),
        (dict(end_date="20250301", repointing=1), "not both"),
        # `imap_mag_l1a_<date>_<date>_v001.cdf` is a science name: the client reads it so.
        (dict(descriptor="l1a", end_date="20250301"), "science"),
    ],
)
def test_build_ancillary_name_rejects(kwargs: dict[str, object], fragment: str) -> None:
    args: dict[str, object] = dict(
        instrument="mag", descriptor="cal", start_date="20250101", version="v001", extension="cdf"
    )
    with pytest.raises(InvalidName) as caught:
        build_ancillary_name(**{**args, **kwargs})  # type: ignore[arg-type]
    assert fragment in caught.value.message


def test_version_sort_key_puts_legacy_first() -> None:
    names = [
        "imap_mag_l1a_x_20250101_v001.0001.cdf",
        "imap_mag_l1a_x_20250101_v999.cdf",
        "imap_mag_l1a_x_20250101_v000.0000.cdf",
        "imap_mag_l1a_x_20250101_v002.cdf",
        "imap_mag_l1a_x_20250101_v001.0000.cdf",
    ]
    ordered = sorted((parse(name) for name in names), key=version_sort_key)
    assert [p.version for p in ordered] == ["v002", "v999", "v000.0000", "v001.0000", "v001.0001"]
    assert version_sort_key(parse("imap_swe_config_20251119_v002.json")) == (-1, 2)


def test_public_tables() -> None:
    assert KINDS == ("science", "quicklook", "dependency", "ancillary", "release", "spice")
    assert EXTENSIONS["science"] == ("cdf", "pkts")
    assert EXTENSIONS["quicklook"] == ("jpg", "pdf", "png")
    assert EXTENSIONS["dependency"] == ("json",)
    assert EXTENSIONS["ancillary"] == ("cdf", "csv", "dat", "json", "pgm", "tsv", "xlsx", "zip")
    assert EXTENSIONS["release"] == ("txt",)
    assert set(EXTENSIONS) == set(KINDS)
    assert list(SPICE_TYPES) == sorted(SPICE_TYPES)
    assert {"leapseconds", "attitude_history", "spin", "repoint", "thruster"} <= set(SPICE_TYPES)
    assert len(SPICE_TYPES) == 22
    assert set(SPICE_SUBDIRS) == set(SPICE_TYPES)


def test_parsing_30000_names() -> None:
    # How fast (under a second) is benchmarks/bench_timings.py's to say; here, that 30,000
    # parses in a row give each name the answer it gets alone (no state carried over).
    def outcome(name: str) -> IMAPName | str:
        try:
            return parse(name)
        except InvalidName as error:
            return error.message

    alone = [outcome(name) for name in VALID_NAMES]
    names = (VALID_NAMES * (30000 // len(VALID_NAMES) + 1))[:30000]
    assert [outcome(name) for name in names] == (alone * (len(names) // len(alone) + 1))[:30000]


# ---------------------------------------------------------------------------------------
# Properties

descriptors = st.from_regex(r"[a-z][a-z0-9-]{0,24}", fullmatch=True)
dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
legacy_versions = st.integers(0, 999).map(lambda n: f"v{n:03d}")
science_versions = st.one_of(
    legacy_versions,
    st.tuples(st.integers(0, 999), st.integers(0, 9999)).map(lambda v: f"v{v[0]:03d}.{v[1]:04d}"),
)


def _ymd(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


@given(
    instrument=st.sampled_from(INSTRUMENTS),
    level=st.sampled_from(DATA_LEVELS),
    descriptor=descriptors,
    start=dates,
    version=science_versions,
    extension=st.sampled_from(
        (None, *EXTENSIONS["science"], *EXTENSIONS["quicklook"], *EXTENSIONS["dependency"])
    ),
    interval=st.one_of(
        st.none(),
        st.tuples(st.sampled_from(("repointing", "cr")), st.integers(0, 99999)),
    ),
)
def test_science_round_trip(
    instrument: str,
    level: str,
    descriptor: str,
    start: date,
    version: str,
    extension: str | None,
    interval: tuple[str, int] | None,
) -> None:
    numbers = {} if interval is None else {interval[0]: interval[1]}
    name = build_science_name(instrument, level, descriptor, start, version, extension, **numbers)
    parsed = parse(name)
    if extension is None:
        extension = "pkts" if level == "l0" else "cdf"
    kind = next(k for k in ("science", "quicklook", "dependency") if extension in EXTENSIONS[k])
    folder = {"science": "imap"}.get(kind, f"imap/{kind}")
    ymd = _ymd(start)
    assert parsed.kind == kind
    assert parsed.key == f"{folder}/{instrument}/{level}/{ymd[:4]}/{ymd[4:6]}/{name}"
    assert (parsed.instrument, parsed.data_level, parsed.descriptor) == (
        instrument,
        level,
        descriptor,
    )
    assert (parsed.start_date, parsed.version, parsed.extension) == (ymd, version, extension)
    assert parsed.repointing == numbers.get("repointing")
    assert parsed.cr == numbers.get("cr")
    if "." in version:
        assert (parsed.major_version, parsed.minor_version) == tuple(
            int(part) for part in version[1:].split(".")
        )
    else:
        assert (parsed.major_version, parsed.minor_version) == (None, int(version[1:]))
    assert parse_key(parsed.key) == parsed


@given(
    instrument=st.sampled_from(INSTRUMENTS),
    descriptor=descriptors,
    start=dates,
    version=legacy_versions,
    extension=st.sampled_from((*EXTENSIONS["ancillary"], *EXTENSIONS["release"])),
    until=st.one_of(st.none(), dates, st.integers(0, 99999)),
)
def test_ancillary_round_trip(
    instrument: str,
    descriptor: str,
    start: date,
    version: str,
    extension: str,
    until: date | int | None,
) -> None:
    end = until if isinstance(until, date) else None
    repointing = until if isinstance(until, int) else None
    try:
        name = build_ancillary_name(
            instrument, descriptor, start, version, extension, end, repointing=repointing
        )
    except InvalidName as err:
        # The one ambiguity: with an end date and .cdf, a level-like descriptor makes a
        # science name, and the client reads it as one.
        assert descriptor in DATA_LEVELS and end is not None and extension == "cdf"
        assert "science" in err.message
        return
    parsed = parse(name)
    kind = "release" if extension == "txt" else "ancillary"
    assert parsed.kind == kind
    assert parsed.key == f"imap/{kind}/{instrument}/{name}"
    assert (parsed.instrument, parsed.descriptor, parsed.start_date) == (
        instrument,
        descriptor,
        _ymd(start),
    )
    assert parsed.end_date == (None if end is None else _ymd(end))
    assert parsed.repointing == repointing
    assert (parsed.version, parsed.major_version, parsed.minor_version) == (
        version,
        None,
        int(version[1:]),
    )
    assert parse_key(parsed.key) == parsed


# Pieces that make a valid name unsafe or nearly valid.
_PIECES = (
    "/",
    "\\",
    "..",
    ".",
    "../",
    "/..",
    "imap/",
    " ",
    "\t",
    "\n",
    "\x00",
    "\x7f",
    ":",
    "_",
    "-",
    "ö",
    "０",
    "٣",
    "\u00a0",
    "\u202e",
    "\u3164",
    "v001",
    ".cdf",
    ".bak",
    "-repoint00001",
    "_2024_366",
    "C:",
    "~",
)


@st.composite
def near_valid_names(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(VALID_NAMES))
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(name)))
        piece = draw(st.one_of(st.sampled_from(_PIECES), st.characters()))
        action = draw(st.sampled_from(("insert", "replace", "delete")))
        if action == "insert":
            name = name[:position] + piece + name[position:]
        elif action == "replace":
            name = name[:position] + piece + name[position + 1 :]
        else:
            name = name[:position] + name[position + 1 :]
    return name


any_names = st.one_of(near_valid_names(), st.text(max_size=300))


def _assert_safe_key(name: str, parsed: IMAPName) -> None:
    key = parsed.key
    assert key.startswith("imap/")
    assert "\\" not in key and ":" not in key
    # `..` may appear inside a descriptor (`norm..mago`, which the SDC accepts); what must
    # never appear is a `..` (or `.` or empty) path segment.
    assert all(segment not in ("", ".", "..") for segment in key.split("/"))
    assert not PurePosixPath(key).is_absolute()
    assert not PureWindowsPath(key).is_absolute() and not PureWindowsPath(key).drive
    assert "/" not in name and key.endswith("/" + name)
    assert len(name.encode("utf-8")) <= 255
    assert name.isprintable() and not any(char.isspace() for char in name)
    assert parse_key(key) == parsed


@settings(max_examples=1500)
@given(name=any_names)
def test_accepted_names_give_safe_keys(name: str) -> None:
    try:
        parsed = parse(name)
    except InvalidName as err:
        assert "\n" not in err.message and "\r" not in err.message
        assert "\n" not in err.hint
        return
    _assert_safe_key(name, parsed)


@given(name=st.sampled_from(VALID_NAMES))
def test_table_names_give_safe_keys(name: str) -> None:
    try:
        parsed = parse(name)
    except InvalidName:
        assert name in DISPUTED
        return
    _assert_safe_key(name, parsed)


@given(text=st.one_of(near_valid_names(), st.text(max_size=300)))
def test_parse_key_never_yields_an_unsafe_key(text: str) -> None:
    try:
        parsed = parse_key(text)
    except InvalidName as err:
        assert "\n" not in err.message
        return
    _assert_safe_key(parsed.name, parsed)
    assert text in (parsed.name, parsed.key)


@functools.cache
def _official_client() -> Callable[[str], tuple[str, str] | None]:
    """The official client's classification of a name: (kind, key), or None if it rejects."""
    import imap_data_access
    from imap_data_access.file_validation import generate_imap_file_path

    data_dir = Path(imap_data_access.config["DATA_DIR"])
    kinds = {
        "ScienceFilePath": "science",
        "QuicklookFilePath": "quicklook",
        "DependencyFilePath": "dependency",
        "AncillaryFilePath": "ancillary",
        "ReleaseFilePath": "release",
        "SPICEFilePath": "spice",
    }

    def classify(name: str) -> tuple[str, str] | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = generate_imap_file_path(name)
                key = found.construct_path().relative_to(data_dir).as_posix()
        except Exception:
            return None
        return kinds[type(found).__name__], key

    return classify


@pytest.mark.skipif(
    importlib.util.find_spec("imap_data_access") is None, reason="official client not installed"
)
@settings(max_examples=1500)
@given(name=any_names)
def test_never_looser_than_the_official_client(name: str) -> None:
    # We may reject what the client accepts (that is the point), never the other way
    # round, and when both accept, the kind and key are the same.
    classify = _official_client()
    try:
        parsed = parse(name)
    except InvalidName:
        return
    assert classify(name) == (parsed.kind, parsed.key)
