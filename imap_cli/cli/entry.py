"""The `imap` command's entry point: a shell's TAB is answered here, everything else by the app.

Kept apart from cli/app.py so that a completion request never imports typer, click or rich
(cli/tab.py answers it from the generated cli/completion_spec.py).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run `imap`: answer a completion request statically, else hand over to the Typer app."""
    from imap_cli.cli import tab

    if tab.wanted():
        import os

        code = tab.answer(os.environ)
        if argv is None:
            sys.exit(code)
        return code
    from imap_cli.cli.app import main as run_app

    return run_app(argv)
