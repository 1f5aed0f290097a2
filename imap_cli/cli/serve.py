"""`imap serve` (being built)."""

from __future__ import annotations

import typer


def serve(ctx: typer.Context) -> None:
    """Not built yet."""
    from imap_cli.core.errors import UsageError

    raise UsageError("imap serve is not available yet")
