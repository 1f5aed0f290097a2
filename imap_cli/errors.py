"""Every error imap_cli raises on purpose, in one place: ``from imap_cli.errors import ...``.

All derive from `IMAPError`, which carries a one-line `message`, a `hint` (also attached as an
exception note, so a traceback shows it), a `kind` (a `Failure`), and the `field`, `value` and
`choices` of a bad parameter. Bad values are also `ValueError` (`UsageError` and below); an
unknown keyword is also a `TypeError` (`UnknownKeyword`).

The tree::

    IMAPError
    ├── UsageError (ValueError)
    │   ├── UnknownKeyword (TypeError)
    │   ├── InvalidName
    │   │   └── InvalidNames           bad download inputs, each listed
    │   ├── InvalidUploads             files that cannot be uploaded, each listed
    │   ├── InvalidManifest            a release manifest's problems
    │   ├── ConfigError
    │   ├── DataDirError
    │   ├── ListingError
    │   ├── SyncStateError
    │   └── UnsafeRequest
    ├── SDCError                       the SDC answered, but not with what was asked
    │   ├── BadRequest (400), NotFound (404), Conflict (409)
    │   ├── Refused (401/403)
    │   │   └── StorageRefused
    │   └── Unavailable                unreachable, or failing after retries
    │       ├── ConnectionFailed, TLSError, BadResponse, TooLarge
    ├── IntegrityError                 wrong size or checksum after a transfer
    ├── CoverageGaps                   a metakernel's days not covered
    └── TransferError                  some files of download_many/upload_many failed

Examples
--------
>>> from imap_cli.errors import TransferError  # doctest: +SKIP
>>> try:  # doctest: +SKIP
...     imap_cli.download_many(rows)
... except TransferError as error:
...     print(error.failures)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imap_cli.core.errors import (
    BadRequest,
    BadResponse,
    ConfigError,
    Conflict,
    ConnectionFailed,
    DataDirError,
    Failure,
    IMAPError,
    IntegrityError,
    InvalidName,
    NotFound,
    Refused,
    SDCError,
    TLSError,
    TooLarge,
    Unavailable,
    UnknownKeyword,
    UnsafeRequest,
    UsageError,
)
from imap_cli.core.transfer import TransferError

if TYPE_CHECKING:
    from imap_cli.core.download.pipeline import InvalidNames
    from imap_cli.core.listing import ListingError
    from imap_cli.core.metakernel import CoverageGaps
    from imap_cli.core.release import InvalidManifest
    from imap_cli.core.sync import SyncStateError
    from imap_cli.core.upload import InvalidUploads, StorageRefused

# Defined beside the code that raises them, whose modules import requests: loaded when asked.
_LAZY = {
    "InvalidNames": "imap_cli.core.download.pipeline",
    "InvalidUploads": "imap_cli.core.upload",
    "StorageRefused": "imap_cli.core.upload",
    "InvalidManifest": "imap_cli.core.release",
    "SyncStateError": "imap_cli.core.sync",
    "ListingError": "imap_cli.core.listing",
    "CoverageGaps": "imap_cli.core.metakernel",
}

__all__ = [
    "BadRequest",
    "BadResponse",
    "ConfigError",
    "Conflict",
    "ConnectionFailed",
    "CoverageGaps",
    "DataDirError",
    "Failure",
    "IMAPError",
    "IntegrityError",
    "InvalidManifest",
    "InvalidName",
    "InvalidNames",
    "InvalidUploads",
    "ListingError",
    "NotFound",
    "Refused",
    "SDCError",
    "StorageRefused",
    "SyncStateError",
    "TLSError",
    "TooLarge",
    "TransferError",
    "Unavailable",
    "UnknownKeyword",
    "UnsafeRequest",
    "UsageError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'imap_cli.errors' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # The public names and the module's dunders; not its helpers (Any, annotations, ...).
    return sorted({*__all__, *(n for n in globals() if n.startswith("__"))})
