"""The IMAPError tree: every failure carries a one-line message and structured facts.

Core speaks data, the CLI speaks flags. An error names the parameters it is about as the Python
parameter is named (`data_level`), through markers (`word`, `plural`, `option`, `terminal`) that
`message` and `hint` render in Python's terms; the CLI renders the same markers as flag names
(imap_cli/cli/errors.py), where hints and exit codes are chosen too. The facts: `kind` (a
Failure), `field` (the parameter), `value`, `choices` (the valid values) and `cause`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from typing import Any

# Control characters (terminal escape sequences start with one), zero-width and bidi marks:
# text from a server or a file name must not be able to drive or disguise the terminal.
UNSAFE_TEXT = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with every unsafe character replaced by `?`."""
    return UNSAFE_TEXT.sub("?", text)


# --- markers: a parameter named in a message, rendered by whoever shows the message --------
# A marker is RS, a style letter, ":", the field, optionally "=" and a value, then US. Both are
# control characters, which printable() replaces, so no text from outside can forge one.
_MARKER = re.compile("\x1e([wpot]):([^\x1e\x1f=]*)(?:=([^\x1e\x1f]*))?\x1f")


def _mark(style: str, field: str, value: str | None = None) -> str:
    return f"\x1e{style}:{field}" + ("" if value is None else f"={value}") + "\x1f"


def word(field: str) -> str:
    """`field` named in a sentence: `data_level` in Python, "data level" at the terminal."""
    return _mark("w", field)


def plural(field: str) -> str:
    """`field`'s values in a sentence: "values" in Python, "data levels" at the terminal."""
    return _mark("p", field)


def option(field: str, example: str | None = None) -> str:
    """`field` as something to set, with an example value: `data_level='l1a'` in Python; the
    CLI writes its flag."""
    return _mark("o", field, example)


def terminal(key: str, python: str = "") -> str:
    """A phrase only the terminal has (a command line, a pointer to the help): the CLI's table
    says it by `key`; Python reads `python` (often nothing)."""
    return _mark("t", key, python)


Render = Callable[[str, str, "str | None"], str]


def render(text: str, say: Render) -> str:
    """`text` with each marker replaced by `say(style, field, value)`."""
    if "\x1e" not in text:
        return text
    return _MARKER.sub(lambda m: say(m.group(1), m.group(2), m.group(3)), text)


def _in_python(style: str, field: str, value: str | None) -> str:
    if style == "t":
        return value or ""
    if style == "p":
        return "values"
    if style == "o" and value is not None:
        return f"{field}={value!r}"
    return field


def in_python(text: str) -> str:
    """`text` as library users read it: parameters by their Python names."""
    return render(text, _in_python)


SDC_CONTACT = "imap-sdc@lasp.colorado.edu"


class Failure(str, enum.Enum):
    """What kind of failure an error is, so a front end can give the advice that fits it.

    The cli maps each kind to its hint (imap_cli/cli/hints.py); library users read `kind`
    or the error's own `hint`.
    """

    CERTIFICATE = "certificate"  # the server's certificate could not be verified
    CERTIFICATE_NAME = "certificate-name"  # a trusted certificate, for another host name
    CERTIFICATE_EXPIRED = "certificate-expired"  # expired (or this computer's clock is wrong)
    PLAIN_HTTP = "plain-http"  # https:// to a server that speaks plain http
    HTTPS_ONLY = "https-only"  # http:// to a server that speaks only https
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
    """Base of every error the library raises on purpose.

    `message` and `hint` read in Python's terms; `template` and `hint_template` keep the
    markers, for a front end that names parameters its own way. `field`, `value` and
    `choices` say which parameter was wrong, with what, and what it could have been.
    """

    default_hint: str = ""
    default_kind: Failure | None = None
    _hint_template: str = ""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        kind: Failure | None = None,
        field: str | None = None,
        value: Any = None,
        choices: Iterable[str] | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(in_python(message))
        self.template = message
        self.hint_template = self.default_hint if hint is None else hint
        self.kind = kind or self.default_kind
        self.field = field
        self.value = value
        self.choices = None if choices is None else tuple(sorted(choices))
        self.cause = cause

    @property
    def message(self) -> str:
        """The one-line message, naming parameters as Python does."""
        return in_python(self.template)

    @message.setter
    def message(self, text: str) -> None:
        self.template = text

    @property
    def hint_template(self) -> str:
        """The hint with its markers (a front end renders them its own way)."""
        return self._hint_template

    @hint_template.setter
    def hint_template(self, text: str) -> None:
        # The hint rides along as a PEP 678 note, so a traceback shows it under the message;
        # a changed hint replaces its note rather than adding a second one.
        old = self.__dict__.get("_hint_note")
        self._hint_template = text
        note = f"Hint: {in_python(text)}" if text else None
        notes = self.__dict__.setdefault("__notes__", [])
        if old in notes:
            notes.remove(old)
        if note:
            notes.insert(0, note)
        self.__dict__["_hint_note"] = note

    @property
    def hint(self) -> str:
        """What to do about it, in Python's terms (may be empty)."""
        return in_python(self.hint_template)

    @hint.setter
    def hint(self, text: str) -> None:
        self.hint_template = text

    def __str__(self) -> str:
        return self.message


def add_note(error: BaseException, note: str) -> None:
    """PEP 678's `add_note`, also on Python 3.10 (which keeps the note but does not show it)."""
    adder = getattr(error, "add_note", None)
    if adder is not None:
        adder(note)
    else:
        error.__dict__.setdefault("__notes__", []).append(note)


class UsageError(IMAPError, ValueError):
    """The user asked for something that cannot work (bad option, bad value).

    Also a ValueError, so code written for any Python library's bad-value errors catches it.
    """


class UnknownKeyword(UsageError, TypeError):
    """A keyword argument a function does not take; also a TypeError, as Python raises."""


class InvalidName(UsageError):
    """A filename or SDC key that does not follow the IMAP naming conventions."""

    default_hint = (
        "IMAP names look like imap_<instrument>_<level>_<descriptor>_<YYYYMMDD>_<version>.<ext>"
    )


class ConfigError(UsageError):
    """A bad setting, or a config file that cannot be read or written."""


class DataDirError(UsageError):
    """The data directory is missing, not a directory, or not writable."""

    default_hint = "Point data_dir (or IMAP_DATA_DIR) at a folder you can write."
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

    default_hint = "Check the values you passed."


class NotFound(SDCError):
    """404: no such file in the SDC."""

    default_hint = "Check the name, or search for it with query()."


class Conflict(SDCError):
    """409: the file already exists in the SDC."""

    default_hint = "Files are never overwritten in the SDC; a new version needs a new filename."


class Refused(SDCError):
    """401/403: the SDC refused the credentials (or their absence)."""

    default_kind = Failure.CREDENTIALS
    default_hint = (
        "Check your API key (api_key or IMAP_API_KEY) or access token (IMAP_ACCESS_TOKEN); "
        "uploads need a key with write access."
    )


class Unavailable(SDCError):
    """The SDC could not be reached, or kept failing after retries."""

    default_hint = (
        f"The SDC is temporarily unavailable; retry later. If it persists, contact {SDC_CONTACT}."
    )


class ConnectionFailed(Unavailable):
    """Connection refused, DNS failure, timeout."""

    default_hint = "Check the url setting (or IMAP_DATA_ACCESS_URL) and your network connection."


class TLSError(Unavailable):
    """The server's certificate could not be verified."""

    default_kind = Failure.CERTIFICATE
    default_hint = (
        "Certificate verification failed: upgrade certifi, or point ca_bundle (or "
        "REQUESTS_CA_BUNDLE) at your organisation's CA bundle."
    )


class BadResponse(Unavailable):
    """The SDC answered with something the protocol does not allow (not JSON, wrong shape)."""

    default_hint = (
        "The SDC sent an unexpected answer; retry later, and check the url setting points at "
        "the SDC API."
    )


class TooLarge(Unavailable):
    """The answer is larger than the SDC can send at once, and cannot be split further."""

    default_hint = (
        f"Narrow the query: add {option('instrument')}, {option('data_level')} or "
        f"{option('descriptor')}."
    )


class IntegrityError(IMAPError):
    """A transfer ended with the wrong size or checksum."""

    default_hint = "The file was not saved; try again."


class UnsafeRequest(UsageError):
    """A request that would leak a credential or write outside the data dir."""


def status_error(status: int, message: str) -> SDCError:
    """Map an HTTP status from the SDC to the matching error."""
    cls, kind = _STATUS_ERRORS.get(status, (SDCError, None))
    if status >= 500:
        cls, kind = Unavailable, Failure.OUTAGE
    return cls(message, status=status, kind=kind)


_STATUS_ERRORS: dict[int, tuple[type[SDCError], Failure | None]] = {
    400: (BadRequest, None),
    401: (Refused, None),
    403: (Refused, None),
    404: (NotFound, Failure.NOT_FOUND),
    409: (Conflict, None),
    429: (Unavailable, Failure.RATE_LIMITED),
}
