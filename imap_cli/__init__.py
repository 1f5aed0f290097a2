"""imap-sdc-cli, the `imap` command's library: query, download, upload IMAP SDC files.

    import imap_cli
    rows = imap_cli.query(instrument="mag", data_level="l1a", start_date="20251001")
    path = imap_cli.download(rows[0]["file_path"])

Nothing heavy is imported until it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what type checkers and editors see; at run time the names load lazily
    from imap_cli import errors
    from imap_cli.api import (
        Client,
        build_name,
        config,
        coverage,
        download,
        download_many,
        job_logs,
        jobs,
        metakernel,
        parse_name,
        products,
        query,
        release,
        reprocess,
        reprocess_check,
        spice_query,
        sync,
        upload,
        upload_many,
        wait_jobs,
        webpoda,
    )
    from imap_cli.core.errors import IMAPError
    from imap_cli.core.transfer import TransferError
    from imap_cli.datasets import load, open
    from imap_cli.results import Downloaded, QueryResult, Uploaded, UploadedKey

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
    "products": "imap_cli.api",
    "wait_jobs": "imap_cli.api",
    "reprocess_check": "imap_cli.api",
    "load": "imap_cli.datasets",
    "open": "imap_cli.datasets",
    "webpoda": "imap_cli.api",
}

# Added by the Python API (issue 25): more names, and the public errors module.
_LAZY.update(
    {
        "spice_query": "imap_cli.api",
        "build_name": "imap_cli.api",
        "TransferError": "imap_cli.core.transfer",
        "QueryResult": "imap_cli.results",
        "Downloaded": "imap_cli.results",
        "Uploaded": "imap_cli.results",
        "UploadedKey": "imap_cli.results",
    }
)
_SUBMODULES = ("errors",)

__all__ = ["__version__", *sorted(_LAZY), *_SUBMODULES]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"imap_cli.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'imap_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # dir(), IPython's and jedi's TAB list the lazy names too, without importing them.
    # The public names and the module's dunders; not its helpers (Any, annotations, ...).
    return sorted({*__all__, *(n for n in globals() if n.startswith("__"))})
