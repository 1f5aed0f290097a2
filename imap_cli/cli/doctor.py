"""`imap doctor`: check the setup and the way to the SDC, one line per check, with the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from imap_cli.cli import completers
from imap_cli.cli.options import state

if TYPE_CHECKING:
    from imap_cli.cli.output import Output
    from imap_cli.core.doctor import Check, Report

WIDTH_NAME = 12
WIDTH_STATUS = 8
COLOURS = {"ok": "32", "warning": "33", "problem": "1;31"}


def doctor(
    ctx: typer.Context,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-o",
            help="text, or json for a bug report (secrets masked).",
            autocompletion=completers.vocabulary("report_formats"),
        ),
    ] = "text",
    ca_bundle: Annotated[
        str | None,
        typer.Option(
            "--ca-bundle",
            metavar="FILE",
            help="Try this CA bundle (PEM file) as the ca-bundle setting would, before saving it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check the setup and the way to the SDC: one line per check, with the fix.

    Checks the config file, the data dir, proxies, DNS, the connection, TLS (and the CA
    bundle in use), an answer from the SDC, the credentials, and versions. Exit 0 when
    nothing is wrong (warnings allowed), 3 otherwise.
    """
    from imap_cli.cli.errors import ExitCode
    from imap_cli.core.doctor import diagnose
    from imap_cli.core.errors import UsageError

    if format not in completers.REPORT_FORMATS:
        raise UsageError(
            f"doctor --format must be text or json, not {format!r}",
            "Example: imap doctor --format json",
        )
    run = state(ctx)
    output = run.output
    flags = {**run.flags, "ca-bundle": ca_bundle}
    if format == "json":
        report = diagnose(flags)
        output.json(as_json(report))
    else:
        report = diagnose(flags, on_check=lambda check: show(output, check))
        problems = sum(c.status.value == "problem" for c in report.checks)
        if problems:
            noun = "problem" if problems == 1 else "problems"
            output.note(f"{problems} {noun} found; fix and run `imap doctor` again.")
        else:
            output.success("All is well.")
    if not report.ok:
        raise typer.Exit(ExitCode.UNAVAILABLE)


def fix_for(check: Check) -> str:
    """The advice for a check that did not pass: the hint table's, or the check's own."""
    from imap_cli.cli.hints import HINTS, data_dir_hint, hint_for
    from imap_cli.core.errors import Failure

    if check.status.value == "ok":
        return ""
    if check.kind is Failure.DATA_DIR:
        return data_dir_hint(check.data.get("origin", "default"))
    if check.kind is not None and check.kind in HINTS:
        return HINTS[check.kind]
    if check.error is not None:
        return hint_for(check.error)  # the terminal's words for the error's own hint
    return check.fix


def show(output: Output, check: Check) -> None:
    """One check as a line on stdout (wrapped to a terminal's width), then its fix."""
    import shutil
    import textwrap

    from imap_cli.core.errors import printable

    status = check.status.value
    streams = output.streams
    indent = " " * (WIDTH_STATUS + 1 + WIDTH_NAME + 1)
    lines = [f"{status:<{WIDTH_STATUS}} {check.name:<{WIDTH_NAME}} {printable(check.detail)}"]
    fix = fix_for(check)
    if fix:
        lines.append(f"{indent}fix: {fix}")
    if streams.stdout_tty:
        width = max(40, shutil.get_terminal_size().columns)
        wrapped = []
        for line in lines:
            wrapped += textwrap.wrap(
                line, width, subsequent_indent=indent, break_on_hyphens=False
            ) or [""]
        lines = wrapped
        if not streams.env.get("NO_COLOR"):
            lines[0] = f"\x1b[{COLOURS[status]}m{status}\x1b[0m" + lines[0][len(status) :]
    output.write("".join(line + "\n" for line in lines))
    streams.stdout.flush()


def as_json(report: Report) -> dict:
    """The report as JSON-ready data: every check, the settings (masked), the versions."""
    return {
        "ok": report.ok,
        "checks": [
            {
                "check": c.name,
                "status": c.status.value,
                "detail": c.detail,
                "kind": c.kind.value if c.kind else None,
                "fix": fix_for(c) or None,
                **({"data": c.data} if c.data else {}),
            }
            for c in report.checks
        ],
        "settings": report.settings,
        "versions": report.versions,
    }
