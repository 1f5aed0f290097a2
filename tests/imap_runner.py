"""The one in-process runner of `imap ...` for the tests (the `imap` fixture of conftest.py)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import pytest


class Ran(NamedTuple):
    """How one in-process `imap` run ended: `code, out, err = imap(...)`."""

    code: int
    out: str
    err: str

    # The names subprocess.CompletedProcess uses, for tests that compare both kinds of run.
    @property
    def returncode(self) -> int:
        return self.code

    @property
    def stdout(self) -> str:
        return self.out

    @property
    def stderr(self) -> str:
        return self.err


_UNSET = object()


@dataclass(frozen=True)
class ImapRunner:
    """Runs `imap *argv` in this process (stdin, stdout and stderr are not terminals, as in a
    pipe) and returns a Ran; a traceback on either stream fails the test.

    `stdin` is what the command reads (empty by default); `env` is added to the environment
    for this run only (a value of None removes the variable); `key` and `token` set
    IMAP_API_KEY and IMAP_ACCESS_TOKEN for this run (None removes them; the defaults come
    from `against`).
    """

    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    prefix: tuple[str, ...] = ()
    key: object = _UNSET
    token: object = _UNSET
    env: Mapping[str, str | None] = field(default_factory=dict)

    def against(
        self,
        url: str,
        *,
        data_dir: Path | None = None,
        retries: int | None = None,
        prefix: tuple[str, ...] = (),
        key: object = _UNSET,
        token: object = _UNSET,
    ) -> ImapRunner:
        """A runner whose commands go to `url`: IMAP_DATA_ACCESS_URL (and IMAP_DATA_DIR,
        IMAP_RETRIES when given) are set for the rest of the test, so subprocesses and the
        Python API see them too; `prefix` goes before every argv (e.g. ("query",))."""
        self.monkeypatch.setenv("IMAP_DATA_ACCESS_URL", url)
        if data_dir is not None:
            self.monkeypatch.setenv("IMAP_DATA_DIR", str(data_dir))
        if retries is not None:
            self.monkeypatch.setenv("IMAP_RETRIES", str(retries))
        return replace(self, prefix=prefix, key=key, token=token)

    def __call__(
        self,
        *argv: str,
        stdin: str = "",
        env: Mapping[str, str | None] | None = None,
        key: object = _UNSET,
        token: object = _UNSET,
    ) -> Ran:
        from imap_cli.cli.app import main  # imported on first use: conftest stays light

        changes = dict(env or {})
        for name, value, default in (
            ("IMAP_API_KEY", key, self.key),
            ("IMAP_ACCESS_TOKEN", token, self.token),
        ):
            chosen = default if value is _UNSET else value
            if chosen is not _UNSET:
                changes[name] = chosen  # type: ignore[assignment]
        with self.monkeypatch.context() as patch:
            for name, value in changes.items():
                if value is None:
                    patch.delenv(name, raising=False)
                else:
                    patch.setenv(name, value)
            patch.setattr("sys.stdin", io.StringIO(stdin))
            self.capsys.readouterr()
            code = main([*self.prefix, *argv])
            out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err, (out + err)[-4000:]
        return Ran(code, out, err)
