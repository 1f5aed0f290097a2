"""Completion callbacks: fixed vocabularies, recent query results and local files, never the
network.

A TAB imports this module (cli/tab.py loads the callbacks the completion spec names), so it
imports only the stdlib at top level, and never typer, click or rich. The vocabularies are the
library's own (core.vocabulary, core.query, core.settings), imported when a callback runs: a TAB
never runs those, as the spec generator (cli/complete.py) writes their values into
cli/completion_spec.py. Mark every callback with @completer so the generator can name it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

FORMATS = ("csv", "json", "paths", "table")
REPORT_FORMATS = ("json", "text")
METAKERNEL_FORMATS = ("json", "tm")
JOBS_FORMATS = ("csv", "json", "table")
SYNC_FORMATS = ("json", "text")
CONFIG_FORMATS = ("json", "table")
COVERAGE_FORMATS = ("csv", "json", "table")
PRODUCTS_FORMATS = ("csv", "json", "table")
INSIDE_FORMATS = ("json", "table")  # imap info, imap parents

# While the spec generator asks Typer for a parameter's values, which callback ran and with
# which arguments (Typer passes them by the callback's parameter names).
_calls: list[tuple[Any, dict[str, Any]]] | None = None


def completer(*, fixed: bool) -> Callable[[Callable[..., list[str]]], Callable[..., list[str]]]:
    """Mark a completion callback; `fixed`: its values never change between TABs, so the
    generator writes them into the spec and a TAB does not call it."""

    def mark(function: Callable[..., list[str]]) -> Callable[..., list[str]]:
        @functools.wraps(function)
        def callback(*args: Any, **kwargs: Any) -> list[str]:
            if _calls is not None:
                _calls.append((callback, kwargs))
            return function(*args, **kwargs)

        callback.fixed = fixed  # type: ignore[attr-defined]
        return callback

    return mark


def start_recording() -> None:
    """Record the callbacks that run from now on (for the spec generator)."""
    global _calls
    _calls = []


def recorded() -> list[tuple[Any, dict[str, Any]]]:
    """The callbacks that ran since start_recording(), and their arguments; stops recording."""
    global _calls
    calls, _calls = _calls or [], None
    return calls


def _starting(values: Iterable[str], incomplete: str) -> list[str]:
    return [v for v in values if v.startswith(incomplete)]


VOCABULARIES = (
    "tables",
    "formats",
    "report_formats",
    "metakernel_formats",
    "jobs_formats",
    "sync_formats",
    "config_formats",
    "coverage_formats",
    "coverage_by",
    "coverage_tables",
    "instruments",
    "data_levels",
    "extensions",
    "spice_types",
    "metakernel_types",
    "job_statuses",
    "versions",
    "config_keys",
    "products_formats",
    "products_tables",
    "inside_formats",
    "webpoda_modes",
    "poda_sids",
)


def _vocabulary(name: str) -> Iterable[str]:
    """One of the fixed vocabularies, from where the library keeps it."""
    from imap_cli.core import coverage, jobs, metakernel, poda, query, settings, vocabulary, webpoda

    return {
        "tables": query.TABLES,
        "formats": FORMATS,
        "report_formats": REPORT_FORMATS,
        "metakernel_formats": METAKERNEL_FORMATS,
        "jobs_formats": JOBS_FORMATS,
        "sync_formats": SYNC_FORMATS,
        "config_formats": CONFIG_FORMATS,
        "coverage_formats": COVERAGE_FORMATS,
        "coverage_by": coverage.BY_CHOICES,
        "coverage_tables": coverage.TABLES,
        "instruments": vocabulary.INSTRUMENTS,
        "data_levels": vocabulary.DATA_LEVELS,
        "extensions": vocabulary.ALL_EXTENSIONS,  # every extension any kind of file may have
        "spice_types": query.offered_kernel_types(),  # what --table spice --type accepts
        "metakernel_types": metakernel.kernel_types(),  # only what a metakernel can load
        "job_statuses": jobs.status_words(),
        "versions": ("latest",),  # other versions are typed
        "config_keys": settings.KEYS,
        "products_formats": PRODUCTS_FORMATS,
        "products_tables": ("ancillary", "quicklook", "science"),
        "inside_formats": INSIDE_FORMATS,
        "webpoda_modes": webpoda.MODES,
        "poda_sids": poda.SIDS,
    }[name]


def vocabulary(name: str) -> Callable[[str], list[str]]:
    """A callback for one of the fixed VOCABULARIES (`versions` offers only `latest`); the
    values are imported when it is first called, never when an option is defined."""
    if name not in VOCABULARIES:  # fail where the option is defined, not at a TAB
        raise ValueError(f"no vocabulary {name!r}; vocabularies: {', '.join(VOCABULARIES)}")

    @completer(fixed=True)
    def values(incomplete: str) -> list[str]:
        return _starting(_vocabulary(name), incomplete)

    return values


def _typed_already(ctx: Any) -> set[str]:
    """Values already on the command line (parsed into ctx.params), as typed and normalised
    (`./a.cdf` is `a.cdf`)."""
    typed: set[str] = set()
    for value in (getattr(ctx, "params", None) or {}).values():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, (str, os.PathLike)):
                typed.update((str(item), os.path.normpath(item)))
    return typed


@completer(fixed=False)
def download_items(incomplete: str, ctx: Any = None) -> list[str]:
    """Filenames of recent query results; their SDC keys once a `/` is typed.

    Attach as `autocompletion=completers.download_items` to `imap download`'s argument. Typer
    passes the click context by the parameter's name, so items already typed are left out.
    """
    try:
        from imap_cli.core.recent import recent_keys  # stdlib only: fine on every TAB

        keys = recent_keys()
    except Exception:  # a traceback must never land in the user's prompt
        return []
    typed = _typed_already(ctx)
    if "/" in incomplete:
        candidates = (key for key in keys if key.startswith(incomplete))
    else:
        candidates = (key.rsplit("/", 1)[-1] for key in keys)
        candidates = (name for name in candidates if name.startswith(incomplete))
    return sorted({c for c in candidates if c and c not in typed})


@completer(fixed=False)
def descriptors(incomplete: str, ctx: Any = None) -> list[str]:
    """Descriptors seen in recent query results (never local files: a descriptor is no path).

    Of the instrument (and level) typed already, when there are any such results.
    """
    try:
        from imap_cli.core.recent import recent_keys

        keys = recent_keys()
    except Exception:  # a traceback must never land in the user's prompt
        return []
    params = getattr(ctx, "params", None) or {}
    found = set()
    for key in keys:
        parts = key.rsplit("/", 1)[-1].split("_")
        if len(parts) < 5 or parts[0] != "imap":
            continue
        instrument, level, descriptor = parts[1], parts[2], parts[3]
        if params.get("instrument") not in (None, instrument):
            continue
        if params.get("data_level") not in (None, level):
            continue
        if descriptor.startswith(incomplete):
            found.add(descriptor)
    return sorted(found)


@completer(fixed=False)
def upload_files(incomplete: str, ctx: Any = None) -> list[str]:
    """Local files for `imap upload`: those in the folder typed so far (the cwd at first).

    Folders that match are listed beside files with a trailing `/`. When no file matches,
    nothing is returned, so the shell's own path completion takes over (it descends into
    folders, expands `~` and quotes spaces better than a list of words can).
    """
    cut = max(incomplete.rfind("/"), incomplete.rfind(os.sep))
    head, prefix = incomplete[: cut + 1], incomplete[cut + 1 :]
    folder = Path(os.path.expanduser(head)) if head else Path(".")
    show_hidden = prefix.startswith(".")
    typed = _typed_already(ctx)
    files: list[str] = []
    folders: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if not name.startswith(prefix) or (name.startswith(".") and not show_hidden):
                    continue
                try:
                    if entry.is_dir():
                        folders.append(f"{head}{name}/")
                    elif entry.is_file() and os.path.normpath(f"{head}{name}") not in typed:
                        files.append(f"{head}{name}")
                except OSError:  # a dangling or unreadable entry: not a candidate
                    continue
    except OSError:
        return []
    if not files:
        return []
    return sorted(files) + sorted(folders)
