"""`imap download` end to end against `imap serve`, with faults injected on the object host.

Every file must end byte-identical or be reported failed; never a short file at a final path;
no `.part` left behind after success, failure, or SIGINT.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from imap_cli.core import errors
from imap_cli.core.download.pipeline import download_files
from imap_cli.core.http import SDCClient
from imap_cli.core.settings import resolve
from imap_cli.core.transfer import Stage, TransferEvent
from imap_cli.server import start_server

SIZE = 300_000  # several socket reads, small enough to keep every test fast
KEY = "e2e-secret-key-0123456789"


def key_for(day: int) -> str:
    name = f"imap_mag_l1a_norm-mago_202501{day:02d}_v001.0001.cdf"
    return f"imap/mag/l1a/2025/01/{name}"


def make_root(root: Path, count: int, size: int = SIZE) -> dict[str, bytes]:
    """`count` files laid out like the SDC; returns key -> content."""
    files = {}
    for day in range(1, count + 1):
        key = key_for(day)
        data = hashlib.sha256(key.encode()).digest() * (size // 32) + b"end"
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[key] = data
    return files


WSGI = Callable[[dict, Callable], Any]


class Faults:
    """A WSGI middleware for the object host: counts requests and injects one kind of fault."""

    def __init__(self, kind: str = "", times: int = 1_000_000, **options: Any) -> None:
        self.kind = kind
        self.left = times
        self.options = options
        self.lock = threading.Lock()
        self.seen: list[dict[str, str]] = []

    def _take(self, environ: dict) -> bool:
        with self.lock:
            self.seen.append(
                {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k[:5] == "HTTP_"}
            )
            if self.left > 0 and self._applies(environ):
                self.left -= 1
                return True
            return False

    def _applies(self, environ: dict) -> bool:
        if self.kind in ("cut", "lie-long", "lie-short", "bad-etag", "slow"):
            return "HTTP_RANGE" not in environ  # first attempts only; resumes go through
        return True

    def __call__(self, app: WSGI) -> WSGI:
        def wrapped(environ: dict, start_response: Callable) -> Any:
            if not self._take(environ):
                return app(environ, start_response)
            kind = self.kind
            if kind in ("503", "502", "403"):
                reason = {"503": "Service Unavailable", "502": "Bad Gateway", "403": "Forbidden"}
                start_response(f"{kind} {reason[kind]}", [("Content-Length", "0")])
                return [b""]
            if kind == "429":
                start_response(
                    "429 Too Many Requests", [("Retry-After", "1"), ("Content-Length", "0")]
                )
                return [b""]
            if kind == "no-range":
                environ.pop("HTTP_RANGE", None)  # the host ignores Range: a 200 with everything
                environ.pop("HTTP_IF_RANGE", None)
                return app(environ, start_response)
            return self._rewrite(app, environ, start_response)

        return wrapped

    def _rewrite(self, app: WSGI, environ: dict, start_response: Callable) -> Any:
        kind = self.kind

        def patched_start(status: str, headers: list, exc_info: Any = None) -> Any:
            headers = list(headers)
            if kind in ("lie-long", "lie-short", "bad-etag", "disposition"):
                out = []
                for name, value in headers:
                    if name.lower() == "content-length" and kind == "lie-long":
                        value = str(int(value) + 1000)
                    elif name.lower() == "content-length" and kind == "lie-short":
                        value = str(int(value) - 1000)
                    elif name.lower() == "etag" and kind == "bad-etag":
                        value = '"00000000000000000000000000000000"'
                    out.append((name, value))
                headers = [*out, ("Connection", "close")]
                if kind == "disposition":
                    headers.append(("Content-Disposition", 'attachment; filename="../../evil.cdf"'))
            return start_response(status, headers, exc_info)

        body = app(environ, patched_start)
        if kind == "cut":
            return _cut(body, self.options.get("after", SIZE // 3))
        if kind == "slow":
            return _slow(body)
        if kind == "lie-short":
            return _truncate_to(body, environ)
        return body


def _cut(body: Any, after: int) -> Iterator[bytes]:
    sent = 0
    try:
        for chunk in body:
            if sent + len(chunk) >= after:
                yield bytes(chunk[: after - sent])
                raise ConnectionAbortedError("fault injection: connection cut mid-body")
            sent += len(chunk)
            yield chunk
    finally:
        close = getattr(body, "close", None)
        if close:
            close()


def _slow(body: Any) -> Iterator[bytes]:
    try:
        for chunk in body:
            for start in range(0, len(chunk), 4096):
                time.sleep(0.02)
                yield bytes(chunk[start : start + 4096])
    finally:
        close = getattr(body, "close", None)
        if close:
            close()


def _truncate_to(body: Any, environ: dict) -> Iterator[bytes]:
    # Send only what the (lying, shorter) Content-Length says, then close.
    data = b"".join(body)
    yield data[:-1000]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, bytes]:
    return make_root(tmp_path / "root", 6)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def serve(tmp_path: Path, faults: Faults | None = None, **options: Any):
    return start_server(tmp_path / "root", objects_middleware=faults, **options)


def fetch(
    server,
    keys,
    data_dir: Path,
    *,
    api_key: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **options,
):
    """download_files through a client of `server`; `sleep` hears every retry wait it asks for."""
    settings = replace(resolve(env={}), url=server.url, api_key=api_key, retries=4, timeout=5.0)
    events: list[TransferEvent] = []
    lock = threading.Lock()

    def sink(event: TransferEvent) -> None:
        with lock:
            events.append(event)

    options.setdefault("jobs", 3)
    with SDCClient(settings, sleep=sleep) as client:
        results = download_files(client, list(keys), data_dir=data_dir, on_event=sink, **options)
    return results, events


def assert_intact(data_dir: Path, files: dict[str, bytes], results) -> None:
    """Each file is identical or failed-and-absent; never a .part left."""
    for result in results:
        path = data_dir / result.key
        if result.ok:
            assert path.read_bytes() == files[result.key], result.key
        else:
            assert not path.exists(), f"{result.key} failed but a file is at its final path"
    assert list(data_dir.rglob("*.part")) == []


# --- happy path, credentials, destinations ------------------------------------------------------


def test_downloads_are_identical_and_credentials_stay_with_the_sdc(tmp_path, files, data_dir):
    faults = Faults()  # records headers only
    with serve(tmp_path, faults, api_key=KEY) as server:
        assert server.objects_url != server.url  # another origin, as S3 is
        results, _ = fetch(server, files, data_dir, api_key=KEY)
        api_headers = [r.headers for r in server.requests if "/download/" in r.path]
    assert [r.status for r in results] == ["downloaded"] * len(files)
    assert_intact(data_dir, files, results)
    assert len(faults.seen) == len(files)
    for headers in faults.seen:
        assert "x-api-key" not in headers and "authorization" not in headers
    assert api_headers and all(
        {k.lower(): v for k, v in dict(h).items()}.get("x-api-key") == KEY for h in api_headers
    )


def test_content_disposition_cannot_move_the_file(tmp_path, files, data_dir):
    with serve(tmp_path, Faults("disposition")) as server:
        results, _ = fetch(server, files, data_dir)
    assert_intact(data_dir, files, results)
    assert all(r.ok for r in results)
    assert not list(tmp_path.rglob("evil.cdf"))


# --- faults ----------------------------------------------------------------------------------


def test_connections_cut_mid_body_resume_with_range(tmp_path, files, data_dir):
    faults = Faults("cut")
    with serve(tmp_path, faults) as server:
        results, events = fetch(server, files, data_dir)
    assert all(r.ok for r in results), [r.reason for r in results]
    assert_intact(data_dir, files, results)
    resumed = [h for h in faults.seen if "range" in h]
    assert len(resumed) == len(files)
    assert all(h["range"].startswith("bytes=") and h["if-range"].startswith('"') for h in resumed)
    retries = [e for e in events if e.stage == Stage.RETRY]
    assert len(retries) == len(files) and all(e.advance == 0 for e in retries)


def test_a_200_to_a_range_request_restarts_from_zero(tmp_path, files, data_dir):
    cut = Faults("cut", times=len(files))
    ignore_range = Faults("no-range")

    def both(app: WSGI) -> WSGI:
        return cut(ignore_range(app))

    with serve(tmp_path, both) as server:
        results, events = fetch(server, files, data_dir)
    assert all(r.ok for r in results)
    assert_intact(data_dir, files, results)
    rewinds = [e for e in events if e.stage == Stage.RETRY and e.advance < 0]
    assert len(rewinds) == len(files)
    # The progress bar goes back by exactly what had arrived before the cut.
    assert all(e.advance == -(SIZE // 3) for e in rewinds)


@pytest.mark.parametrize("status", ["503", "502"])
def test_bursts_of_5xx_are_retried(tmp_path, files, data_dir, status):
    with serve(tmp_path, Faults(status, times=3)) as server:
        results, _ = fetch(server, files, data_dir)
    assert all(r.ok for r in results)
    assert_intact(data_dir, files, results)


def test_endless_503_fails_the_file_cleanly(tmp_path, files, data_dir):
    with serve(tmp_path, Faults("503")) as server:
        results, _ = fetch(server, list(files)[:2], data_dir)
    assert [r.status for r in results] == ["failed", "failed"]
    assert all(isinstance(r.error, errors.Unavailable) for r in results)
    assert_intact(data_dir, files, results)


def test_429_with_retry_after_is_honoured(tmp_path, files, data_dir):
    key = next(iter(files))
    waits: list[float] = []  # the seconds each retry wait asked for (none is slept)
    with serve(tmp_path, Faults("429", times=1)) as server:
        results, _ = fetch(server, [key], data_dir, sleep=waits.append)
    assert results[0].ok
    assert_intact(data_dir, files, results)
    assert waits == [1.0]  # waited as told (Retry-After: 1), not the (test-shrunk) backoff


def test_content_length_longer_than_the_body_is_reported(tmp_path, files, data_dir):
    with serve(tmp_path, Faults("lie-long")) as server:
        results, _ = fetch(server, list(files)[:3], data_dir)
    # The resume asks for bytes past the real end: the host says 416 and the file fails.
    assert all(r.status == "failed" for r in results)
    assert all(isinstance(r.error, errors.IntegrityError) for r in results)
    assert_intact(data_dir, files, results)


def test_content_length_shorter_than_the_object_is_caught_by_the_md5(tmp_path, files, data_dir):
    with serve(tmp_path, Faults("lie-short")) as server:
        results, _ = fetch(server, list(files)[:3], data_dir)
    assert all(r.status == "failed" for r in results)
    assert all("checksum" in r.reason for r in results)
    assert_intact(data_dir, files, results)


def test_an_etag_that_does_not_match_fails_the_file(tmp_path, files, data_dir):
    with serve(tmp_path, Faults("bad-etag")) as server:
        results, _ = fetch(server, list(files)[:3], data_dir)
    assert all(r.status == "failed" for r in results)
    assert_intact(data_dir, files, results)


def test_an_expired_link_is_asked_for_again(tmp_path, files, data_dir):
    with serve(tmp_path, Faults("403", times=1)) as server:
        results, _ = fetch(server, list(files)[:1], data_dir, jobs=1)
        asked = [r for r in server.requests if "/download/" in r.path]
    assert results[0].ok
    assert len(asked) == 2
    assert_intact(data_dir, files, results)


def test_verify_refetches_a_corrupted_copy(tmp_path, files, data_dir):
    keys = list(files)[:2]
    with serve(tmp_path) as server:
        fetch(server, keys, data_dir)
        broken = data_dir / keys[0]
        broken.write_bytes(b"X" + files[keys[0]][1:])  # same size, different bytes
        results, _ = fetch(server, keys, data_dir, verify=True)
    # the re-download says why (what --verify found), the good copy was verified
    assert [(r.status, r.reason) for r in results] == [
        ("downloaded", "checksum differs from the SDC's ETag"),
        ("skipped", "verified"),
    ]
    assert_intact(data_dir, files, results)


# --- processes -----------------------------------------------------------------------------


def cli_env(server, data_dir: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAP_")}
    env.update(
        IMAP_DATA_ACCESS_URL=server.url,
        IMAP_DATA_DIR=str(data_dir),
        IMAP_CLI_CONFIG=str(tmp_path / "config.toml"),
        IMAP_CLI_BACKOFF="0.01",
    )
    return env


def two_downloads_at_once(env: dict, keys: str, *, jobs: int) -> tuple[list, list]:
    """`imap download -j JOBS -` twice at the same time, both reading `keys`; (procs, outputs)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "imap_cli", "download", "-j", str(jobs), "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(2)
    ]
    return procs, [proc.communicate(keys, timeout=60) for proc in procs]


def test_two_processes_fetching_the_same_files_both_succeed(tmp_path, data_dir):
    files = make_root(tmp_path / "root", 20, size=200_000)
    keys = "".join(k + "\n" for k in files)
    with serve(tmp_path, Faults("cut", times=5)) as server:
        env = cli_env(server, data_dir, tmp_path)
        procs, outputs = two_downloads_at_once(env, keys, jobs=4)
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert not re.search(r"\x1b\[", err)  # piped: plain lines, no escape codes
        assert "failed 0" in err
    for key, data in files.items():
        assert (data_dir / key).read_bytes() == data
    assert list(data_dir.rglob("*.part")) == []


def wait_for(condition: Callable[[], Any], proc: subprocess.Popen, what: str) -> Any:
    """Poll (bounded) until condition() is truthy; the process must still be running."""
    deadline = time.monotonic() + 30
    while not (found := condition()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return found


def grown_part(data_dir: Path, at_least: int) -> list[Path]:
    return [p for p in data_dir.rglob("*.part") if p.stat().st_size >= at_least]


def interrupt_download(
    server, faults: Faults, key: str, data_dir: Path, tmp_path: Path
) -> tuple[str, int]:
    """Start `imap download KEY`, SIGINT it once bytes flow; (stderr, the object requests made
    after the SIGINT). A process that has not ended 30 s after it counts as hung."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "imap_cli", "download", key],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(server, data_dir, tmp_path),
        text=True,
    )
    try:
        wait_for(lambda: grown_part(data_dir, 200_000), proc, "a .part with bytes in it")
        seen = len(faults.seen)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)  # a deadlock guard, not a speed target
        late = len(faults.seen) - seen
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    return err, late


def test_sigint_keeps_what_arrived_and_the_next_run_continues_it(tmp_path, data_dir):
    files = make_root(tmp_path / "root", 2, size=4_000_000)
    key, other = list(files)
    faults = Faults("slow")  # first requests trickle; a resume (with Range) runs at full speed
    with serve(tmp_path, faults) as server:
        err, late = interrupt_download(server, faults, key, data_dir, tmp_path)
        assert late == 0  # stopped where it was: no resume, no retry after Ctrl-C
        assert "Interrupted" in err and "kept" in err and "failed" not in err
        assert "Interrupted." not in err  # what was kept is said once, no generic line after
        assert not (data_dir / key).exists()  # never a short file at the final name
        assert list(data_dir.rglob("*.part")) == []
        (partial,) = data_dir.rglob("*.partial")
        kept = partial.stat().st_size
        assert 0 < kept < len(files[key])
        assert partial.read_bytes() == files[key][:kept]
        etag = '"' + hashlib.md5(files[key]).hexdigest() + '"'

        seen = len(faults.seen)
        proc = subprocess.run(
            [sys.executable, "-m", "imap_cli", "download", key],
            capture_output=True,
            env=cli_env(server, data_dir, tmp_path),
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        first = faults.seen[seen]
        assert first["range"] == f"bytes={kept}-" and first["if-range"] == etag
        assert len(faults.seen) == seen + 1  # one request: the rest of the file
        from imap_cli.cli.progress import human_size

        assert f"of which {human_size(kept)} kept from an earlier run" in proc.stderr
        assert (data_dir / key).read_bytes() == files[key]
        assert list(data_dir.rglob("*.part*")) == []

        # The object changes between the runs: the If-Range answer is the whole new object.
        interrupt_download(server, faults, other, data_dir, tmp_path)
        (partial,) = data_dir.rglob("*.partial")
        kept = partial.stat().st_size
        changed = b"reprocessed " * 300_000
        (tmp_path / "root" / other).write_bytes(changed)
        seen = len(faults.seen)
        proc = subprocess.run(
            [sys.executable, "-m", "imap_cli", "download", other],
            capture_output=True,
            env=cli_env(server, data_dir, tmp_path),
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert faults.seen[seen]["range"] == f"bytes={kept}-"
        assert (data_dir / other).read_bytes() == changed
        assert list(data_dir.rglob("*.part*")) == []


def test_two_processes_one_resuming_while_the_other_starts(tmp_path, data_dir):
    files = make_root(tmp_path / "root", 6, size=1_000_000)
    kept = 400_000
    for key, data in files.items():  # what an earlier, interrupted run left
        dest = data_dir / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        tag = "e" + hashlib.md5(data).hexdigest()
        dest.with_name(f"{dest.name}.{tag}.partial").write_bytes(data[:kept])
    keys = "".join(k + "\n" for k in files)
    faults = Faults()
    with serve(tmp_path, faults) as server:
        env = cli_env(server, data_dir, tmp_path)
        procs, outputs = two_downloads_at_once(env, keys, jobs=3)
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    for key, data in files.items():
        assert (data_dir / key).read_bytes() == data
    assert list(data_dir.rglob("*.part*")) == []
    resumed = [h for h in faults.seen if h.get("range") == f"bytes={kept}-"]
    assert len(resumed) == len(files)  # each partial continued once, by one of the two


class CutHalf:
    """Objects middleware: cuts half the responses (chosen at random, seeded) mid-body."""

    def __init__(self, seed: int = 13) -> None:
        import random

        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.cuts = 0

    def __call__(self, app: WSGI) -> WSGI:
        def wrapped(environ: dict, start_response: Callable) -> Any:
            with self.lock:
                cut = self.random.random() < 0.5
                after = self.random.randint(1, SIZE // 2)
                self.cuts += cut
            body = app(environ, start_response)
            return _cut(body, after) if cut else body

        return wrapped


def test_half_the_connections_cut_every_file_still_arrives(tmp_path, data_dir):
    root = tmp_path / "root"
    files = make_root(root, 24)
    for key, data in list(files.items()):  # 24 more, in a second series
        other = key.replace("norm-mago", "norm-magi")
        path = root.joinpath(*other.split("/"))
        path.write_bytes(data[::-1])
        files[other] = data[::-1]
    assert len(files) == 48
    cutter = CutHalf()
    with serve(tmp_path, cutter) as server:
        env = {**cli_env(server, data_dir, tmp_path), "IMAP_RETRIES": "3"}
        proc = subprocess.run(
            [sys.executable, "-m", "imap_cli", "download", "-j", "6", "-"],
            input="".join(k + "\n" for k in files),
            capture_output=True,
            env=env,
            text=True,
            timeout=100,
        )
    assert proc.returncode == 0, proc.stderr
    assert "failed 0" in proc.stderr
    assert cutter.cuts >= 16  # the faults did happen (about half of 48+ requests)
    for key, data in files.items():
        assert (data_dir / key).read_bytes() == data


def test_attempts_without_progress_use_up_the_budget(tmp_path, files, data_dir):
    with serve(tmp_path, Faults("cut", after=0)) as server:
        results, _ = fetch(server, list(files)[:1], data_dir)
    assert results[0].status == "failed"
    assert "without progress" in results[0].reason
    assert_intact(data_dir, files, results)


def test_shards_are_disjoint_and_complete(tmp_path, data_dir, capsys, monkeypatch):
    from imap_cli.cli.app import main

    keys = [key_for(day) for day in range(1, 29)] + [
        f"imap/swe/l1b/2025/02/imap_swe_l1b_sci_202502{day:02d}_v001.0001.cdf"
        for day in range(1, 29)
    ]
    monkeypatch.setenv("IMAP_DATA_DIR", str(data_dir))
    for count in range(1, 6):
        shares = []
        for k in range(1, count + 1):
            capsys.readouterr()
            assert main(["download", "--dry-run", "--shard", f"{k}/{count}", *keys]) == 0
            out = capsys.readouterr().out
            shares.append({line.split()[1] for line in out.splitlines()})
        assert sum(map(len, shares)) == len(keys), count  # disjoint
        assert set.union(*shares) == set(keys), count  # complete
        if count > 1:
            assert all(shares), count  # 56 keys: no share is empty
    capsys.readouterr()
    assert main(["download", "--shard", "0/3", keys[0]]) == 2
    assert "is not a shard" in capsys.readouterr().err


def test_python_api_download_and_download_many(tmp_path, files, monkeypatch, isolated_settings):
    import imap_cli

    keys = list(files)
    with serve(tmp_path) as server:
        monkeypatch.setenv("IMAP_DATA_ACCESS_URL", server.url)
        path = imap_cli.download(keys[0].rsplit("/", 1)[1])  # a bare name, as the official call
        assert path == isolated_settings / "data" / keys[0]
        assert path.read_bytes() == files[keys[0]]
        downloaded = imap_cli.download_many(keys, jobs=2)
        with pytest.raises(errors.NotFound) as caught:
            imap_cli.download("imap_mag_l1a_norm-mago_20991231_v001.0001.cdf")
        # The error names the file it is about (issue 25).
        assert str(caught.value).startswith("imap_mag_l1a_norm-mago_20991231_v001.0001.cdf: ")
    results = downloaded.results
    assert [r.status for r in results] == ["skipped"] + ["downloaded"] * (len(keys) - 1)
    assert downloaded == [isolated_settings / "data" / key for key in keys]
    assert downloaded.skipped == [path] and downloaded.errors == {}
    assert_intact(isolated_settings / "data", files, results)


def test_stderr_closed_by_its_reader_neither_hangs_nor_loses_files(tmp_path, files, data_dir):
    # `imap query ... -o paths | imap download -j 2 - 2>&1 | head -2`: the reader of stderr
    # leaves at once, and every progress line then fails with EPIPE.
    keys = "".join(k + "\n" for k in files)
    with serve(tmp_path) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "imap_cli", "download", "-j", "2", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=cli_env(server, data_dir, tmp_path),
            text=True,
        )
        proc.stderr.close()
        try:
            proc.stdin.write(keys)
            proc.stdin.close()
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0
    for key, data in files.items():
        assert (data_dir / key).read_bytes() == data
    assert list(data_dir.rglob("*.part")) == []
