"""`imap serve`: a local SDC-compatible archive (API + S3-like object host) over a folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imap_cli.cli.options import state
from imap_cli.core.schema import MAX_RESPONSE_BYTES

if TYPE_CHECKING:
    from imap_cli.cli.output import Output
    from imap_cli.server import RunningServer, ServerConfig

SERVER = "Server"
NOT_A_FOLDER_HINT = "Give a folder laid out like the SDC, or --demo."


def _option(*flags: str, **details: Any) -> Any:
    """A flag of the Server panel."""
    return typer.Option(*flags, rich_help_panel=SERVER, **details)


def _secret(flag: str, envvar: str, help: str) -> Any:
    """A credential flag, also read from the environment; never shown as a default."""
    return _option(flag, envvar=envvar, help=help, show_default=False)


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
        "Require this key (x-api-key) on /api-key/... routes; uploads then need it.",
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
Demo = Annotated[
    bool,
    _option(
        "--demo",
        help="Serve a small demo archive (built in a temporary folder, or in ROOT if given "
        "and empty).",
    ),
]
LatencyMs = Annotated[
    int, _option("--latency-ms", min=0, help="Delay added to every API call, like the real SDC's.")
]
MaxResponseBytes = Annotated[
    int,
    _option(
        "--max-response-bytes",
        min=0,
        help="Answer larger API responses with the gateway's 500, as the SDC does (its "
        "Lambdas cannot send more than 6,291,556 bytes). 0: no limit.",
    ),
]
Pagination = Annotated[
    bool,
    _option(
        "--pagination/--no-pagination",
        help="Accept offset/limit on /query, as the newer SDC revision does; "
        "--no-pagination answers them with 400, as most deployments.",
    ),
]
RescanInterval = Annotated[
    float,
    _option(
        "--rescan-interval",
        min=0,
        help="Seconds between checks for files dropped in by hand (0: before every API "
        "call). SIGHUP rescans everything.",
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
    pagination: Pagination = True,
    rescan_interval: RescanInterval = 1.0,
) -> None:
    """Serve a folder as a local SDC (API + S3-like object host), for offline work and tests.

    Both `imap` and the official client can use it: `imap --url http://127.0.0.1:8765 query -i mag`.

    Files on disk count as released; with --api-key, science uploads wait for `imap release`.

    Uploads are stored atomically and never overwrite.

    One log line per request on stderr; Ctrl-C stops it; SIGHUP rescans ROOT.
    """
    import shutil

    from imap_cli.server import ServerConfig

    out = state(ctx).output
    cleanup: Path | None = None
    if demo:
        root, cleanup = _demo_root(root)
    elif root is None:
        root = state(ctx).settings.data_dir
        out.note(f"No ROOT given: serving your data dir {root}")
    try:
        config = ServerConfig(
            root=_checked_root(root),
            host=host,
            port=port,
            objects_port=None if same_origin else objects_port,
            api_key=api_key,
            access_token=access_token,
            latency=latency_ms / 1000,
            rescan_interval=rescan_interval,
            max_response_bytes=max_response_bytes,
            pagination=pagination,
        )
        _run(out, config)
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


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


def _run(out: Output, config: ServerConfig) -> None:
    """Serve until Ctrl-C or SIGTERM; SIGHUP rescans."""
    import threading

    from imap_cli.server import start

    try:
        server = start(config, log=out.streams.stderr)
    except OSError as error:
        raise _listen_error(config, error) from None
    stop = threading.Event()
    previous = _install_signals(server, stop)
    interrupted = False
    try:
        _greet(out, server)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            interrupted = True
    finally:
        server.stop()
        _restore_signals(previous)
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


def _greet(out: Output, server: RunningServer) -> None:
    """Where the server is, and how to try it."""
    out.note(f"Serving {server.root} ({len(server.catalogue)} files) at {server.url}")
    if server.objects_url != server.url:
        out.note(f"Object URLs (presigned, like S3) point to {server.objects_url}")
    key = "IMAP_API_KEY=<your key> " if server.api_key else ""
    out.note(f"Try:  {key}imap --url {server.url} query --instrument mag")
    out.note(
        f"Or:   {key}IMAP_DATA_ACCESS_URL={server.url} imap-data-access query --instrument mag"
    )
    out.note("Ctrl-C stops the server.")
