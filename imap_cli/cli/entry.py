"""The `imap` command's entry point: a shell's TAB and `--version` are answered here, the rest by
the Typer app.

Kept apart from cli/app.py so that a completion request never imports typer, click or rich
(cli/tab.py answers it from the generated cli/completion_spec.py).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run `imap`: answer a completion request statically, else hand over to the Typer app."""
    from imap_cli.cli import tab

    code = None
    if tab.wanted():
        import os

        code = tab.answer(os.environ)
    elif (sys.argv[1:] if argv is None else argv) == ["--version"]:
        # what the app's --version prints, without building the app (scripts call it often)
        from imap_cli import __version__

        sys.stdout.write(f"imap-sdc-cli {__version__}\n")
        code = 0
    if code is None:
        from imap_cli.cli.app import main as run_app

        return run_app(argv)
    if argv is None:
        sys.exit(code)
    return code
