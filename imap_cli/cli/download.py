"""`imap download` (being built)."""

from __future__ import annotations

import typer


def download(ctx: typer.Context) -> None:
    """Not built yet."""
    from imap_cli.core.errors import UsageError

    raise UsageError("imap download is not available yet")
