"""The IMAPError tree: every failure carries a one-line message, a hint and an exit code."""

from __future__ import annotations

import enum
import re

# Control characters (terminal escape sequences start with one), zero-width and bidi marks:
# text from a server or a file name must not be able to drive or disguise the terminal.
UNSAFE_TEXT = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with every unsafe character replaced by `?`."""
    return UNSAFE_TEXT.sub("?", text)


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in the README and `imap --help`."""

    OK = 0
    PARTIAL = 1  # some items failed
    USAGE = 2  # bad usage or input
    UNAVAILABLE = 3  # SDC unreachable or failing (network, TLS, 5xx after retries)
    REFUSED = 4  # 401/403
    INTERRUPTED = 130


class Failure(str, enum.Enum):
    """What kind of failure an error is, so a front end can give the advice that fits it.

    The cli maps each kind to its hint (imap_cli/cli/hints.py); library users read `kind`
    or the error's own `hint`.
    """

    CERTIFICATE = "certificate"  # the server's certificate could not be verified
    CERTIFICATE_NAME = "certificate-name"  # a trusted certificate, for another host name
    CERTIFICATE_EXPIRED = "certificate-expired"  # expired (or this computer's clock is wrong)
    PROXY_REFUSED = "proxy-refused"  # the proxy in HTTPS_PROXY/HTTP_PROXY cannot be reached
    PROXY_AUTH = "proxy-auth"  # the proxy wants credentials (407)
    DNS = "dns"  # the host name does not resolve
    REFUSED = "connection-refused"  # nothing listens at the URL
    TIMEOUT = "timeout"  # no answer in time
    DROPPED = "connection-dropped"  # the connection broke off
    OUTAGE = "outage"  # 5xx after retries
    RATE_LIMITED = "rate-limited"  # 429 after retries
    CREDENTIALS = "credentials"  # 401/403: key or token missing, wrong or expired
    READ_ONLY = "read-only-key"  # an upload with a key that may only read
    NOT_RELEASED = "not-released"  # a public download of a file not released yet
    NOT_FOUND = "not-found"  # no such file in the SDC
    BAD_URL = "bad-url"  # an API route answered 404: the url is not the SDC API
    DATA_DIR = "data-dir"  # the data dir is missing, a file, or not writable


class IMAPError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code: ExitCode = ExitCode.PARTIAL
    default_hint: str = ""
    default_kind: Failure | None = None

    def __init__(
        self, message: str, hint: str | None = None, *, kind: Failure | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint
        self.kind = kind or self.default_kind

    def __str__(self) -> str:
        return self.message


class UsageError(IMAPError):
    """The user asked for something that cannot work (bad option, bad value)."""

    exit_code = ExitCode.USAGE


class InvalidName(UsageError):
    """A filename or SDC key that does not follow the IMAP naming conventions."""

    default_hint = (
        "IMAP names look like imap_<instrument>_<level>_<descriptor>_<YYYYMMDD>_<version>.<ext>"
    )


class ConfigError(UsageError):
    """A bad setting, or a config file that cannot be read or written."""

    default_hint = "Run `imap config show` to see every setting and where it comes from."


class DataDirError(UsageError):
    """The data directory is missing, not a directory, or not writable."""

    default_hint = "Set a writable folder once with `imap config set data-dir ~/imap-data`."
    default_kind = Failure.DATA_DIR


class SDCError(IMAPError):
    """The SDC answered, but not with what we asked for."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: int | None = None,
        kind: Failure | None = None,
    ) -> None:
        super().__init__(message, hint, kind=kind)
        self.status = status


class BadRequest(SDCError):
    """400: the SDC rejected the request; its message is shown verbatim."""

    exit_code = ExitCode.USAGE
    default_hint = "Check the values you passed; `imap query --help` lists the valid ones."


class NotFound(SDCError):
    """404: no such file in the SDC."""

    default_hint = "Check the name with `imap query --filename NAME`, or search with `imap query`."


class Conflict(SDCError):
    """409: the file already exists in the SDC."""

    default_hint = "Files are never overwritten in the SDC; a new version needs a new filename."


class Refused(SDCError):
    """401/403: the SDC refused the credentials (or their absence)."""

    exit_code = ExitCode.REFUSED
    default_kind = Failure.CREDENTIALS
    default_hint = (
        "Check your API key (`imap config set api-key KEY` or IMAP_API_KEY) or access token "
        "(IMAP_ACCESS_TOKEN); uploads need a key with write access."
    )


class Unavailable(SDCError):
    """The SDC could not be reached, or kept failing after retries."""

    exit_code = ExitCode.UNAVAILABLE
    default_hint = (
        "The SDC is temporarily unavailable; retry later. If it persists, contact "
        "imap-sdc@lasp.colorado.edu."
    )


class ConnectionFailed(Unavailable):
    """Connection refused, DNS failure, timeout."""

    default_hint = "Check the URL setting (`imap config get url`) and your network connection."


class TLSError(Unavailable):
    """The server's certificate could not be verified."""

    default_kind = Failure.CERTIFICATE
    default_hint = (
        "Certificate verification failed. Upgrade certifi (`pip install -U certifi`); on macOS run "
        "'Install Certificates.command' from your Python folder; behind a proxy, point "
        "REQUESTS_CA_BUNDLE or `imap config set ca-bundle FILE` at your organisation's CA bundle."
    )


class BadResponse(Unavailable):
    """The SDC answered with something the protocol does not allow (not JSON, wrong shape)."""

    default_hint = (
        "The SDC sent an unexpected answer; retry later, and check the URL setting points at the "
        "SDC API (`imap config get url`)."
    )


class TooLarge(Unavailable):
    """The answer is larger than the SDC can send at once, and cannot be split further."""

    default_hint = "Narrow the query: add --instrument, --data-level or --descriptor."


class IntegrityError(IMAPError):
    """A transfer ended with the wrong size or checksum."""

    default_hint = "The file was not saved. Run the command again to retry."


class UnsafeRequest(UsageError):
    """A request that would leak a credential or write outside the data dir."""


def status_error(status: int, message: str) -> SDCError:
    """Map an HTTP status from the SDC to the matching error."""
    if status == 400:
        return BadRequest(message, status=status)
    if status in (401, 403):
        return Refused(message, status=status)
    if status == 404:
        return NotFound(message, status=status, kind=Failure.NOT_FOUND)
    if status == 409:
        return Conflict(message, status=status)
    if status == 429:
        return Unavailable(message, status=status, kind=Failure.RATE_LIMITED)
    if status >= 500:
        return Unavailable(message, status=status, kind=Failure.OUTAGE)
    return SDCError(message, status=status)
