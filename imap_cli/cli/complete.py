"""Completion callbacks: static lists and local files only, never the network."""

from __future__ import annotations

from collections.abc import Iterable

TABLES = ("ancillary", "quicklook", "science", "spice")
FORMATS = ("csv", "json", "paths", "table")


def _starting(values: Iterable[str], incomplete: str) -> list[str]:
    return [v for v in values if v.startswith(incomplete)]


def tables(incomplete: str) -> list[str]:
    """Query tables."""
    return _starting(TABLES, incomplete)


def formats(incomplete: str) -> list[str]:
    """Output formats."""
    return _starting(FORMATS, incomplete)


def instruments(incomplete: str) -> list[str]:
    """Instruments and data sources."""
    from imap_cli.core.naming import INSTRUMENTS

    return _starting(INSTRUMENTS, incomplete)


def data_levels(incomplete: str) -> list[str]:
    """Data levels."""
    from imap_cli.core.naming import DATA_LEVELS

    return _starting(DATA_LEVELS, incomplete)


def extensions(incomplete: str) -> list[str]:
    """Every extension any kind of file may have."""
    from imap_cli.core.naming import EXTENSIONS

    return _starting(sorted({e for exts in EXTENSIONS.values() for e in exts}), incomplete)


def spice_types(incomplete: str) -> list[str]:
    """SPICE kernel types."""
    from imap_cli.core.naming import SPICE_TYPES

    return _starting(SPICE_TYPES, incomplete)


def versions(incomplete: str) -> list[str]:
    """`latest`; other versions are typed."""
    return _starting(("latest",), incomplete)


def config_keys(incomplete: str) -> list[str]:
    """Setting names for `imap config get/set/unset`."""
    from imap_cli.core.settings import KEYS

    return _starting(KEYS, incomplete)
