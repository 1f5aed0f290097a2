"""Uploads: check every file first, ask the SDC for a signed URL, stream the PUT from disk.

The SDC's upload flow: `GET {base}/upload/<basename>` with the credential, whose
200 body is a JSON string (the presigned URL), then `PUT <url>` of the raw bytes with an empty
Content-Type, a Content-Length, and no credential. The file is read in small blocks while it is
sent (the official client reads it whole into memory), and a retried PUT re-opens it.
"""

from __future__ import annotations

import functools
import io
import os
import re
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imap_cli.core import naming
from imap_cli.core.errors import (
    SDC_CONTACT,
    BadRequest,
    BadResponse,
    Conflict,
    Failure,
    IMAPError,
    IntegrityError,
    InvalidName,
    NotFound,
    Refused,
    SDCError,
    Unavailable,
    UsageError,
    terminal,
)
from imap_cli.core.objects import (
    REQUEST_ERRORS,
    RESOLVE_WHAT,
    file_md5,
    network_failure,
    object_url,
    plain_md5,
    probe,
)
from imap_cli.core.transfer import (
    EventSink,
    FileResult,
    GuardedSink,
    Stage,
    TransferCancelled,
    TransferEvent,
    TransferRun,
    failure,
    ignore_events,
)

if TYPE_CHECKING:
    import requests

    from imap_cli.core.http import SDCClient

# Progress is reported in steps of this many bytes, not per 16 KiB read: a GiB is 64 events.
PROGRESS_STEP = 1 << 20
# Statuses the upload-URL request answers that have a message of their own here.
_HANDLED = (200, 400, 401, 403, 404, 409)
# Messages name the step, not the file: results and progress lines show the key beside them.
UPLOAD_WHAT = "upload"


@dataclass(frozen=True)
class UploadItem:
    """A local file that passed every check, with the SDC key it will get."""

    path: Path
    name: naming.IMAPName
    size: int

    @property
    def key(self) -> str:
        """The SDC key (imap/<inst>/<level>/<YYYY>/<MM>/<name>, ...)."""
        return self.name.key


class InvalidUploads(UsageError):
    """Some files cannot be uploaded (bad name, missing, empty...); nothing was sent."""

    def __init__(
        self, problems: Sequence[tuple[str, str]], total: int, hints: Sequence[str] = ()
    ) -> None:
        self.problems = list(problems)  # (path as given, reason)
        count = len(self.problems)
        if total == 1 and count == 1:
            path, reason = self.problems[0]
            message = f"cannot upload {path}: {reason}"
        else:
            message = f"{count} of {total} files cannot be uploaded; nothing was sent"
        super().__init__(message, _problems_hint(self.problems, hints))


def _problems_hint(problems: Sequence[tuple[str, str]], hints: Sequence[str]) -> str:
    reasons = " ".join(reason for _, reason in problems)
    if "vMMM.mmmm" in reasons:
        return (
            "The SDC takes science, quicklook and dependency files only with a vMMM.mmmm "
            "version: rename vXXX to v001.0XXX (the SDC reads vXXX as major 1, minor XXX)."
        )
    distinct = {h for h in hints if h}
    if len(distinct) == 1:
        return distinct.pop()
    return "Fix or leave out these files; every file is checked before anything is sent."


# --- checks: all of them before any request ------------------------------------------------


def legacy_version_reason(name: naming.IMAPName) -> str:
    """Why a legacy `vXXX` science-family name is refused, with the name to use instead."""
    version = name.version or ""
    digits = version[1:]
    suggestion = ""
    if digits.isdigit():
        # The SDC stores a legacy vXXX as major 1, minor XXX.
        renamed = f"v001.{int(digits):04d}"
        head, sep, tail = name.name.rpartition(f"_{version}.")
        if sep:
            suggestion = f" (e.g. {head}_{renamed}.{tail})"
    return (
        f"{name.kind} files need a vMMM.mmmm version, not the legacy {version or 'vXXX'}"
        f"{suggestion}"
    )


def check_file(path: Path) -> UploadItem:
    """One file's checks: what is wrong with the path first (missing, a folder, unreadable),
    then a valid IMAP name that upload takes, then a readable, non-empty regular file.

    Raises InvalidName or UsageError with the reason; reads nothing but the file's metadata.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UsageError("no such file") from None
    except OSError as exc:
        raise UsageError(f"cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"is a folder; did you mean {_folder_glob(path)}?")
    try:
        parsed = naming.parse(path.name)
    except InvalidName as error:
        # The path is shown beside the reason already; the name need not be repeated.
        reason = error.message.removeprefix(f"{path.name!r}: ")
        raise InvalidName(reason, _upload_hint(error.hint)) from None
    if parsed.is_legacy_version:
        raise UsageError(legacy_version_reason(parsed))
    if not stat.S_ISREG(info.st_mode):
        raise UsageError("not a regular file")
    if info.st_size == 0:
        raise UsageError("the file is empty")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot read it ({exc.strerror or exc})") from None
    return UploadItem(path=path, name=parsed, size=info.st_size)


def _upload_hint(hint: str) -> str:
    """A naming hint as upload needs it: science-family versions only as vMMM.mmmm."""
    from imap_cli.core import vocabulary

    return hint.replace(vocabulary.SCIENCE_CONVENTION, vocabulary.UPLOAD_SCIENCE_CONVENTION)


def _folder_glob(folder: Path) -> str:
    """`folder/*.cdf` with the extension most IMAP files in it have (`*.cdf` when none): a
    suggestion of files upload takes, not of the folder's other files."""
    counts: dict[str, int] = {}
    try:
        for entry in os.scandir(folder):
            if entry.is_file() and _is_imap_name(entry.name):
                ext = entry.name.rsplit(".", 1)[1]
                counts[ext] = counts.get(ext, 0) + 1
    except OSError:
        pass
    pattern = f"*.{max(counts, key=lambda e: (counts[e], e))}" if counts else "*.cdf"
    return str(folder / pattern) if str(folder) != "." else pattern


def _is_imap_name(name: str) -> bool:
    try:
        naming.parse(name)
    except InvalidName:
        return False
    return True


def check_files(paths: Sequence[Path]) -> list[UploadItem]:
    """Check every path; raise InvalidUploads listing each problem, or return the items.

    The same file listed twice is uploaded once; two different files with the same name
    would get the same SDC key, so that is a problem.
    """
    items: list[UploadItem] = []
    problems: list[tuple[str, str]] = []
    hints: list[str] = []
    seen: dict[str, Path] = {}
    seen_real: set[str] = set()
    for path in paths:
        try:
            item = check_file(path)
        except IMAPError as error:
            problems.append((str(path), error.message))
            hints.append(error.hint)
            continue
        real = os.path.realpath(path)
        if real in seen_real:
            continue
        other = seen.get(item.name.name)
        if other is not None:
            problems.append((str(path), f"same file name as {other}; both would be {item.key}"))
            continue
        seen[item.name.name] = path
        seen_real.add(real)
        items.append(item)
    if problems:
        raise InvalidUploads(problems, total=len(paths), hints=hints)
    return items


class ProgressFile(io.FileIO):
    """The file being sent: a real file (fileno, tell: requests sets Content-Length from
    them and streams it) whose reads report progress and stop early when cancelled."""

    def __init__(
        self, path: Path, report: Callable[[int], None], cancel: threading.Event | None = None
    ) -> None:
        super().__init__(path, "rb")
        self._report = report
        self._cancel = cancel
        self._pending = 0
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        """Read like FileIO; report every PROGRESS_STEP bytes, and the rest at the end."""
        if self._cancel is not None and self._cancel.is_set():
            raise UploadCancelled("upload cancelled")
        block = super().read(size)
        if block is None:  # pragma: no cover - only for non-blocking files
            return b""
        self._pending += len(block)
        if self._pending >= PROGRESS_STEP or not block:
            self.flush_progress()
        return block

    def flush_progress(self) -> None:
        """Report bytes read but not yet reported."""
        if self._pending:
            self.sent += self._pending
            self._report(self._pending)
            self._pending = 0


class StorageRefused(Refused):
    """The storage host refused a signed URL (expired, clock skew): that file only."""


class UploadCancelled(OSError):
    """Raised inside a read to abort a PUT in flight (Ctrl-C)."""


def request_upload_url(sdc: SDCClient, item: UploadItem) -> str:
    """Ask the SDC for a presigned PUT URL for this file (raises the matching IMAPError)."""
    name = item.name.name
    response = sdc.api("GET", sdc.api_url("upload", name), what=UPLOAD_WHAT, ok=_HANDLED)
    status = response.status_code
    if status != 200:
        raise _refusal(sdc, item, response)
    try:
        url = response.json()
    except ValueError:
        url = None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        kind = response.headers.get("Content-Type", "unknown type")
        raise BadResponse(
            f"{UPLOAD_WHAT}: the SDC's answer is not an upload URL "
            f"({kind}, {len(response.content)} bytes)"
        )
    return url


def _refusal(sdc: SDCClient, item: UploadItem, response: requests.Response) -> SDCError:
    from imap_cli.core.http import server_message

    name = item.name.name
    status = response.status_code
    text = server_message(response)
    if status == 409:
        key = _existing_key(text) or item.key
        # Failures are listed as "KEY: reason": name the key only when it is another one.
        where = "" if key == item.key else f" as {key}"
        return _conflict(f"already in the SDC{where}")
    if status == 400:
        return BadRequest(
            f"the SDC rejected the upload: {text or '400 Bad Request'}",
            "The SDC checks names with its own rules; compare the name with the IMAP naming "
            "conventions, or ask the SDC team (" + SDC_CONTACT + ").",
            status=status,
        )
    detail = f"{status} {response.reason or ''}".rstrip() + (f": {text}" if text else "")
    if status == 404:
        return _no_upload_route(sdc, name, detail)
    read_only = "read" in text.lower() and "only" in text.lower()
    return Refused(
        f"the SDC refused the upload ({detail})",
        _refused_hint(sdc, text),
        status=status,
        kind=Failure.READ_ONLY if read_only and sdc.settings.api_key else None,
    )


def _no_upload_route(sdc: SDCClient, name: str, detail: str) -> SDCError:
    # API Gateway answers 404 for a route it does not have: the SDC routes uploads only under
    # /api-key, so without a key (none, or only a token) this is a refusal in all but name.
    if not sdc.settings.api_key:
        return Refused(
            f"the SDC takes no uploads without an API key ({detail})",
            _refused_hint(sdc, ""),
            status=404,
        )
    return SDCError(
        f"the SDC has no upload route at {sdc.base_url} ({detail})",
        f"Check that the url setting is the SDC API's address "
        f"({terminal('config-get-url', _URL_IN_PYTHON)}).",
        status=404,
    )


_URL_IN_PYTHON = 'imap_cli.config["DATA_ACCESS_URL"]'


def _conflict(what: str) -> SDCError:
    return Conflict(
        f"{what}; a new version needs a new filename",
        "Files in the SDC are never replaced; see what is there with "
        f"{terminal('query-filename', 'query(filename=NAME)')}.",
        status=409,
    )


def _existing_key(text: str) -> str | None:
    # Newer servers: "The file '<key>' already exists. ..."; 2024: "<key> already exists."
    found = re.search(r"'([^'\s]+)' already exists", text) or re.match(
        r"(\S+) already exists", text
    )
    return found.group(1) if found else None


def _refused_hint(sdc: SDCClient, text: str) -> str:
    settings = sdc.settings
    if settings.api_key:
        if "read" in text.lower() and "only" in text.lower():
            return (
                "Your API key may only read; ask the SDC team (" + SDC_CONTACT + ") for a key "
                "with upload permission."
            )
        return (
            f"Check your API key ({terminal('config-get-api-key', 'api_key')}); uploads need a key "
            "with write access."
        )
    if settings.access_token:
        return (
            "The SDC accepts uploads with an API key: set one with "
            f"{terminal('set-api-key', 'api_key')} or IMAP_API_KEY (an access token alone is not "
            "enough on the production SDC)."
        )
    return (
        "Uploads to the SDC need an API key with write access: "
        f"{terminal('set-api-key', 'api_key')} or IMAP_API_KEY."
    )


def put_file(
    sdc: SDCClient,
    url: str,
    item: UploadItem,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> None:
    """PUT the file to the presigned URL, streamed from disk, without credentials.

    Every attempt (a retry, or S3's 307) re-opens the file; the bytes already reported are
    then taken back with a RETRY event so the progress bar restarts at zero. Raises
    TransferCancelled once `cancel` is set.
    """
    opened: list[ProgressFile] = []

    def report(count: int) -> None:
        on_event(TransferEvent(Stage.PROGRESS, item.key, total=item.size, advance=count))

    def open_file() -> ProgressFile:
        if cancel is not None and cancel.is_set():
            raise TransferCancelled
        if opened:
            previous = opened[-1]
            previous.flush_progress()
            if previous.sent:
                reason = "sending the file again"
                on_event(
                    TransferEvent(Stage.RETRY, item.key, item.size, -previous.sent, reason=reason)
                )
        body = ProgressFile(item.path, report, cancel)
        size = os.fstat(body.fileno()).st_size
        if size != item.size:
            body.close()
            raise IntegrityError(
                "the file changed while it was being uploaded "
                f"({item.size} bytes when checked, {size} now)",
                "Upload it once it is complete.",
            )
        opened.append(body)
        return body

    try:
        response = sdc.storage(
            "PUT",
            url,
            headers={"Content-Type": "", "Content-Length": str(item.size)},
            data=open_file,
            stream=False,
            what=UPLOAD_WHAT,
        )
    except REQUEST_ERRORS as exc:
        if cancel is not None and cancel.is_set():
            raise TransferCancelled from None  # the read we stopped, seen as a broken send
        raise network_failure(exc, url, UPLOAD_WHAT) from None
    if opened:
        opened[-1].flush_progress()
    status = response.status_code
    if status in (200, 201, 204):
        return
    if status in (401, 403):
        from imap_cli.core.http import server_message

        raise StorageRefused(
            f"{UPLOAD_WHAT}: the storage host refused the signed URL ({status}: "
            f"{server_message(response)})",
            "The upload URL expired or this computer's clock is wrong; run the command again.",
            status=status,
        )
    raise sdc.http_error(response, f"{UPLOAD_WHAT} (storage host)")


def _send_one(
    sdc: SDCClient, item: UploadItem, emit: EventSink, cancel: threading.Event | None
) -> tuple[FileResult, bool]:
    """Ask for the URL, PUT the file: (its result, whether the failure is about every file).

    The final event is left to the caller. A refusal, or an SDC that is down or failing
    (after the client's retries), when asking for the URL is the same for every file; a
    failure from the storage host is about this file.
    """
    emit(TransferEvent(Stage.STARTED, item.key, total=item.size))
    try:
        try:
            url = request_upload_url(sdc, item)
        except (Refused, Unavailable) as error:
            return _failed(item, error), not isinstance(error, BadResponse)
        except Conflict as error:
            return _already_there(sdc, item, error), False
        put_file(sdc, url, item, emit, cancel)
    except IMAPError as error:
        return _failed(item, error), False
    return FileResult(item.key, "uploaded", path=item.path, size=item.size), False


@dataclass(frozen=True)
class Comparison:
    """The SDC's copy of a file against the local one."""

    same: bool | None  # None: the SDC has no such file, or it could not be compared
    detail: str  # for people: what was compared, or why it could not be


def compare_with_sdc(sdc: SDCClient, item: UploadItem) -> Comparison:
    """Compare the local file with the SDC's object of the same key, without fetching it: its
    size and ETag from a one-byte probe; the MD5 when the ETag is one (S3's multipart ETags are
    not)."""
    try:
        url = object_url(sdc, item.key)
    except NotFound:
        return Comparison(None, "not in the SDC")
    try:
        found = probe(sdc, url, what=RESOLVE_WHAT)
    except REQUEST_ERRORS as exc:
        return Comparison(None, f"the SDC's copy could not be read ({type(exc).__name__})")
    except SDCError as error:
        if error.status is None:  # not an answer: the storage host unreachable or failing
            raise
        return Comparison(None, f"the SDC's copy could not be read ({error.status})")
    size = found.size
    if size is None:
        return Comparison(None, "the SDC did not say its copy's size")
    if size != item.size:
        return Comparison(False, f"the SDC's copy has {size:,} bytes, this one {item.size:,}")
    expected = plain_md5(found.etag)
    if expected is None:
        # Same size proves nothing (a multipart upload's ETag is not an MD5 of the bytes).
        return Comparison(None, "same size, but the SDC's ETag is not an MD5 to compare with")
    local = file_md5(item.path)
    if local != expected:
        return Comparison(False, f"same size, but MD5 {expected} in the SDC and {local} here")
    return Comparison(True, "same size and MD5")


def _already_there(sdc: SDCClient, item: UploadItem, conflict: IMAPError) -> FileResult:
    """A 409: identical is done ("already in the SDC"); different stays the conflict."""
    try:
        found = compare_with_sdc(sdc, item)
    except IMAPError as error:
        found = Comparison(None, f"could not compare: {error.message}")
    if found.same:
        return FileResult(
            item.key,
            "skipped",
            path=item.path,
            size=item.size,
            reason=f"already in the SDC ({found.detail})",
        )
    if found.same is False:
        conflict = _conflict(
            f"already in the SDC with different content than {item.path} ({found.detail})"
        )
    else:
        conflict.template += f" ({found.detail})"
    return _failed(item, conflict)


def _failed(item: UploadItem, error: IMAPError) -> FileResult:
    return FileResult(
        item.key, "failed", path=item.path, size=item.size, error=error, reason=error.message
    )


def _final_event(item: UploadItem, result: FileResult) -> TransferEvent:
    if result.status == "skipped":
        return TransferEvent(Stage.SKIPPED, item.key, total=item.size, reason=result.reason)
    if result.error is None:
        return TransferEvent(Stage.DONE, item.key, total=item.size)
    return TransferEvent(Stage.FAILED, item.key, total=item.size, error=result.error)


def upload_files(
    sdc: SDCClient,
    paths: list[Path],
    jobs: int = 8,
    on_event: EventSink = ignore_events,
    *,
    dry_run: bool = False,
) -> list[FileResult]:
    """Check every file (raising InvalidUploads, nothing sent), then upload them in parallel.

    One FileResult per distinct file, in the order given. A file the SDC has already (409) is
    compared with its copy: identical is "skipped", different is a Conflict. A 400 or storage
    failure fails that file only; a refusal (401/403) or an SDC that is unreachable or failing
    stops the files not yet started. `dry_run` uploads nothing: it asks the SDC which files
    it has, and returns "would-upload", "skipped" (there, identical) or failed (a conflict).
    An `on_event` that raises changes no result; it is not called again in this run. On Ctrl-C
    (or a KeyboardInterrupt from `on_event`) raises KeyboardInterrupt at once: the worker threads
    are daemons, told to stop, and never waited for (an unfinished PUT leaves nothing in the SDC).
    """
    items = check_files([Path(p) for p in paths])
    if dry_run:
        return [_plan_one(sdc, item) for item in items]
    emit = GuardedSink(on_event)
    for item in items:
        emit(TransferEvent(Stage.PLANNED, item.key, total=item.size))
    results: list[FileResult | None] = [None] * len(items)
    run = TransferRun(results, len(items), emit)
    fatal: list[IMAPError] = []

    def task(index: int, item: UploadItem) -> None:
        try:
            if run.cancel.is_set():
                raise TransferCancelled
            if fatal:
                first = fatal[0]
                result = _failed(
                    item, type(first)(f"not attempted ({first.template})", first.hint_template)
                )
            else:
                result, run_wide = _send_one(sdc, item, emit, run.cancel)
                if run_wide and result.error is not None:
                    fatal.append(result.error)
        except Exception as exc:  # a bug must cost one file, not hang the run
            result = _failed(item, failure(exc))
        run.finish(index, result, _final_event(item, result))

    pool = run.pool(min(max(1, jobs), len(items)), "imap-upload")
    for index, item in enumerate(items):
        pool.submit(functools.partial(task, index, item))
    try:
        run.wait(grace=0)  # nothing to clean up locally: Ctrl-C returns at once
    finally:
        pool.stop()
    return [r for r in results if r is not None]


def _plan_one(sdc: SDCClient, item: UploadItem) -> FileResult:
    """Dry run: would this file be uploaded, or is it in the SDC already (same or not)?"""
    try:
        found = compare_with_sdc(sdc, item)
    except Refused:
        # The public route hides unreleased files (403): without a key we cannot tell.
        found = Comparison(None, "not in the SDC")
    if found.same is None and found.detail == "not in the SDC":
        return FileResult(item.key, "would-upload", path=item.path, size=item.size)
    if found.same:
        return FileResult(item.key, "skipped", path=item.path, size=item.size, reason=found.detail)
    different = " with different content" if found.same is False else ""
    return _failed(item, _conflict(f"already in the SDC{different} ({found.detail})"))
