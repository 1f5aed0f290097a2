"""IMAP filename grammar: classify a name, give its SDC key. Pure functions, no I/O.

The grammar follows the official client (imap-data-access 1.3.0) so that every name it
accepts maps to the same kind and SDC key; a download would 404 otherwise. We are stricter
where the client is unsafe or sloppy, and say why:

- a name is one path component: no `/`, `\\`, `:` (an NTFS stream separator), `.`/`..`,
  whitespace or control characters, at most 255 UTF-8 bytes;
- digits are ASCII digits (the client's `\\d` also takes e.g. fullwidth digits);
- non-ASCII letters are allowed only inside a descriptor (the client accepts them there,
  and the shared test data expects them); other non-ASCII characters are rejected;
- dates and days of year must exist (the client rolls day 366 of a non-leap year over);
- a SPICE kernel name must end where its pattern ends, and its extension must fit its
  kernel type (the client accepts `naif0012.tls.txt` and `naif0012.tpc`).

A `..` inside a descriptor (`norm..mago`) is kept: without `/` or `\\` it cannot be a path
segment, and the client and the SDC accept it.

Versions: science-style names carry `vMMM.mmmm` (major, minor) or legacy `vXXX`, which has
no major (major_version None, minor_version XXX) and sorts before any version with a major.
Ancillary and release names always use `vXXX`, stored the same way (major None). SPICE
kernels keep their own digit run as written; minor_version is its integer value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from imap_cli.core.errors import InvalidName
from imap_cli.core.vocabulary import (
    ANCILLARY_FAMILY_EXTENSIONS,
    ANCILLARY_HINT,
    ANCILLARY_RE,
    DATA_LEVELS,
    DATE_RE,
    GENERIC_HINT,
    INSTRUMENT_SET,
    INSTRUMENTS,
    INTERVAL_RE,
    KIND_BY_ANCILLARY_EXTENSION,
    KIND_BY_SCIENCE_EXTENSION,
    LEGACY_VERSION_RE,
    LEVEL_SET,
    MAX_NAME_BYTES,
    REPOINT_RE,
    SCIENCE_FAMILY_EXTENSIONS,
    SCIENCE_HINT,
    SCIENCE_RE,
    SCIENCE_VERSION_RE,
    SPICE_EXTENSIONS,
    SPICE_HINT,
    SPICE_PATTERNS,
    SPICE_SUBDIRS,
    SPICE_TYPE_WORDS,
)

# Characters never allowed in a name, whatever the kind: path separators, the NTFS stream
# separator, whitespace and control characters.
_UNSAFE_ASCII_RE = re.compile(r"[\x00-\x20\x7f/\\:]")
# Letters that render as blank space, so they could hide in a name.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


@dataclass(frozen=True)
class IMAPName:
    """A classified IMAP file name. Fields that do not apply to the kind are None."""

    name: str
    kind: str  # one of KINDS
    key: str  # SDC key, e.g. imap/mag/l1a/2025/10/<name>; also the path under the data dir
    extension: str
    instrument: str | None = None
    data_level: str | None = None
    descriptor: str | None = None
    start_date: str | None = None  # YYYYMMDD
    end_date: str | None = None  # YYYYMMDD (ancillary/release, and SPICE when named)
    repointing: int | None = None
    cr: int | None = None
    version: str | None = None  # as written: v001.0002, v001 (or the SPICE digits)
    major_version: int | None = None
    minor_version: int | None = None
    spice_type: str | None = None  # kernel_type, e.g. attitude_history
    spice_subdir: str | None = None  # ck, spk, ...

    @property
    def level(self) -> str | None:
        """The data level (`data_level`), as the official client names it."""
        return self.data_level

    @property
    def dates(self) -> tuple[date | None, date | None]:
        """(start, end) as datetime.date; end is None when the name has no end date."""

        def day(text: str | None) -> date | None:
            if text is None or len(text) != 8 or not text.isdigit():
                return None
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))

        return day(self.start_date), day(self.end_date)

    @property
    def folder(self) -> str:
        """The key without the filename."""
        return self.key.rsplit("/", 1)[0]

    @property
    def is_legacy_version(self) -> bool:
        """A science-family file written with the old `vXXX` version."""
        return self.major_version is None and self.kind in ("science", "quicklook", "dependency")


# ---------------------------------------------------------------------------------------
# Small helpers


def _show(text: str, limit: int = 120) -> str:
    """Quote a name for a one-line message: escapes control characters, shortens long text."""
    if len(text) > limit:
        text = f"{text[: limit // 2]}...{text[-limit // 2 :]}"
    shown = repr(text)
    return shown if shown[0] == "'" else f"'{shown[1:-1]}'"


def _is_date(text: str) -> bool:
    """A real calendar date written as YYYYMMDD (ASCII digits)."""
    if DATE_RE.fullmatch(text) is None:
        return False
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def _sorted_list(values: tuple[str, ...] | frozenset[str]) -> str:
    return ", ".join(sorted(values))


class _Problem:
    """Why one grammar rejected a name: its reasons, and the hint to show with them."""

    __slots__ = ("hint", "reasons")

    def __init__(self, reasons: list[str], hint: str) -> None:
        self.reasons = reasons
        self.hint = hint


# ---------------------------------------------------------------------------------------
# Safety checks, before any grammar


def _check_safe(name: str) -> None:
    """Reject names that are unsafe as a path component or ambiguous to read."""
    if not isinstance(name, str):
        raise InvalidName(f"a file name must be text, not {type(name).__name__}")
    if name == "":
        raise InvalidName("empty file name", "Give a file name such as " + _example())
    bad = _UNSAFE_ASCII_RE.search(name)
    if bad is not None:
        raise InvalidName(f"{_show(name)}: {_describe_unsafe(bad.group())}", _unsafe_hint(name))
    if name in (".", ".."):
        raise InvalidName(f"{_show(name)}: not a file name (it names a directory)")
    if not name.isascii():
        _check_non_ascii(name)
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise InvalidName(
            f"{_show(name)}: {size} bytes long; file names may have at most {MAX_NAME_BYTES} bytes"
        )


def _describe_unsafe(char: str) -> str:
    if char in "/\\":
        return f"contains a path separator {char!r}; give a bare file name"
    if char == ":":
        return "contains ':', which no IMAP name has and which Windows reads as a stream"
    if char == " ":
        return "contains a space; IMAP file names have no whitespace"
    return f"contains the control character {char!r}; IMAP file names are printable text"


def _unsafe_hint(name: str) -> str:
    if "/" in name:
        return (
            "For a full SDC key such as imap/mag/l1a/2025/10/<name>, use a command that takes keys."
        )
    return "IMAP names use letters, digits, '-', '_' and '.'; " + _example()


def _example() -> str:
    return "imap_mag_l1a_norm-mago_20251017_v001.0001.cdf"  # a name every command takes


def _check_non_ascii(name: str) -> None:
    """Allow non-ASCII letters (they can only survive in a descriptor); reject the rest."""
    for char in name:
        if char.isascii():
            continue
        if char.isdigit() or char.isnumeric():
            what = "a non-ASCII digit"
        elif char.isspace():
            what = "non-ASCII whitespace"
        elif not char.isalpha() or char in _INVISIBLE_LETTERS:
            what = "a non-ASCII character"
        else:
            continue
        raise InvalidName(
            f"{_show(name)}: contains {what} {char!r} (U+{ord(char):04X}); "
            "IMAP names use ASCII digits and punctuation",
            "Retype the name with plain ASCII characters.",
        )


# ---------------------------------------------------------------------------------------
# Science, quicklook, dependency


def _science_family(name: str, match: re.Match[str] | None, kind: str) -> IMAPName | None:
    """The science-style name if it is valid for `kind`, else None."""
    if match is None or KIND_BY_SCIENCE_EXTENSION.get(match["extension"]) != kind:
        return None
    instrument, level, start = match["instrument"], match["data_level"], match["start_date"]
    if instrument not in INSTRUMENT_SET or level not in LEVEL_SET or not _is_date(start):
        return None
    prefix = "imap" if kind == "science" else f"imap/{kind}"
    minor = match["minor"]
    repointing, cr = match["repointing"], match["cr"]
    return IMAPName(
        name=name,
        kind=kind,
        key=f"{prefix}/{instrument}/{level}/{start[:4]}/{start[4:6]}/{name}",
        extension=match["extension"],
        instrument=instrument,
        data_level=level,
        descriptor=match["descriptor"],
        start_date=start,
        repointing=None if repointing is None else int(repointing),
        cr=None if cr is None else int(cr),
        version=match["version"],
        major_version=None if minor is None else int(match["major"]),
        minor_version=int(match["major"] if minor is None else minor),
    )


def _ancillary_family(name: str, match: re.Match[str] | None, kind: str) -> IMAPName | None:
    """The ancillary-style name if it is valid for `kind`, else None."""
    if match is None or KIND_BY_ANCILLARY_EXTENSION.get(match["extension"]) != kind:
        return None
    instrument, start, end = match["instrument"], match["start_date"], match["end_date"]
    if instrument not in INSTRUMENT_SET or not _is_date(start):
        return None
    if end is not None and not _is_date(end):
        return None
    repointing = match["repointing"]
    return IMAPName(
        name=name,
        kind=kind,
        key=f"imap/{kind}/{instrument}/{name}",
        extension=match["extension"],
        instrument=instrument,
        descriptor=match["descriptor"],
        start_date=start,
        end_date=end,
        repointing=None if repointing is None else int(repointing),
        version=match["version"],
        minor_version=int(match["minor"]),
    )


# ---------------------------------------------------------------------------------------
# SPICE


def _doy_to_date(text: str) -> str | None:
    """`YYYY_DDD` as YYYYMMDD, or None when that day does not exist."""
    year, day = int(text[:4]), int(text[5:])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if year < 1 or not 1 <= day <= (366 if leap else 365):
        return None
    day_date = date(year, 1, 1) + timedelta(days=day - 1)
    # Formatted by hand: strftime's %Y does not zero-pad years before 1000 on every platform.
    return f"{day_date.year:04d}{day_date.month:02d}{day_date.day:02d}"


def _yymmdd_to_date(text: str) -> str | None:
    """`YYMMDD` as YYYYMMDD (00-68 -> 20xx, 69-99 -> 19xx, as strptime's %y), or None."""
    year = int(text[:2])
    full = f"{2000 + year if year < 69 else 1900 + year}{text[2:]}"
    return full if _is_date(full) else None


def _spice(name: str) -> IMAPName | _Problem | None:
    """The SPICE kernel name, a _Problem when a kernel pattern matched but fails, else None."""
    for label, pattern in SPICE_PATTERNS:
        match = pattern.match(name)
        if match is not None:
            return _spice_from_match(name, label, match)
    return None


class _BadPart(Exception):
    """One part of a kernel name is wrong; the message says which."""


def _spice_from_match(name: str, label: str, match: re.Match[str]) -> IMAPName | _Problem:
    """Check a kernel name its pattern matched: type word, full match, dates, extension."""
    word = match["type"]
    kernel_type = SPICE_TYPE_WORDS.get(word)
    try:
        if kernel_type is None:
            raise _BadPart(_unknown_spice_word(label, word))
        if match.end() != len(name):
            raise _BadPart(
                f"unexpected text {_show(name[match.end() :])} after the {kernel_type} "
                f"kernel name {_show(name[: match.end()])}"
            )
        groups = match.groupdict()
        start, end = _spice_dates(groups)
        extension = name.rpartition(".")[2]
        allowed = SPICE_EXTENSIONS[kernel_type]
        if extension.lower() not in allowed:
            raise _BadPart(
                f"extension {_show(extension)} does not fit {kernel_type} kernels; "
                f"allowed: {_sorted_list(allowed)}"
            )
    except _BadPart as bad:
        return _Problem([str(bad)], SPICE_HINT)
    version = groups.get("version") or None  # an ephemeris may end in a bare `_v`
    repointing = groups.get("repointing")
    subdir = SPICE_SUBDIRS[kernel_type]
    return IMAPName(
        name=name,
        kind="spice",
        key=f"imap/spice/{subdir}/{name}",
        extension=extension,
        descriptor=groups.get("text"),
        start_date=start,
        end_date=end,
        repointing=None if repointing is None else int(repointing),
        version=version,
        minor_version=None if version is None else int(version),
        spice_type=kernel_type,
        spice_subdir=subdir,
    )


def _spice_dates(groups: dict[str, str | None]) -> tuple[str | None, str | None]:
    """The start and end dates a kernel name carries, as YYYYMMDD; _BadPart if one is wrong."""
    found: dict[str, str | None] = {"start": None, "end": None}
    for which in ("start", "end"):
        if (doy := groups.get(f"{which}_doy")) is not None:
            found[which] = _doy_to_date(doy)
            if found[which] is None:
                raise _BadPart(f"{_show(doy)} is not a real year and day of year (YYYY_DDD)")
        elif (ymd := groups.get(f"{which}_ymd")) is not None:
            if not _is_date(ymd):
                raise _BadPart(f"{_show(ymd)} is not a date (YYYYMMDD)")
            found[which] = ymd
        elif (yymmdd := groups.get(f"{which}_yymmdd")) is not None:
            found[which] = _yymmdd_to_date(yymmdd)
            if found[which] is None:
                raise _BadPart(f"{_show(yymmdd)} is not a date (YYMMDD)")
    # Earth attitude kernels also carry a prediction start; it must be a date too.
    prediction = groups.get("pred_yymmdd")
    if prediction is not None and _yymmdd_to_date(prediction) is None:
        raise _BadPart(f"{_show(prediction)} is not a date (YYMMDD)")
    year = groups.get("start_year")
    if year is not None:
        if int(year) < 1:
            raise _BadPart(f"{_show(year)} is not a year")
        found["start"] = f"{year}0101"
    return found["start"], found["end"]


def _unknown_spice_word(label: str, word: str) -> str:
    if label == "spacecraft ephemeris":
        known = ("90days", "launch", "long", "nom", "pred", "recon")
        return f"unknown ephemeris type {_show(word)}; known: {', '.join(known)}"
    return (
        f"matches the {label} SPICE kernel pattern, but {_show(word)} is not a known kernel "
        "type word (these are case-sensitive)"
    )


# ---------------------------------------------------------------------------------------
# Diagnosis: when nothing accepts a name, say which part is wrong.


def _science_shape_reasons(parts: list[str]) -> list[str]:
    """Reasons a 6-part name is not a valid science-style name."""
    _, instrument, level, descriptor, when, tail = parts
    reasons = _common_reasons(instrument, descriptor)
    if level not in LEVEL_SET:
        reasons.append(f"unknown data level {_show(level)}; valid levels: {', '.join(DATA_LEVELS)}")
    start, dash, interval = when.partition("-")
    # When the date itself is wrong, the text after a '-' is most likely not a suffix.
    reasons += _date_reasons(start, when)
    if dash and _is_date(start) and INTERVAL_RE.fullmatch(interval) is None:
        reasons.append(
            f"{_show('-' + interval)} after the date must be -repoint<NNNNN> or -cr<NNNNN> "
            "(5 digits)"
        )
    return reasons + _tail_reasons(
        tail,
        SCIENCE_VERSION_RE,
        "science-style files use vMMM.mmmm (e.g. v001.0002) or legacy vXXX (e.g. v001)",
        "a science, quicklook or dependency file",
        SCIENCE_FAMILY_EXTENSIONS,
    )


def _ancillary_shape_reasons(parts: list[str]) -> list[str]:
    """Reasons a 5- or 6-part name is not a valid ancillary or release name."""
    if len(parts) == 5:
        _, instrument, descriptor, when, tail = parts
        start, dash, interval = when.partition("-")
        end = None
    else:
        _, instrument, descriptor, start, end, tail = parts
        dash = interval = ""
    reasons = _common_reasons(instrument, descriptor)
    reasons += _date_reasons(start, when if end is None else start)
    if end is not None:
        reasons += _date_reasons(end, end)
    if dash and _is_date(start) and REPOINT_RE.fullmatch(interval) is None:
        reasons.append(
            f"{_show('-' + interval)} after the date must be -repoint<NNNNN> "
            "(an end date follows an underscore: _YYYYMMDD)"
        )
    return reasons + _tail_reasons(
        tail,
        LEGACY_VERSION_RE,
        "ancillary and release files use vXXX (e.g. v001)",
        "an ancillary or release file",
        ANCILLARY_FAMILY_EXTENSIONS,
    )


def _tail_reasons(
    tail: str, version_re: re.Pattern[str], rule: str, family: str, allowed: tuple[str, ...]
) -> list[str]:
    """Reasons the `<version>.<ext>` tail does not fit a family of kinds."""
    version, extension = _split_tail(tail)
    reasons = []
    if version_re.fullmatch(version) is None:
        reasons.append(f"version {_show(version)} is not valid; {rule}")
    if extension not in allowed:
        reasons.append(
            f"extension {_show(extension)} does not fit {family}; allowed: {', '.join(allowed)}"
        )
    return reasons


def _common_reasons(instrument: str, descriptor: str) -> list[str]:
    reasons = []
    if instrument not in INSTRUMENT_SET:
        reasons.append(
            f"unknown instrument {_show(instrument)}; valid instruments: {', '.join(INSTRUMENTS)}"
        )
    if descriptor == "":
        reasons.append("the descriptor is empty")
    return reasons


def _date_reasons(text: str, shown: str) -> list[str]:
    if _is_date(text):
        return []
    return [f"{_show(shown)} is not a date; expected a real calendar date as YYYYMMDD"]


def _split_tail(tail: str) -> tuple[str, str]:
    """Split `v001.0002.cdf` into version and extension at the last dot."""
    version, dot, extension = tail.rpartition(".")
    return (version, extension) if dot else (tail, "")


def _diagnose(name: str, spice_problem: _Problem | None) -> InvalidName:
    """The most specific explanation of why no grammar accepts `name`."""
    candidates: list[_Problem] = []
    parts = name.split("_")
    if parts[0].lower() == "imap" and len(parts) in (5, 6):
        prefix = [] if parts[0] == "imap" else [f"the prefix {_show(parts[0])} must be 'imap'"]
        if len(parts) == 6:
            candidates.append(_Problem(prefix + _science_shape_reasons(parts), SCIENCE_HINT))
        candidates.append(_Problem(prefix + _ancillary_shape_reasons(parts), ANCILLARY_HINT))
    if spice_problem is not None:
        candidates.append(spice_problem)
    # Fewest reasons wins; ties go to the earlier grammar, as the client tries them in order.
    candidates = [c for c in candidates if c.reasons]
    best = min(candidates, key=lambda c: len(c.reasons), default=None)
    if best is None or len(best.reasons) > 2:
        return InvalidName(
            f"{_show(name)}: not an IMAP file name (no naming convention matches)", GENERIC_HINT
        )
    return InvalidName(f"{_show(name)}: {'; '.join(best.reasons)}", best.hint)


# ---------------------------------------------------------------------------------------
# Public API


def parse(name: str) -> IMAPName:
    """Classify a bare filename. Raises InvalidName saying which part is wrong."""
    _check_safe(name)
    # The official client's order: the first grammar that accepts the name decides.
    science = SCIENCE_RE.fullmatch(name)
    found = _science_family(name, science, "science")
    if found is not None:
        return found
    ancillary = ANCILLARY_RE.fullmatch(name)
    found = _ancillary_family(name, ancillary, "ancillary")
    if found is not None:
        return found
    spice = _spice(name)
    if isinstance(spice, IMAPName):
        return spice
    found = (
        _science_family(name, science, "quicklook")
        or _science_family(name, science, "dependency")
        or _ancillary_family(name, ancillary, "release")
    )
    if found is not None:
        return found
    raise _diagnose(name, spice)


def parse_key(text: str) -> IMAPName:
    """Classify a bare filename or a full SDC key; a key's folder must match the name's."""
    if not isinstance(text, str) or text == "":
        raise InvalidName("empty file name or SDC key", "Give a name such as " + _example())
    if text.startswith("/"):
        raise InvalidName(
            f"{_show(text)}: an SDC key is relative (imap/...), not an absolute path",
            "Drop the leading '/'; keys look like imap/mag/l1a/2025/10/<name>.",
        )
    if "\\" in text:
        raise InvalidName(
            f"{_show(text)}: contains a backslash; SDC keys use '/' between folders",
            "Keys look like imap/mag/l1a/2025/10/<name>.",
        )
    folder, slash, name = text.rpartition("/")
    if slash:
        for segment in text.split("/"):
            if segment in ("", ".", ".."):
                what = "an empty" if segment == "" else f"a {segment!r}"
                raise InvalidName(
                    f"{_show(text)}: contains {what} path segment; SDC keys name one file "
                    "under imap/",
                    "Keys look like imap/mag/l1a/2025/10/<name>.",
                )
    parsed = parse(name)
    if slash and folder != parsed.folder:
        raise InvalidName(
            f"{_show(text)}: the folder {_show(folder + '/')} does not fit this {parsed.kind} "
            f"file; expected {_show(parsed.folder + '/')}",
            f"The SDC key of {name} is {parsed.key}.",
        )
    return parsed


def version_sort_key(name: IMAPName) -> tuple[int, int]:
    """Order versions as the SDC does: legacy vXXX (no major) before any vMMM.mmmm."""
    major = -1 if name.major_version is None else name.major_version
    minor = -1 if name.minor_version is None else name.minor_version
    return (major, minor)


def _date_text(value: str | date, what: str) -> str:
    # Formatted by hand: strftime's %Y does not zero-pad years before 1000 everywhere.
    text = f"{value.year:04d}{value.month:02d}{value.day:02d}" if isinstance(value, date) else value
    if not isinstance(text, str) or not _is_date(text):
        raise InvalidName(
            f"{what} {_show(str(text))} is not a date; expected a real calendar date as YYYYMMDD"
        )
    return text


def _check_field(value: str, what: str) -> None:
    """A free-text field (descriptor) must be non-empty text with no `_`."""
    if not isinstance(value, str) or value == "":
        raise InvalidName(f"the {what} must be non-empty text")
    if "_" in value:
        raise InvalidName(f"the {what} {_show(value)} contains '_', which separates fields")


def _check_number(value: int | None, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 99999:
        raise InvalidName(f"the {what} {value!r} must be a whole number from 0 to 99999")


def _check_member(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise InvalidName(
            f"unknown {what} {_show(str(value))}; valid: {_sorted_list(tuple(allowed))}"
        )


def build_science_name(
    instrument: str,
    data_level: str,
    descriptor: str,
    start_date: str | date,
    version: str,
    extension: str | None = None,
    repointing: int | None = None,
    cr: int | None = None,
) -> str:
    """Build and validate a science, quicklook or dependency name (kind from the extension).

    `version` is `vMMM.mmmm` or legacy `vXXX`. Without an extension, l0 gets `pkts`
    (as the official client) and other levels `cdf`.
    """
    _check_member(instrument, INSTRUMENTS, "instrument")
    _check_member(data_level, DATA_LEVELS, "data level")
    _check_field(descriptor, "descriptor")
    start = _date_text(start_date, "start date")
    if not isinstance(version, str) or SCIENCE_VERSION_RE.fullmatch(version) is None:
        raise InvalidName(
            f"version {_show(str(version))} is not valid; use vMMM.mmmm (e.g. v001.0002) "
            "or legacy vXXX"
        )
    if extension is None:
        extension = "pkts" if data_level == "l0" else "cdf"
    _check_member(extension, SCIENCE_FAMILY_EXTENSIONS, "extension")
    _check_number(repointing, "repointing")
    _check_number(cr, "Carrington rotation")
    if repointing is not None and cr is not None:
        raise InvalidName("give a repointing or a Carrington rotation, not both")
    when = start
    if repointing is not None:
        when += f"-repoint{repointing:05d}"
    elif cr is not None:
        when += f"-cr{cr:05d}"
    name = f"imap_{instrument}_{data_level}_{descriptor}_{when}_{version}.{extension}"
    return _checked(name, KIND_BY_SCIENCE_EXTENSION[extension])


def build_ancillary_name(
    instrument: str,
    descriptor: str,
    start_date: str | date,
    version: str,
    extension: str,
    end_date: str | date | None = None,
    repointing: int | None = None,
) -> str:
    """Build and validate an ancillary name (or a release manifest, for `txt`).

    `version` is `vXXX`. An end date and a repointing exclude each other.
    """
    _check_member(instrument, INSTRUMENTS, "instrument")
    _check_field(descriptor, "descriptor")
    when = _date_text(start_date, "start date")
    if not isinstance(version, str) or LEGACY_VERSION_RE.fullmatch(version) is None:
        raise InvalidName(
            f"version {_show(str(version))} is not valid; ancillary files use vXXX (e.g. v001)"
        )
    _check_member(extension, ANCILLARY_FAMILY_EXTENSIONS, "extension")
    _check_number(repointing, "repointing")
    if end_date is not None and repointing is not None:
        raise InvalidName("give an end date or a repointing, not both")
    if end_date is not None:
        when += "_" + _date_text(end_date, "end date")
    elif repointing is not None:
        when += f"-repoint{repointing:05d}"
    name = f"imap_{instrument}_{descriptor}_{when}_{version}.{extension}"
    return _checked(name, KIND_BY_ANCILLARY_EXTENSION[extension])


def _checked(name: str, kind: str) -> str:
    """Parse a built name; it must read back as the kind it was built as."""
    parsed = parse(name)
    if parsed.kind != kind:
        raise InvalidName(
            f"{_show(name)} would be classified as {parsed.kind}, not {kind}, as the "
            "official client reads it; choose another descriptor"
        )
    return name
