"""imap-sdc-cli, the `imap` command's library: query, download, upload IMAP SDC files.

    import imap_cli
    rows = imap_cli.query(instrument="mag", data_level="l1a", start_date="20251001")
    path = imap_cli.download(rows[0]["file_path"])

Nothing heavy is imported until it is used.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# name -> module that defines it; resolved on first use (PEP 562) to keep `import imap_cli` cheap.
_LAZY = {
    "config": "imap_cli.api",
    "query": "imap_cli.api",
    "download": "imap_cli.api",
    "download_many": "imap_cli.api",
    "upload": "imap_cli.api",
    "upload_many": "imap_cli.api",
    "sync": "imap_cli.api",
    "Client": "imap_cli.api",
    "IMAPError": "imap_cli.core.errors",
    "parse_name": "imap_cli.api",
    "reprocess": "imap_cli.api",
    "release": "imap_cli.api",
    "jobs": "imap_cli.api",
    "job_logs": "imap_cli.api",
    "metakernel": "imap_cli.api",
    "coverage": "imap_cli.api",
    "webpoda": "imap_cli.api",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'imap_cli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
