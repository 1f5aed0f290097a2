"""`imap query` (being built)."""

from __future__ import annotations

import typer


def query(ctx: typer.Context) -> None:
    """Not built yet."""
    from imap_cli.core.errors import UsageError

    raise UsageError("imap query is not available yet")
