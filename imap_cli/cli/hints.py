"""One table of advice: each kind of failure (core.errors.Failure) and what to do about it.

Every command prints its hints from here (through Output.error and the transfer summary), and
`imap doctor` prints the same ones, so a person meets one piece of advice per problem. Core
keeps no terminal wording: its errors' own hints name Python parameters, which at_terminal
(cli/errors.py) turns into flags.
"""

from __future__ import annotations

from imap_cli.core import errors
from imap_cli.core.errors import SDC_CONTACT, Failure, IMAPError

HINTS: dict[Failure, str] = {
    Failure.CERTIFICATE: (
        "The server's certificate is not trusted by the CA bundle in use. With a private CA or a "
        "TLS-inspecting proxy, save its CA file: `imap config set ca-bundle FILE` (this wins "
        "over REQUESTS_CA_BUNDLE). Otherwise `pip install -U certifi`; on macOS run 'Install "
        "Certificates.command' from your Python folder."
    ),
    Failure.CERTIFICATE_NAME: (
        "The certificate is trusted but issued for another host name: put the name it was "
        "issued for in the url (`imap config get url`); an IP address works only if the "
        "certificate lists it. A CA bundle does not change this."
    ),
    Failure.CERTIFICATE_EXPIRED: (
        "Check this computer's date and time; if they are right, the server's certificate has "
        f"expired: tell its operator (for the SDC, {SDC_CONTACT})."
    ),
    Failure.PLAIN_HTTP: (
        "The server speaks plain http: use http:// in the url (`imap config get url` shows it; "
        "--url or IMAP_DATA_ACCESS_URL for one run). A CA bundle does not change this."
    ),
    Failure.HTTPS_ONLY: (
        "The server speaks https only: use https:// in the url (`imap config get url` shows it; "
        "--url or IMAP_DATA_ACCESS_URL for one run)."
    ),
    Failure.PROXY_REFUSED: (
        "The proxy in HTTPS_PROXY/HTTP_PROXY refused the connection or cannot be reached: check "
        "that variable (or unset it to connect directly), and NO_PROXY for hosts that must "
        "bypass it."
    ),
    Failure.PROXY_AUTH: (
        "The proxy needs a user name and password: put them in the proxy URL, "
        "HTTPS_PROXY=http://USER:PASSWORD@proxy:PORT (ask your IT team for the values)."
    ),
    Failure.DNS: (
        "The host name does not resolve: check the url setting (`imap config get url`) for a "
        "typo, and your network or VPN."
    ),
    Failure.REFUSED: (
        "Nothing is listening at that address: check the url setting (`imap config get url`); "
        "for a local `imap serve`, check that it is running and on that port."
    ),
    Failure.TIMEOUT: (
        "The SDC did not answer in time: retry later, or allow longer with "
        "`imap config set timeout 120`."
    ),
    Failure.DROPPED: "The connection broke off: retry; `imap doctor` checks the way to the SDC.",
    Failure.OUTAGE: (
        "The SDC is failing or temporarily down (this is not your request's fault); retry "
        f"later. If it persists, contact {SDC_CONTACT}."
    ),
    Failure.RATE_LIMITED: "The SDC is rate-limiting requests; wait a minute, or lower --jobs.",
    Failure.CREDENTIALS: (
        "The SDC refused the credentials: check your API key (`imap config set api-key KEY` "
        "or IMAP_API_KEY) or access token (IMAP_ACCESS_TOKEN); `imap config show` says which "
        "one is in use and where it came from."
    ),
    Failure.READ_ONLY: (
        f"Your API key may only read; ask the SDC team ({SDC_CONTACT}) for a key with upload "
        "permission."
    ),
    Failure.NOT_RELEASED: (
        "The file is not publicly released yet. With an SDC API key (`imap config set api-key "
        f"KEY`) unreleased files can be fetched; otherwise ask {SDC_CONTACT} when it will be."
    ),
    Failure.NOT_FOUND: (
        "Check the name with `imap query --filename NAME`, or search with `imap query`."
    ),
    Failure.BAD_URL: (
        "That address answers, but not as the SDC API: check the url setting "
        "(`imap config get url`; the SDC's is https://api.imap-mission.com)."
    ),
    Failure.DATA_DIR: (
        "Point the data dir at a folder you can write: `imap config set data-dir ~/imap-data` "
        "(or IMAP_DATA_DIR, or --data-dir for one run)."
    ),
}


def data_dir_hint(origin: str) -> str:
    """The data-dir hint for a data dir that came from `origin` (a Settings origin: "flag",
    "env:NAME", a config file's path or "default"): the fix goes where the setting was made."""
    point = "Point the data dir at a folder you can write"
    if origin == "flag":
        return f"{point}: this one came from --data-dir."
    if origin.startswith("env:"):
        variable = origin[4:]
        return f"{point}: {variable} set this one; change it, or unset it."
    if origin == "default":
        return (
            f"{point}: this one is the default; choose another with "
            "`imap config set data-dir ~/imap-data` (or IMAP_DATA_DIR, or --data-dir for one run)."
        )
    return (
        f"{point}: the config file {origin} set this one; change it with "
        "`imap config set data-dir ~/imap-data` (or IMAP_DATA_DIR, or --data-dir for one run)."
    )


# The terminal's hint for an error class whose core default hint is in Python's terms.
CLASS_HINTS: dict[type[IMAPError], str] = {
    errors.ConfigError: "Run `imap config show` to see every setting and where it comes from.",
    errors.BadRequest: "Check the values you passed; `imap query --help` lists the valid ones.",
    errors.NotFound: HINTS[Failure.NOT_FOUND],
    errors.ConnectionFailed: (
        "Check the URL setting (`imap config get url`) and your network connection."
    ),
    errors.BadResponse: (
        "The SDC sent an unexpected answer; retry later, and check the URL setting points at the "
        "SDC API (`imap config get url`)."
    ),
    errors.IntegrityError: "The file was not saved. Run the command again to retry.",
}


def hint_for(error: IMAPError | None) -> str:
    """The hint to print for `error`: the table's for its kind, else its class's, else its own."""
    if error is None:
        return ""
    from imap_cli.cli.errors import at_terminal

    kind = getattr(error, "kind", None)
    own = getattr(error, "hint_template", "") or ""
    cls = type(error)
    # A kind given when the error was raised names the case; a hint written for one instance
    # of a class's usual kind (e.g. "uploads need an API key") is more precise than the table.
    if kind in HINTS and (kind != cls.default_kind or own == cls.default_hint):
        return HINTS[kind]
    if own == cls.default_hint:
        # The class that wrote the default hint may have a terminal version of it.
        owner = next(c for c in cls.__mro__ if "default_hint" in vars(c))
        own = CLASS_HINTS.get(owner, own)
    return at_terminal(own)


# --- usage errors (click's own) ------------------------------------------------------------

# A word a user may try where the command line has another: option -> the right spelling, and
# per command, command name -> the right one. Click's own guesses (a prefix, a typo) come after.
NEAR_OPTIONS: dict[str, str] = {
    "--latest": "--version latest",
    "--latest-only": "--version latest",
    "--level": "--data-level",
    "--inst": "--instrument",
    "--out": "--output FILE (metakernel) or -o FORMAT",
    "--output-format": "--format",
    "--start": "--start-date",
    "--end": "--end-date",
    "--key": "--api-key",
    "--yes-i-am-sure": "--yes",
}
NEAR_COMMANDS: dict[str, dict[str, str]] = {
    "imap": {
        "search": "imap query",
        "find": "imap query",
        "list": "imap query",
        "get": "imap download",
        "fetch": "imap download",
        "put": "imap upload",
        "push": "imap upload",
        "status": "imap jobs",
        "logs": "imap jobs logs",
        "check": "imap doctor",
        "settings": "imap config show",
    },
    "imap config": {
        "list": "imap config show",
        "ls": "imap config show",
        "all": "imap config show",
        "delete": "imap config unset",
        "remove": "imap config unset",
        "rm": "imap config unset",
        "edit": "imap config set",
    },
    "imap jobs": {"log": "imap jobs logs", "show": "imap jobs logs"},
}


def usage_error(exc: BaseException, fallback: str = "imap") -> tuple[str, str]:
    """The one `Error:` line and the `Hint:` for one of click's usage errors (no such option
    or command, a bad value, a missing argument), with the right spelling when we know it.
    `fallback` is the command the error names when click does not say (`imap query`)."""
    import re

    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", "") or fallback
    suggestion = ""
    option_name = getattr(exc, "option_name", None)
    if option_name is not None and message.startswith("No such option"):
        message = f"No such option: {option_name}"
        possibilities = sorted(getattr(exc, "possibilities", None) or ())
        suggestion = NEAR_OPTIONS.get(option_name, " or ".join(possibilities))
    else:
        unknown = re.match(r"No such command '([^']*)'", message)
        if unknown:
            word = unknown.group(1)
            suggestion = NEAR_COMMANDS.get(command, {}).get(word.lower(), "")
            if word.isdigit():  # `imap -v 2 query`: -v counts, it takes no number
                return (
                    f"No such command: {command} {word}",
                    f"-v takes no number: repeat it for more detail (-vv). See `{command} -h`.",
                )
            if suggestion:
                message = f"No such command: {command} {unknown.group(1)}"
    hint = f"Did you mean {suggestion}? " if suggestion else ""
    return " ".join(message.split()), f"{hint}See `{command} -h`."
