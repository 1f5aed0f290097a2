"""`imap serve`: a local SDC-compatible archive (API + S3-like object host) over a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from imap_cli.cli.options import state

SERVER = "Server"


def serve(
    ctx: typer.Context,
    root: Annotated[
        Path | None,
        typer.Argument(
            help="Folder laid out like the SDC (imap/<inst>/<level>/<YYYY>/<MM>/...). "
            "Default: your data dir.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on.", rich_help_panel=SERVER)
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port",
            "-p",
            min=0,
            max=65535,
            help="API port (0: any free port).",
            rich_help_panel=SERVER,
        ),
    ] = 8765,
    objects_port: Annotated[
        int,
        typer.Option(
            "--objects-port",
            min=0,
            max=65535,
            help="Port of the object host that presigned URLs point to, a separate origin as "
            "S3 is (0: any free port).",
            rich_help_panel=SERVER,
        ),
    ] = 0,
    same_origin: Annotated[
        bool,
        typer.Option(
            "--same-origin",
            help="Serve object URLs from the API port instead of a separate one.",
            rich_help_panel=SERVER,
        ),
    ] = False,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="IMAP_SERVE_API_KEY",
            help="Require this key (x-api-key) on /api-key/... routes; uploads then need it.",
            rich_help_panel=SERVER,
            show_default=False,
        ),
    ] = None,
    access_token: Annotated[
        str | None,
        typer.Option(
            "--access-token",
            envvar="IMAP_SERVE_ACCESS_TOKEN",
            help="Accept this bearer token on /authorized/... routes.",
            rich_help_panel=SERVER,
            show_default=False,
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Serve a small demo archive (built in a temporary folder, or in ROOT if given "
            "and empty).",
            rich_help_panel=SERVER,
        ),
    ] = False,
    latency_ms: Annotated[
        int,
        typer.Option(
            "--latency-ms",
            min=0,
            help="Delay added to every API call, like the real SDC's.",
            rich_help_panel=SERVER,
        ),
    ] = 0,
    max_response_bytes: Annotated[
        int,
        typer.Option(
            "--max-response-bytes",
            min=0,
            help="Answer larger API responses with the gateway's 500, as the SDC does (its "
            "Lambdas cannot send more than 6,291,556 bytes). 0: no limit.",
            rich_help_panel=SERVER,
        ),
    ] = 6_291_556,
    pagination: Annotated[
        bool,
        typer.Option(
            "--pagination/--no-pagination",
            help="Accept offset/limit on /query, as the newer SDC revision does; "
            "--no-pagination answers them with 400, as most deployments.",
            rich_help_panel=SERVER,
        ),
    ] = True,
    rescan_interval: Annotated[
        float,
        typer.Option(
            "--rescan-interval",
            min=0,
            help="Seconds between checks for files dropped in by hand (0: before every API "
            "call). SIGHUP rescans everything.",
            rich_help_panel=SERVER,
        ),
    ] = 1.0,
) -> None:
    """Serve a folder as a local SDC (API + S3-like object host), for offline work and tests.

    Both `imap` and the official client can use it: `imap --url http://127.0.0.1:8765 query -i mag`.

    Files on disk count as released; with --api-key, science uploads wait for `imap release`.

    Uploads are stored atomically and never overwrite.

    One log line per request on stderr; Ctrl-C stops it; SIGHUP rescans ROOT.
    """
    import shutil
    import tempfile

    from imap_cli.core.errors import UsageError

    out = state(ctx).output
    cleanup: Path | None = None
    if demo:
        from imap_cli.server.demo import build_demo

        if root is None:
            cleanup = root = Path(tempfile.mkdtemp(prefix="imap-demo-"))
        elif root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise UsageError(
                f"--demo needs an empty folder, and {root} is not empty",
                "Leave out ROOT to build the demo in a temporary folder.",
            )
        build_demo(root)
    elif root is None:
        root = state(ctx).settings.data_dir
        out.note(f"No ROOT given: serving your data dir {root}")
    try:
        _run(
            ctx,
            root,
            host,
            port,
            None if same_origin else objects_port,
            api_key,
            access_token,
            latency_ms / 1000,
            rescan_interval,
            max_response_bytes,
            pagination,
        )
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


def _run(
    ctx: typer.Context,
    root: Path,
    host: str,
    port: int,
    objects_port: int | None,
    api_key: str | None,
    access_token: str | None,
    latency: float,
    rescan_interval: float,
    max_response_bytes: int,
    pagination: bool,
) -> None:
    import contextlib
    import errno
    import signal
    import threading

    from imap_cli.core.errors import UsageError
    from imap_cli.server import start_server

    out = state(ctx).output
    root = root.expanduser()
    if not root.exists():
        raise UsageError(
            f"{root} does not exist", "Give a folder laid out like the SDC, or --demo."
        )
    if not root.is_dir():
        raise UsageError(
            f"{root} is not a folder", "Give a folder laid out like the SDC, or --demo."
        )
    stderr = out.streams.stderr
    try:
        server = start_server(
            root,
            host=host,
            port=port,
            api_key=api_key,
            access_token=access_token,
            objects_port=objects_port,
            latency=latency,
            rescan_interval=rescan_interval,
            log=stderr,
            max_response_bytes=max_response_bytes,
            pagination=pagination,
        )
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UsageError(
                f"cannot listen on {host}:{port}: the port is already in use"
                + (f" (or the objects port {objects_port})" if objects_port else ""),
                "Stop the other server, or pick another port with --port (0: any free port).",
            ) from None
        raise UsageError(
            f"cannot listen on {host}:{port}: {error.strerror or error}",
            "Check --host (an address of this machine) and --port (>= 1024 without root).",
        ) from None

    stop = threading.Event()
    interrupted = []

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
    try:
        count = len(server.catalogue)
        out.note(f"Serving {server.root} ({count} files) at {server.url}")
        if server.objects_url != server.url:
            out.note(f"Object URLs (presigned, like S3) point to {server.objects_url}")
        key = "IMAP_API_KEY=<your key> " if api_key else ""
        out.note(f"Try:  {key}imap --url {server.url} query --instrument mag")
        out.note(
            f"Or:   {key}IMAP_DATA_ACCESS_URL={server.url} imap-data-access query --instrument mag"
        )
        out.note("Ctrl-C stops the server.")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            interrupted.append(True)
    finally:
        server.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    out.note("Server stopped.")
    if interrupted:
        raise typer.Exit(130)
