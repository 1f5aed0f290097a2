"""`imap upload` (being built)."""

from __future__ import annotations

import typer


def upload(ctx: typer.Context) -> None:
    """Not built yet."""
    from imap_cli.core.errors import UsageError

    raise UsageError("imap upload is not available yet")
