"""The IMAP filename vocabulary and grammar tables: instruments, levels, kinds, extensions,
SPICE kernel types, and the patterns core.naming classifies names with. Data only, no I/O.

Completion offers the public names from here, without importing core.naming.
"""

from __future__ import annotations

import re

INSTRUMENTS: tuple[str, ...] = (
    "codice",
    "glows",
    "hi",
    "hit",
    "ialirt",
    "idex",
    "l1const",
    "lo",
    "mag",
    "spacecraft",
    "swapi",
    "swe",
    "ultra",
)
DATA_LEVELS: tuple[str, ...] = (
    "l0",
    "l1",
    "l1a",
    "l1b",
    "l1c",
    "l1ca",
    "l1cb",
    "l1d",
    "l2",
    "l2a",
    "l2b",
    "l2c",
    "l3",
    "l3a",
    "l3b",
    "l3c",
    "l3d",
    "l3e",
)
KINDS: tuple[str, ...] = ("science", "quicklook", "dependency", "ancillary", "release", "spice")

# kernel_type -> (its subfolder under imap/spice, as the SDC stores them; the last suffixes it
# may have, compared case-insensitively as the client matches SPICE names). `.spin` and
# `.repoint` kernels may have no further extension.
SPICE_KERNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "attitude_history": ("ck", ("bc",)),
    "attitude_predict": ("ck", ("bc",)),
    "earth_attitude": ("pck", ("bpc",)),
    "ephemeris_90days": ("spk", ("bsp",)),
    "ephemeris_launch": ("spk", ("bsp",)),
    "ephemeris_long": ("spk", ("bsp",)),
    "ephemeris_nominal": ("spk", ("bsp",)),
    "ephemeris_predicted": ("spk", ("bsp",)),
    "ephemeris_reconstructed": ("spk", ("bsp",)),
    "imap_frames": ("fk", ("tf",)),
    "lagrange_point": ("spk", ("bsp",)),
    "leapseconds": ("lsk", ("tls",)),
    "lo_pivot_attitude": ("ck", ("bc",)),
    "metakernel": ("mk", ("mk", "tm")),
    "planetary_constants": ("pck", ("tpc",)),
    "planetary_ephemeris": ("spk", ("bsp",)),
    "pointing_attitude": ("ck", ("bc",)),
    "repoint": ("repoint", ("csv", "repoint")),
    "science_frames": ("fk", ("tf",)),
    "spacecraft_clock": ("sclk", ("tsc",)),
    "spin": ("spin", ("csv", "spin")),
    "thruster": ("activities", ("sff",)),
}
SPICE_SUBDIRS: dict[str, str] = {kind: folder for kind, (folder, _) in SPICE_KERNELS.items()}
SPICE_EXTENSIONS: dict[str, tuple[str, ...]] = {k: exts for k, (_, exts) in SPICE_KERNELS.items()}
SPICE_TYPES: tuple[str, ...] = tuple(sorted(SPICE_KERNELS))

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "science": ("cdf", "pkts"),
    "quicklook": ("jpg", "pdf", "png"),
    "dependency": ("json",),
    "ancillary": ("cdf", "csv", "dat", "json", "pgm", "tsv", "xlsx", "zip"),
    "release": ("txt",),
    "spice": tuple(sorted({ext for exts in SPICE_EXTENSIONS.values() for ext in exts})),
}

# Every extension of every kind, sorted (completion offers them).
ALL_EXTENSIONS: tuple[str, ...] = tuple(sorted({e for exts in EXTENSIONS.values() for e in exts}))

MAX_NAME_BYTES = 255

SCIENCE_FAMILY = ("science", "quicklook", "dependency")
ANCILLARY_FAMILY = ("ancillary", "release")
SCIENCE_FAMILY_EXTENSIONS = tuple(sorted({e for k in SCIENCE_FAMILY for e in EXTENSIONS[k]}))
ANCILLARY_FAMILY_EXTENSIONS = tuple(sorted({e for k in ANCILLARY_FAMILY for e in EXTENSIONS[k]}))
KIND_BY_SCIENCE_EXTENSION = {e: k for k in SCIENCE_FAMILY for e in EXTENSIONS[k]}
KIND_BY_ANCILLARY_EXTENSION = {e: k for k in ANCILLARY_FAMILY for e in EXTENSIONS[k]}
INSTRUMENT_SET = frozenset(INSTRUMENTS)
LEVEL_SET = frozenset(DATA_LEVELS)

SCIENCE_CONVENTION = (
    "imap_<instrument>_<level>_<descriptor>_<YYYYMMDD>[-repoint<NNNNN>|-cr<NNNNN>]"
    "_<vMMM.mmmm|vXXX>.<ext>"
)
ANCILLARY_CONVENTION = (
    "imap_<instrument>_<descriptor>_<YYYYMMDD>[_<YYYYMMDD>|-repoint<NNNNN>]_v<NNN>.<ext>"
)
GENERIC_HINT = (
    f"Science, quicklook and dependency files: {SCIENCE_CONVENTION}; ancillary and release "
    f"files: {ANCILLARY_CONVENTION}; SPICE kernels follow their own names, "
    "e.g. imap_2025_032_2025_034_01.ah.bc or naif0012.tls."
)
SCIENCE_HINT = f"Science-style names are {SCIENCE_CONVENTION}."
# What upload takes: the SDC stores science-family files only with a vMMM.mmmm version.
UPLOAD_SCIENCE_CONVENTION = (
    "imap_<instrument>_<level>_<descriptor>_<YYYYMMDD>[-repoint<NNNNN>|-cr<NNNNN>]"
    "_v<MMM.mmmm>.<ext>"
)
UPLOAD_GENERIC_HINT = GENERIC_HINT.replace(SCIENCE_CONVENTION, UPLOAD_SCIENCE_CONVENTION)
UPLOAD_SCIENCE_HINT = f"Science-style names are {UPLOAD_SCIENCE_CONVENTION}."
ANCILLARY_HINT = f"Ancillary and release names are {ANCILLARY_CONVENTION}."
SPICE_HINT = (
    "SPICE kernels keep the SDC's names, e.g. imap_2025_032_2025_034_01.ah.bc, "
    "imap_recon_20250925_20251104_v01.bsp, naif0012.tls, pck00010.tpc, imap_001.tf."
)

# ---------------------------------------------------------------------------------------
# Science-style and ancillary-style grammar. Fields are separated by `_` and cannot hold
# one, so each regex has exactly one way to split a name. ASCII digits only.

SCIENCE_RE = re.compile(
    r"imap_(?P<instrument>[^_]+)_(?P<data_level>[^_]+)_(?P<descriptor>[^_]+)"
    r"_(?P<start_date>[0-9]{8})(?:-repoint(?P<repointing>[0-9]{5})|-cr(?P<cr>[0-9]{5}))?"
    # The optional `.mmmm` is tried first, so `v001.0001` with no extension splits as
    # version v001 and extension 0001, as in the official client.
    r"_(?P<version>v(?P<major>[0-9]{3})(?:\.(?P<minor>[0-9]{4}))?)\.(?P<extension>[^.]+)"
)
ANCILLARY_RE = re.compile(
    r"imap_(?P<instrument>[^_]+)_(?P<descriptor>[^_]+)_(?P<start_date>[0-9]{8})"
    r"(?:_(?P<end_date>[0-9]{8})|-repoint(?P<repointing>[0-9]{5}))?"
    r"_(?P<version>v(?P<minor>[0-9]{3}))\.(?P<extension>[^.]+)"
)
SCIENCE_VERSION_RE = re.compile(r"v[0-9]{3}(?:\.[0-9]{4})?")
LEGACY_VERSION_RE = re.compile(r"v[0-9]{3}")
DATE_RE = re.compile(r"[0-9]{8}")
INTERVAL_RE = re.compile(r"(?:repoint|cr)[0-9]{5}")
REPOINT_RE = re.compile(r"repoint[0-9]{5}")

# ---------------------------------------------------------------------------------------
# SPICE grammar. The official client tries these patterns in this order, matched
# case-insensitively at the start of the name; the first pattern that matches decides,
# and its type word (looked up case-sensitively) must be one of SPICE_TYPE_WORDS.
# We then also require the pattern to cover the whole name and the extension to fit.
# Where the client's pattern has an unescaped `.` inside a type word (`ah.bc`), ours
# does too: a name like `...ahXbc` must be decided by this pattern (and rejected by its
# type word), not fall through to a later pattern.

SPICE_TYPE_WORDS: dict[str, str] = {
    "ah.bc": "attitude_history",
    "ap.bc": "attitude_predict",
    "spin.csv": "spin",
    "spin": "spin",
    "repoint.csv": "repoint",
    "repoint": "repoint",
    "recon": "ephemeris_reconstructed",
    "nom": "ephemeris_nominal",
    "pred": "ephemeris_predicted",
    "90days": "ephemeris_90days",
    "long": "ephemeris_long",
    "launch": "ephemeris_launch",
    "de": "planetary_ephemeris",
    "L1_de": "lagrange_point",
    "pck": "planetary_constants",
    "naif": "leapseconds",
    "imap_sclk_": "spacecraft_clock",
    "imap_dps": "pointing_attitude",
    "imap_lopivot": "lo_pivot_attitude",
    "tf": "imap_frames",
    "imap_science": "science_frames",
    "mk": "metakernel",
    "tm": "metakernel",
    "sff": "thruster",
    "bpc": "earth_attitude",
}

DOY = r"[0-9]{4}_[0-9]{3}"
# The client matches these case-sensitively; every other pattern ignores case.
_CASE_SENSITIVE = frozenset({"SDC metakernel"})
SPICE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.ASCII if label in _CASE_SENSITIVE else re.IGNORECASE | re.ASCII))
    for label, pattern in (
        (
            "attitude",
            rf"imap_(?P<start_doy>{DOY})_(?P<end_doy>{DOY})_(?P<version>[0-9]+)"
            r"\.(?P<type>ah.bc|ap.bc|spin.csv|spin)",
        ),
        (
            "pointing attitude",
            rf"(?P<type>imap_dps)_(?P<start_doy>{DOY})_(?P<end_doy>{DOY})"
            r"_(?P<version>[0-9]+)\.ah\.bc",
        ),
        (
            # The only SPICE pattern the client anchors at the end: a longer name falls
            # through to the later patterns instead of being decided here.
            "Lo pivot attitude",
            r"(?P<type>imap_lopivot)-repoint(?P<repointing>[0-9]{5})"
            rf"_(?P<start_doy>{DOY})_(?P<end_doy>{DOY})_(?P<version>[0-9]+)\.bc\Z",
        ),
        (
            "repoint",
            rf"imap_(?P<end_doy>{DOY})_(?P<version>[0-9]+)\.(?P<type>repoint.csv|repoint)",
        ),
        (
            "spacecraft ephemeris",
            r"imap_(?P<type>[a-z0-9-]+)_(?:od[0-9]{3}_)?(?P<start_ymd>[0-9]{8})"
            r"_(?P<end_ymd>[0-9]{8})(?:|_v(?P<version>[0-9]*))\.bsp",
        ),
        (
            "versioned product",
            r"(?P<type>L1_de|[a-z_-]+)(?P<version>[0-9]+)\.(?:tls|tpc|bsp|tsc)",
        ),
        (
            "frames",
            r"imap_(?P<version>[0-9]+)\.(?P<type>tf)",
        ),
        (
            "thruster",
            rf"imap_(?P<start_doy>{DOY})_(?P<end_doy>{DOY})_(?P<text>[a-z0-9_-]+)"
            r"_(?P<version>[0-9]{2})\.(?P<type>sff)",
        ),
        (
            "SDC metakernel",
            r"imap_sdc_metakernel_(?P<start_year>[0-9]{4})_v(?P<version>[0-9]{3})\.(?P<type>tm)",
        ),
        (
            "attitude metakernel",
            rf"imap_(?P<start_doy>{DOY})_a(?P<version>[0-9]{{2}})\.spice\.(?P<type>mk)",
        ),
        (
            "ephemeris metakernel",
            rf"IMAP_(?P<start_doy>{DOY})_e(?P<version>[0-9]{{2}})\.(?P<type>mk)",
        ),
        (
            "science frames",
            r"(?P<type>imap_science)_(?P<version>[0-9]+)\.tf",
        ),
        (
            "Earth attitude",
            r"earth_(?P<start_yymmdd>[0-9]{6})_(?P<end_yymmdd>[0-9]{6})"
            r"_(?P<pred_yymmdd>[0-9]{6})\.(?P<type>bpc)",
        ),
    )
)
