"""`imap serve`: a local SDC-compatible archive (API + S3-like object host) over a folder."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imap_cli.cli.options import state
from imap_cli.core.schema import MAX_RESPONSE_BYTES

if TYPE_CHECKING:
    from imap_cli.cli.output import Output
    from imap_cli.server import RunningServer, ServerConfig

# Panels of `imap serve --help`: each is a table of its own, so long flags in one do not
# squeeze the help text of every other at 80 columns.
SERVER = "Server"
ACCESS = "Access"
LIKE_THE_SDC = "Behaving like the SDC"
LIMITS = "Limits"
BACKGROUND = "In the background (POSIX)"
NOT_A_FOLDER_HINT = "Give a folder laid out like the SDC, or --demo."


def _option(*flags: str, panel: str = SERVER, **details: Any) -> Any:
    """A flag of `panel` (the Server panel unless said)."""
    return typer.Option(*flags, rich_help_panel=panel, **details)


def _secret(flag: str, envvar: str, help: str, metavar: str | None = None) -> Any:
    """A credential flag, also read from the environment; never shown as a default."""
    return _option(
        flag, panel=ACCESS, envvar=envvar, help=help, show_default=False, metavar=metavar
    )


Root = Annotated[
    Path | None,
    typer.Argument(
        help="Folder laid out like the SDC (imap/<inst>/<level>/<YYYY>/<MM>/...). "
        "Default: your data dir.",
        show_default=False,
    ),
]
Host = Annotated[str, _option("--host", help="Address to listen on.")]
Port = Annotated[
    int, _option("--port", "-p", min=0, max=65535, help="API port (0: any free port).")
]
ObjectsPort = Annotated[
    int,
    _option(
        "--objects-port",
        min=0,
        max=65535,
        help="Port of the object host that presigned URLs point to, a separate origin as "
        "S3 is (0: any free port).",
    ),
]
SameOrigin = Annotated[
    bool,
    _option("--same-origin", help="Serve object URLs from the API port instead of a separate one."),
]
ApiKey = Annotated[
    str | None,
    _secret(
        "--api-key",
        "IMAP_SERVE_API_KEY",
        "Require this key (x-api-key) on /api-key/... routes; uploads then need it. "
        "Prefer --api-key-file or the environment: a flag shows in `ps`.",
    ),
]
ApiKeyFile = Annotated[
    Path | None,
    _option(
        "--api-key-file",
        panel=ACCESS,
        help="Read the API key from this file (its first line), out of sight of `ps`.",
        show_default=False,
    ),
]
AccessTokenFile = Annotated[
    Path | None,
    _option(
        "--access-token-file",
        panel=ACCESS,
        help="Read the bearer token from this file (its first line).",
        show_default=False,
    ),
]
AllowAnonymousWrites = Annotated[
    bool,
    _option(
        "--allow-anonymous-writes",
        panel=ACCESS,
        help="Listen beyond this machine without a key or token: anyone who can reach the "
        "server may then upload.",
    ),
]
PublicUrl = Annotated[
    str | None,
    _option(
        "--public-url",
        metavar="URL",
        help="Base URL clients use to reach the API (e.g. https://mirror.lab:8765); signed "
        "object URLs use its host. Default: the listening address.",
        show_default=False,
    ),
]
PublicObjectsUrl = Annotated[
    str | None,
    _option(
        "--public-objects-url",
        metavar="URL",
        help="Base URL of the object host as clients reach it (default: --public-url's host "
        "on the objects port).",
        show_default=False,
    ),
]
TlsCert = Annotated[
    Path | None,
    _option(
        "--tls-cert",
        panel=ACCESS,
        help="Serve https with this certificate chain (PEM).",
        show_default=False,
    ),
]
TlsKey = Annotated[
    Path | None,
    _option(
        "--tls-key", panel=ACCESS, help="The private key of --tls-cert (PEM).", show_default=False
    ),
]
MaxUploadSize = Annotated[
    str,
    _option(
        "--max-upload-size",
        metavar="SIZE",
        panel=LIMITS,
        help="Largest upload accepted, in bytes or with K, M, G, T (S3's limit: 5G).",
    ),
]
MinFreeSpace = Annotated[
    str,
    _option(
        "--min-free-space",
        metavar="SIZE",
        panel=LIMITS,
        help="Refuse an upload that would leave less free space on the archive's disk "
        "(bytes, or with K, M, G, T; 0: no check).",
    ),
]
MaxConnections = Annotated[
    int,
    _option("--max-connections", panel=LIMITS, min=1, help="Connections served at once, in all."),
]
MaxConnectionsPerClient = Annotated[
    int,
    _option(
        "--max-connections-per-client",
        panel=LIMITS,
        min=1,
        help="Connections served at once from one address; more are closed at once.",
    ),
]
AccessToken = Annotated[
    str | None,
    _secret(
        "--access-token",
        "IMAP_SERVE_ACCESS_TOKEN",
        "Accept this bearer token on /authorized/... routes.",
    ),
]
PodaCredentials = Annotated[
    str | None,
    _secret(
        "--poda-credentials",
        "IMAP_SERVE_PODA_CREDENTIALS",
        "The user and password that PODA's routes (/ops/imap/poda/dap2/...) demand (Basic "
        "auth); without it they are open.",
        "USER:PASSWORD",
    ),
]
Demo = Annotated[
    bool,
    _option(
        "--demo",
        help="Serve a small demo archive (built in a temporary folder, or in ROOT if given "
        "and empty).",
    ),
]
LatencyMs = Annotated[
    int,
    _option(
        "--latency-ms",
        panel=LIKE_THE_SDC,
        min=0,
        help="Delay added to every API call, like the real SDC's.",
    ),
]
MaxResponseBytes = Annotated[
    int,
    _option(
        "--max-response-bytes",
        panel=LIKE_THE_SDC,
        min=0,
        help="Answer larger API responses with the gateway's 500, as the SDC does (its "
        "Lambdas cannot send more than 6,291,556 bytes). 0: no limit.",
    ),
]
NoPagination = Annotated[
    bool,
    _option(
        "--no-pagination",
        panel=LIKE_THE_SDC,
        help="Answer offset/limit on /query with a 400, as most deployments do (by default "
        "they page, as the newer SDC revision does).",
    ),
]
# The default, as a flag: accepted (hidden) so that scripts written for `--pagination/
# --no-pagination` keep working.
PaginationDefault = Annotated[bool, typer.Option("--pagination", hidden=True)]
RescanInterval = Annotated[
    float,
    _option(
        "--rescan-interval",
        min=0,
        help="Seconds between checks for files dropped in by hand (0: before every API "
        "call). SIGHUP rescans everything.",
    ),
]
JobDelay = Annotated[
    float,
    _option(
        "--job-delay",
        panel=LIKE_THE_SDC,
        min=0,
        metavar="SECONDS",
        help="How long each stage of a reprocess request's emulated jobs lasts (queued, in "
        "progress, then done with the files re-made: new ingestion dates); 0: at once.",
    ),
]
FailJobs = Annotated[
    list[str] | None,
    _option(
        "--fail-jobs",
        panel=LIKE_THE_SDC,
        metavar="PATTERN",
        help="Emulated reprocess jobs of files whose name matches this pattern (fnmatch, e.g. "
        "'*_20251002_*') fail and leave the file as it was (repeat for more).",
        show_default=False,
    ),
]
Background = Annotated[
    bool,
    typer.Option(
        "--background",
        help="Start the server in a process of its own, print its URL on stdout once it "
        "answers, and return; `imap serve --stop` stops it.",
        rich_help_panel=BACKGROUND,
    ),
]
LogFile = Annotated[
    Path | None,
    typer.Option(
        "--log-file",
        help="With --background: append the server's log to this file (default: "
        "serve-PORT.log in your user log dir).",
        rich_help_panel=BACKGROUND,
        show_default=False,
    ),
]
Stop = Annotated[
    bool,
    typer.Option(
        "--stop",
        help="Stop the background server on --port (8765 unless given), and wait until it "
        "has stopped.",
        rich_help_panel=BACKGROUND,
    ),
]


def serve(
    ctx: typer.Context,
    root: Root = None,
    host: Host = "127.0.0.1",
    port: Port = 8765,
    objects_port: ObjectsPort = 0,
    same_origin: SameOrigin = False,
    api_key: ApiKey = None,
    access_token: AccessToken = None,
    demo: Demo = False,
    latency_ms: LatencyMs = 0,
    max_response_bytes: MaxResponseBytes = MAX_RESPONSE_BYTES,
    no_pagination: NoPagination = False,
    pagination: PaginationDefault = False,
    rescan_interval: RescanInterval = 1.0,
    api_key_file: ApiKeyFile = None,
    access_token_file: AccessTokenFile = None,
    allow_anonymous_writes: AllowAnonymousWrites = False,
    public_url: PublicUrl = None,
    public_objects_url: PublicObjectsUrl = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
    max_upload_size: MaxUploadSize = "5G",
    min_free_space: MinFreeSpace = "0",
    max_connections: MaxConnections = 256,
    max_connections_per_client: MaxConnectionsPerClient = 32,
    job_delay: JobDelay = 2.0,
    fail_jobs: FailJobs = None,
    poda_credentials: PodaCredentials = None,
    background: Background = False,
    log_file: LogFile = None,
    stop: Stop = False,
) -> None:
    """Serve a folder as a local SDC (API + S3-like object host), for offline work and tests.

    Both `imap` and the official client can use it: `imap --url http://127.0.0.1:8765 query -i mag`.

    Files on disk count as released; with a key, science uploads wait for `imap release`.

    Without a key or token anyone who can reach it may upload, so it then listens only on
    this machine unless --allow-anonymous-writes is given.

    Uploads are stored atomically and never overwrite.

    One log line per request on stderr; Ctrl-C stops it; SIGHUP rescans ROOT.
    With --background it returns once the server answers, and logs to a file;
    then `imap serve --stop` stops it.
    Reprocess requests run as emulated jobs (--job-delay): try `imap reprocess --wait`.
    """
    import shutil

    out = state(ctx).output
    announce = _background_mode(ctx, background, stop, log_file, port)
    cleanup: Path | None = None
    if demo:
        root, cleanup = _demo_root(root)
    elif root is None:
        root = state(ctx).settings.data_dir
        out.note(f"No ROOT given: serving your data dir {root}")
    try:
        config = _config(
            root=_checked_root(root),
            host=host,
            port=port,
            objects_port=None if same_origin else objects_port,
            api_key=_secret_from(api_key, api_key_file, "--api-key-file", "IMAP_SERVE_API_KEY"),
            access_token=_secret_from(
                access_token, access_token_file, "--access-token-file", "IMAP_SERVE_ACCESS_TOKEN"
            ),
            latency=latency_ms / 1000,
            rescan_interval=rescan_interval,
            max_response_bytes=max_response_bytes,
            pagination=not no_pagination,
            allow_anonymous_writes=allow_anonymous_writes,
            public_url=public_url,
            public_objects_url=public_objects_url,
            ssl_context=_tls_context(tls_cert, tls_key),
            max_upload_size=_size(max_upload_size, "--max-upload-size"),
            min_free_space=_size(min_free_space, "--min-free-space"),
            max_connections=max_connections,
            max_connections_per_client=max_connections_per_client,
            job_delay=job_delay,
            job_failures=tuple(fail_jobs or ()),
            poda_credentials=poda_credentials,
        )
        _run(out, config, announce)
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


def _background_mode(
    ctx: typer.Context, background: bool, stop: bool, log_file: Path | None, port: int
) -> Callable[[RunningServer], None] | None:
    """--stop and --background, which end here (typer.Exit), or in the server `--background`
    started: what tells its parent it is ready. None: an ordinary foreground server."""
    from imap_cli.cli import serve_background

    run = state(ctx)
    # Set only in the process `--background` started: it serves, and tells its parent when.
    ready = serve_background.ready_pipe() if background else None
    if stop:
        _only_port(ctx)
        serve_background.stop(run.output, port)
        raise typer.Exit(0)
    if log_file is not None and not background:
        raise _usage(
            "--log-file goes with --background",
            "In the foreground the log is stderr: redirect it, `imap serve 2>> serve.log`.",
        )
    if background and ready is None:
        raise typer.Exit(serve_background.start(run.output, run.argv, port, log_file))
    if ready is None:
        return None
    log = serve_background.log_file_for(log_file, port)
    return functools.partial(_announce, ready, str(log))


# What a refused configuration says, by ServerConfig field: the problem, then the hint.
_PROBLEMS = {
    "api_key": (
        "the API key is empty",
        "Give a key (--api-key-file FILE or IMAP_SERVE_API_KEY), or none for an open server.",
    ),
    "access_token": (
        "the access token is empty",
        "Give a token (--access-token-file FILE or IMAP_SERVE_ACCESS_TOKEN), or none.",
    ),
    "host": (
        "--host {host} reaches beyond this machine, and there is no key or token: anyone "
        "who can reach the server could upload",
        "Set a key (--api-key-file FILE or IMAP_SERVE_API_KEY), or pass "
        "--allow-anonymous-writes to serve openly.",
    ),
    "public_url": (
        "--public-url {public_url} is not an http:// or https:// URL",
        "Give the base URL clients use, e.g. https://mirror.example.org:8765",
    ),
    "public_objects_url": (
        "--public-objects-url {public_objects_url} is not an http:// or https:// URL",
        "Give the base URL clients use for objects, e.g. https://objects.example.org:8766",
    ),
}


def _config(**fields: Any) -> ServerConfig:
    """The ServerConfig, or a usage error that says what is wrong with it."""
    from imap_cli.core.errors import UsageError
    from imap_cli.server.config import ConfigProblem, ServerConfig

    try:
        return ServerConfig(**fields)
    except ConfigProblem as problem:
        message, hint = _PROBLEMS[problem.field]
        raise UsageError(message.format(**fields), hint) from None


def _secret_from(value: str | None, file: Path | None, flag: str, envvar: str) -> str | None:
    """A credential from its flag or environment variable, or the first line of its file.
    An environment variable that is set but empty counts as an empty credential (click would
    take it for unset, and the server would start open)."""
    import os

    from imap_cli.core.errors import UsageError

    if value is None and file is None and envvar in os.environ:
        value = os.environ[envvar]
    if file is None:
        return value
    if value is not None:
        raise UsageError(
            f"{flag} and the key itself are both given",
            f"Keep one: {flag}, or the environment variable.",
        )
    try:
        text = file.expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise UsageError(f"cannot read {flag} {file}: {reason}", "Give a readable file.") from None
    lines = text.splitlines()
    return lines[0].strip() if lines else ""


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _size(text: str, flag: str) -> int:
    """Bytes from `123`, `10K`, `5G`, `1.5T` (binary units; a trailing B or iB is fine)."""
    import re

    from imap_cli.core.errors import UsageError

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if match is None:
        raise UsageError(
            f"{flag} {text} is not a size", "Give bytes, or a number with K, M, G or T: 5G."
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _tls_context(cert: Path | None, key: Path | None) -> Any:
    """A server SSLContext from the PEM files, or None for plain http."""
    from imap_cli.core.errors import UsageError

    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UsageError(
            "--tls-cert and --tls-key go together", "Give both files (PEM), or neither."
        )
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert.expanduser(), key.expanduser())
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
        raise UsageError(
            f"cannot load the TLS certificate {cert} and key {key}: {reason}",
            "Give a PEM certificate chain and its unencrypted PEM private key.",
        ) from None
    return context


def _demo_root(root: Path | None) -> tuple[Path, Path | None]:
    """Build the demo archive in ROOT (which must be empty) or a temporary folder; returns
    the folder and what to delete afterwards."""
    import tempfile

    from imap_cli.core.errors import UsageError
    from imap_cli.server.demo import build_demo

    cleanup = None
    if root is None:
        cleanup = root = Path(tempfile.mkdtemp(prefix="imap-demo-"))
    elif root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(
            f"--demo needs an empty folder, and {root} is not empty",
            "Leave out ROOT to build the demo in a temporary folder.",
        )
    build_demo(root)
    return root, cleanup


def _checked_root(root: Path) -> Path:
    from imap_cli.core.errors import UsageError

    root = root.expanduser()
    if not root.exists():
        raise UsageError(f"{root} does not exist", NOT_A_FOLDER_HINT)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder", NOT_A_FOLDER_HINT)
    return root


def _usage(message: str, hint: str) -> Exception:
    from imap_cli.core.errors import UsageError

    return UsageError(message, hint)


def _only_port(ctx: typer.Context) -> None:
    """--stop takes --port alone: any other option or ROOT would be silently ignored."""
    from imap_cli.cli.options import given

    others = [name for name in ctx.params if name not in ("stop", "port") and given(ctx, name)]
    # Credentials may come from the environment (IMAP_SERVE_API_KEY): only flags count.
    flags = [
        name
        for name in others
        if ctx.get_parameter_source(name).name == "COMMANDLINE"  # type: ignore[union-attr]
    ]
    if flags:
        shown = ", ".join(
            "ROOT" if name == "root" else "--" + name.replace("_", "-") for name in flags
        )
        raise _usage(
            f"--stop takes only --port, not {shown}",
            "Stop the server with `imap serve --stop --port N`, then start it as you like.",
        )


def _announce(pipe: int, log: str, server: RunningServer) -> None:
    """In the background child: record the server and tell the parent its URL."""
    import os

    from imap_cli.cli import serve_background

    record = serve_background.Record(os.getpid(), server.url, server.port, log)
    serve_background.announce(pipe, record)


def _run(
    out: Output, config: ServerConfig, announce: Callable[[RunningServer], None] | None = None
) -> None:
    """Serve until Ctrl-C or SIGTERM; SIGHUP rescans. `announce` (in the background child)
    is told once the server listens and has said so."""
    import os
    import threading

    from imap_cli.server import start

    try:
        server = start(config, log=out.streams.stderr)
    except OSError as error:
        raise _listen_error(config, error) from None
    # Files rewritten in place (their folder unchanged) are found by a full re-listing.
    threading.Thread(target=server.catalogue.scan, daemon=True).start()
    stop = threading.Event()
    previous = _install_signals(server, stop)
    interrupted = False
    port = server.port  # (a stopped server has no port)
    try:
        _greet(out, server, background=announce is not None)
        if announce is not None:
            announce(server)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            interrupted = True
    finally:
        server.stop()
        _restore_signals(previous)
        if announce is not None:
            from imap_cli.cli.serve_background import forget

            forget(port, os.getpid())
    out.note("Server stopped.")
    if interrupted:
        raise typer.Exit(130)


def _listen_error(config: ServerConfig, error: OSError) -> Exception:
    """The usage error for a port that cannot be listened on."""
    import errno

    from imap_cli.core.errors import UsageError

    where = f"{config.host}:{config.port}"
    if error.errno == errno.EADDRINUSE:
        return UsageError(
            f"cannot listen on {where}: the port is already in use"
            + (f" (or the objects port {config.objects_port})" if config.objects_port else ""),
            "Stop the other server, or pick another port with --port (0: any free port).",
        )
    return UsageError(
        f"cannot listen on {where}: {error.strerror or error}",
        "Check --host (an address of this machine) and --port (>= 1024 without root).",
    )


def _install_signals(server: RunningServer, stop: Any) -> dict[int, Any]:
    """SIGTERM stops, SIGHUP rescans; the handlers they replace."""
    import contextlib
    import signal
    import threading

    def on_signal(signum: int, _frame: object) -> None:
        if signum == getattr(signal, "SIGHUP", None):
            threading.Thread(target=server.catalogue.scan, daemon=True).start()
            return
        stop.set()

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            # Not the main thread (embedded use): no signal handling.
            with contextlib.suppress(ValueError):
                previous[number] = signal.signal(number, on_signal)
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    import signal

    for number, handler in previous.items():
        signal.signal(number, handler)


def _greet(out: Output, server: RunningServer, *, background: bool = False) -> None:
    """Where the server is, and how to try it."""
    out.note(f"Serving {server.root} ({len(server.catalogue)} files) at {server.url}")
    if server.objects_url != server.url:
        out.note(f"Object URLs (presigned, like S3) point to {server.objects_url}")
    if server.config.anonymous:
        out.note(
            "No key or token: anyone who can reach this server may upload files "
            "(set --api-key-file or IMAP_SERVE_API_KEY to require one)."
        )
    key = "IMAP_API_KEY=<your key> " if server.api_key else ""
    out.note(f"Try:  {key}imap --url {server.url} query --instrument mag")
    out.note(
        f"Or:   {key}IMAP_DATA_ACCESS_URL={server.url} imap-data-access query --instrument mag"
    )
    if background:
        from imap_cli.cli.serve_background import stop_command

        out.note(f"`{stop_command(server.port)}` stops the server.")
    else:
        out.note("Ctrl-C stops the server.")
