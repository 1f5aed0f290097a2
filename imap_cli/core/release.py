"""Releases: check a release manifest, upload it, and ask the SDC to release per its rules.

A manifest is a text file with an IMAP release name
(`imap_<inst>_data-release-<NNN>_<start>_<end>_vXXX.txt`); its dates bound the release
(inclusive, against each file's start date). Each line is one rule
`instrument, data_type, descriptor, true|false`; blank lines, `#` lines and a header line
starting `instrument,` are skipped. `data_type` is `all` (every science level and ancillary),
`ancillary`, or a science level; `descriptor` is `all` or one descriptor. The SDC flags the
latest version of each matching series released; nothing is ever unflagged.

The SDC only reads the manifest once it is in its store, and answers 500 for any line it
cannot parse, so every line is checked here and every problem reported before anything is
sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imap_cli.core.errors import BadResponse, IMAPError, Refused, UsageError, terminal

# How long to wait for an uploaded manifest to become visible before asking for the release.
VISIBLE_TIMEOUT = 60.0
RELEASE_TYPE = "release"


@dataclass(frozen=True)
class Rule:
    """One manifest line that releases something (its flag is true)."""

    line: int
    instrument: str
    data_type: str  # all, ancillary, or a science level
    descriptor: str  # all, or one descriptor


@dataclass(frozen=True)
class Manifest:
    """A checked manifest: its file, name, SDC key, date range and the rules that release."""

    path: Path
    name: str
    key: str
    instrument: str
    start_date: str  # YYYYMMDD, inclusive
    end_date: str
    rules: tuple[Rule, ...]
    skipped: int = 0  # rules whose flag is false


class InvalidManifest(UsageError):
    """The manifest has problems; nothing was sent."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        count = len(problems)
        super().__init__(
            f"{path}: {count} problem{'s' if count != 1 else ''} in the manifest; nothing was sent",
            _manifest_hint(problems),
        )
        self.path = path
        self.problems = problems


def _manifest_hint(problems: list[str]) -> str:
    """The advice that fits the problems found: the file, its name, or its lines."""
    if any(p in ("no such file", "is a folder, not a manifest file") for p in problems):
        return "Check the manifest's path."
    if all(p.startswith("name:") for p in problems):
        return (
            "A manifest is named imap_<instrument>_data-release-<NNN>_<first day>_<last day>"
            "_v<XXX>.txt, e.g. imap_hit_data-release-001_20260101_20260131_v001.txt."
        )
    return (
        "Each line is `instrument, data_type, descriptor, true|false`, e.g. "
        "`hit, l2, all, true`; data_type is all, ancillary or a level."
    )


@dataclass
class ReleaseOutcome:
    """What happened: the manifest, whether it was uploaded now, and the SDC's message."""

    manifest: Manifest
    uploaded: bool
    message: str
    waited: float = 0.0
    notes: list[str] = field(default_factory=list)


def read_manifest(path: str | Path) -> Manifest:
    """Check the manifest's name and every line; raise InvalidManifest listing every problem."""
    from imap_cli.core.naming import parse

    path = Path(path)
    problems: list[str] = []
    parsed = None
    # What is wrong with the path is said first, and alone: a missing file has no name to judge.
    text = _read_text(path, problems)
    if text is not None:
        try:
            parsed = parse(path.name)
        except IMAPError as error:
            problems.append(f"name: {error.message}")
        else:
            if parsed.kind != "release":
                problems.append(
                    f"name: {path.name} is a {parsed.kind} file name, not a release manifest "
                    "(imap_<instrument>_data-release-<NNN>_<start>_<end>_vXXX.txt)"
                )
            elif not parsed.end_date:
                problems.append(
                    f"name: {path.name} has no end date; a manifest's name gives the release's "
                    "first and last day (e.g. ..._20260101_20260131_v001.txt)"
                )
            elif parsed.end_date < parsed.start_date:
                # A manifest in the SDC is never replaced: refuse it before it is uploaded.
                problems.append(
                    f"name: {path.name} ends ({parsed.end_date}) before it starts "
                    f"({parsed.start_date}); name the manifest with its first day, then its last"
                )
    rules: list[Rule] = []
    skipped = 0
    if text is not None:
        for number, raw in enumerate(text.splitlines(), start=1):
            rule, off = _rule(number, raw, problems)
            skipped += off
            if rule is not None:
                rules.append(rule)
    if problems:
        raise InvalidManifest(path, problems)
    assert parsed is not None
    return Manifest(
        path=path,
        name=parsed.name,
        key=parsed.key,
        instrument=parsed.instrument or "",
        start_date=parsed.start_date or "",
        end_date=parsed.end_date or "",
        rules=tuple(rules),
        skipped=skipped,
    )


def _read_text(path: Path, problems: list[str]) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.append("no such file")
        return None
    except IsADirectoryError:
        problems.append("is a folder, not a manifest file")
        return None
    except OSError as error:
        problems.append(f"cannot read it: {error.strerror or error}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.append(f"not UTF-8 text (byte {error.start})")
        return None


def _rule(number: int, raw: str, problems: list[str]) -> tuple[Rule | None, int]:
    """The rule on one line (None when skipped); its problems appended with the line number."""
    from imap_cli.core.filters import check_descriptor
    from imap_cli.core.vocabulary import DATA_LEVELS, INSTRUMENTS

    line = raw.strip()
    if not line or line.startswith("#") or line.lower().startswith("instrument,"):
        return None, 0
    fields = [f.strip() for f in line.split(",")]
    where = f"line {number}"
    if len(fields) != 4:
        problems.append(
            f"{where}: {len(fields)} field{'s' if len(fields) != 1 else ''} in {_show(line)}; "
            "a rule has four: instrument, data_type, descriptor, true|false"
        )
        return None, 0
    instrument, data_type, descriptor, flag = fields
    count = len(problems)
    if instrument.lower() not in INSTRUMENTS:
        problems.append(
            f"{where}: unknown instrument {_show(instrument)}; valid: {', '.join(INSTRUMENTS)}"
        )
    if data_type.lower() not in ("all", "ancillary", *DATA_LEVELS):
        problems.append(
            f"{where}: data_type {_show(data_type)} is not all, ancillary or a data level "
            f"({', '.join(DATA_LEVELS)})"
        )
    if descriptor.lower() != "all":
        try:
            check_descriptor(descriptor)
        except UsageError:
            problems.append(
                f"{where}: descriptor {_show(descriptor)} is not 'all' nor one descriptor "
                "(no '_' or spaces)"
            )
    if flag.lower() not in ("true", "false"):
        problems.append(f"{where}: the last field is {_show(flag)}; it must be true or false")
    if len(problems) > count:
        return None, 0
    if flag.lower() != "true":
        return None, 1
    rule = Rule(number, instrument.lower(), data_type.lower(), descriptor)
    return rule, 0


def _show(text: str) -> str:
    from imap_cli.core.errors import printable

    return repr(printable(text[:80]))


def rule_queries(manifest: Manifest, rule: Rule) -> list[dict[str, Any]]:
    """The `imap query` filters that find what one rule releases (latest of each series)."""
    common: dict[str, Any] = {
        "instrument": rule.instrument,
        "start_date": manifest.start_date,
        "end_date": manifest.end_date,
        "version": "latest",
    }
    if rule.descriptor.lower() != "all":
        common["descriptor"] = rule.descriptor
    queries = []
    if rule.data_type != "ancillary":
        science = dict(common, table="science")
        if rule.data_type != "all":
            science["data_level"] = rule.data_type
        queries.append(science)
    if rule.data_type in ("all", "ancillary"):
        queries.append(dict(common, table="ancillary"))
    return queries


def plan(client: Any, manifest: Manifest) -> list[tuple[Rule, list[dict]]]:
    """Each rule with the files it would release (the latest version of each matching series),
    in the manifest's order; a file two rules match is listed under both."""
    from imap_cli.core.query import run_query

    planned = []
    for rule in manifest.rules:
        rows: dict[str, dict] = {}
        for filters in rule_queries(manifest, rule):
            for row in run_query(client, **filters):
                rows.setdefault(str(row.get("file_path")), row)
        planned.append((rule, list(rows.values())))
    return planned


def preview(client: Any, manifest: Manifest, planned: list | None = None) -> list[dict]:
    """The files the manifest would release: the latest version of each matching series.

    Science rows come first, then ancillary, each sorted by file_path, every file once.
    `planned` is plan()'s answer when the caller has it already.
    """
    found: dict[str, dict] = {}
    for _rule, rows in plan(client, manifest) if planned is None else planned:
        for row in rows:
            found.setdefault(str(row.get("file_path")), row)
    return sorted(found.values(), key=lambda r: ("data_level" not in r, str(r.get("file_path"))))


def require_api_key(client: Any) -> None:
    """The release route exists only under /api-key: a token alone cannot release."""
    if not client.settings.api_key:
        raise Refused(
            "a release needs an API key; the SDC serves /release only under /api-key"
            + (" (an access token is not enough)" if client.settings.access_token else ""),
            f"Set your key with {terminal('set-api-key', 'api_key')} (or IMAP_API_KEY).",
        )


def release(
    client: Any,
    manifest: Manifest,
    *,
    timeout: float = VISIBLE_TIMEOUT,
    on_step: Callable[[str], None] | None = None,
) -> ReleaseOutcome:
    """Upload the manifest (an identical one already there is fine), wait until the SDC can
    see it, then request the release. Raises on any failure."""
    require_api_key(client)
    step = on_step or (lambda _text: None)
    uploaded = _upload(client, manifest, step)
    started = time.monotonic()
    _wait_visible(client, manifest.key, timeout, step)
    waited = time.monotonic() - started
    step("Requesting the release")
    response = client.api(
        "GET",
        client.api_url("release"),
        params=[("release_type", RELEASE_TYPE), ("manifest_file", manifest.name)],
        what="release",
    )
    try:
        data = response.json()
    except ValueError:
        data = response.text.strip()
    if isinstance(data, dict):
        data = data.get("message") or data
    if not isinstance(data, str):
        raise BadResponse(f"release: the SDC answered 200 with {str(data)[:200]!r}")
    return ReleaseOutcome(manifest, uploaded, " ".join(data.split()), waited)


def _upload(client: Any, manifest: Manifest, step: Callable[[str], None]) -> bool:
    """Upload; True if sent now, False if an identical manifest is already in the SDC.

    core.upload compares a manifest the SDC already has with ours (size and MD5): identical
    is a skip, different a Conflict naming both.
    """
    from imap_cli.core.upload import upload_files

    step(f"Uploading {manifest.name}")
    (result,) = upload_files(client, [manifest.path], jobs=1)
    if result.error is not None:
        raise result.error
    if result.status == "skipped":
        step("An identical manifest is already in the SDC")
        return False
    return True


def _wait_visible(client: Any, key: str, timeout: float, step: Callable[[str], None]) -> None:
    """Poll `HEAD /download/<key>` until the SDC finds the manifest (bounded by `timeout`)."""
    from imap_cli.core.errors import Unavailable

    deadline = time.monotonic() + timeout
    delay = 0.1
    url = client.api_url("download", key)
    told = False
    while True:
        response = client.api("HEAD", url, ok=(302, 404), what="manifest check")
        response.close()
        if response.status_code == 302:
            return
        if time.monotonic() + delay > deadline:
            raise Unavailable(
                f"the uploaded manifest {key} did not become visible in the SDC within "
                f"{timeout:.0f} s",
                "Run the same command again in a minute: the manifest is uploaded, and an "
                "identical one is accepted.",
            )
        if not told:
            step("Waiting for the SDC to list the manifest")
            told = True
        client.sleep(delay)
        delay = min(2.0, delay * 2)
