"""Settings: defaults < TOML file < environment < flags, resolved in one place with each origin."""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from imap_cli.core.errors import ConfigError, terminal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

APP_NAME = "imap-cli"
DEFAULT_URL = "https://api.imap-mission.com"
WEBPODA_URL = "https://lasp.colorado.edu/ops/imap/poda/dap2/apids"
CONFIG_ENV = "IMAP_CLI_CONFIG"
TOKEN_ENV = "IMAP_ACCESS_TOKEN"


def _default_data_dir() -> str:
    import platformdirs

    return platformdirs.user_data_dir(APP_NAME, appauthor=False)


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the config file lives: $IMAP_CLI_CONFIG, else the platform's user config folder."""
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


# --- validation: every value from any origin goes through the same checks ---------------


def _check_url(raw: Any) -> str:
    text = str(raw).strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"url must be an http:// or https:// address with a host (and a valid port), "
            f"not {text!r}",
            f"Example: {terminal('example-url', 'url=' + repr(DEFAULT_URL))}",
        )
    return text.rstrip("/")


def _check_data_dir(raw: Any) -> str:
    text = str(raw).strip()
    if not text:
        raise ConfigError(
            "data-dir must not be empty",
            f"Example: {terminal('example-data-dir', 'data_dir=' + repr('~/imap'))}",
        )
    try:
        return str(Path(text).expanduser().resolve())
    except (RuntimeError, OSError) as exc:  # ~nosuchuser, or a path the OS cannot resolve
        raise ConfigError(f"data-dir {text!r} cannot be used: {exc}") from None


def _int_in(lo: int, hi: int | None, name: str) -> Callable[[Any], int]:
    def check(raw: Any) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            value = None
        if value is None or isinstance(raw, bool) or value < lo or (hi is not None and value > hi):
            bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise ConfigError(
                f"{name} must be a whole number {bound}, not {raw!r}",
                f"Example: {terminal('example-' + name, f'{name}={max(lo, 8 if hi else 5)}')}",
            )
        return value

    return check


MAX_TIMEOUT = 86400.0
MAX_RETRIES = 20


def _check_timeout(raw: Any) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = -1.0
    # A day is far beyond any useful read timeout, and keeps clocks from overflowing.
    if isinstance(raw, bool) or not 0 < value <= MAX_TIMEOUT:
        raise ConfigError(
            f"timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, not {raw!r}",
            f"Example: {terminal('example-timeout', 'timeout=60')}",
        )
    return value


def _check_ca_bundle(raw: Any) -> str:
    path = Path(str(raw).strip()).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"ca-bundle must be an existing certificate file; {str(path)!r} is not a file",
            "Point it at a PEM bundle, e.g. the one your organisation's proxy requires.",
        )
    return str(path.resolve())


def _check_secret(raw: Any) -> str:
    text = str(raw).strip()
    if not text or any(c.isspace() or not c.isprintable() for c in text):
        raise ConfigError("api-key must be non-empty printable text without spaces")
    return text


def _check_webpoda_url(raw: Any) -> str:
    try:
        return _check_url(raw)
    except ConfigError:
        raise ConfigError(
            f"webpoda-url must be an http:// or https:// address with a host, not {str(raw)!r}",
            f"Example: imap config set webpoda-url {WEBPODA_URL}",
        ) from None


def _check_webpoda_token(raw: Any) -> str:
    text = str(raw).strip()
    if not text or any(c.isspace() or not c.isprintable() for c in text):
        raise ConfigError(
            "webpoda-token must be non-empty printable text without spaces",
            "`imap webpoda login` asks for the PODA user and password and stores it.",
        )
    return text


@dataclass(frozen=True)
class Key:
    """One setting: its name, environment variable, default and check."""

    name: str
    env: str
    default: Callable[[], Any]
    check: Callable[[Any], Any]
    secret: bool = False
    help: str = ""


KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("data-dir", "IMAP_DATA_DIR", _default_data_dir, _check_data_dir, help="where files go"),
        Key("url", "IMAP_DATA_ACCESS_URL", lambda: DEFAULT_URL, _check_url, help="SDC API URL"),
        Key("api-key", "IMAP_API_KEY", lambda: None, _check_secret, True, "SDC API key"),
        Key("jobs", "IMAP_JOBS", lambda: 8, _int_in(1, 64, "jobs"), help="parallel transfers"),
        Key("timeout", "IMAP_TIMEOUT", lambda: 60.0, _check_timeout, help="read timeout, s"),
        Key(
            "retries",
            "IMAP_RETRIES",
            lambda: 5,
            _int_in(0, MAX_RETRIES, "retries"),
            help="HTTP retries",
        ),
        Key("ca-bundle", "IMAP_CA_BUNDLE", lambda: None, _check_ca_bundle, help="CA bundle"),
        # PODA (`imap webpoda`): LASP's packet service, its own origin and credential
        Key(
            "webpoda-url",
            "IMAP_WEBPODA_URL",
            lambda: WEBPODA_URL,
            _check_webpoda_url,
            help="PODA .../dap2/apids URL",
        ),
        Key(
            "webpoda-token",
            "IMAP_WEBPODA_TOKEN",
            lambda: None,
            _check_webpoda_token,
            True,
            "PODA credentials (base64 of user:password)",
        ),
    )
}


def unknown_key(name: str) -> ConfigError:
    """The error for a key that does not exist, with a did-you-mean."""
    close = difflib.get_close_matches(name, list(KEYS), n=1)
    hint = f"Did you mean {close[0]!r}? " if close else ""
    return ConfigError(
        f"unknown setting {name!r}; settings are: {', '.join(sorted(KEYS))}",
        hint + terminal("config-show", ""),
    )


def check_value(name: str, raw: Any) -> Any:
    """Validate and normalise one setting's value; raise ConfigError naming the problem."""
    if name not in KEYS:
        raise unknown_key(name)
    return KEYS[name].check(raw)


def mask(secret: str | None) -> str:
    """Hide a secret except its last four characters: `****efgh`."""
    if not secret:
        return ""
    return "****" + secret[-4:] if len(secret) > 8 else "****"


def read_file(path: Path) -> dict[str, Any]:
    """Read the TOML config file; a missing file is empty, a broken one is a ConfigError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError as exc:
        raise ConfigError(f"config file {path} is a directory") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not valid TOML: {exc}",
            f"Fix or delete {path}{terminal('config-set-wont', '')}.",
        ) from exc
    return table


def write_file(path: Path, table: Mapping[str, Any]) -> None:
    """Write the config atomically (temp file + os.replace), file 0600, folder 0700."""
    try:
        _write_file(path, table)
    except OSError as exc:
        raise ConfigError(
            f"cannot write config file {path}: {exc.strerror or exc}",
            f"Check that {path.parent} is a writable folder, or point IMAP_CLI_CONFIG elsewhere.",
        ) from None


def _write_file(path: Path, table: Mapping[str, Any]) -> None:
    import tomli_w

    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
    text = tomli_w.dumps(dict(sorted(table.items())))
    fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):  # best effort where files have no modes
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_readable_by_others(path: Path) -> bool:
    """True when a POSIX config file can be read by group or others (not meaningful on Windows)."""
    if os.name == "nt":
        return False
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))


@dataclass(frozen=True)
class Settings:
    """Resolved settings; `origins` says where each value came from."""

    data_dir: Path
    url: str
    api_key: str | None
    access_token: str | None
    jobs: int
    timeout: float
    retries: int
    ca_bundle: str | None
    config_path: Path
    origins: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # Paths given relative (`IMAP_DATA_DIR=./imap-data`), as given, by setting: each was made
    # absolute against the folder this process started in, so it moves with `cd`.
    relative: Mapping[str, str] = field(default_factory=dict)
    webpoda_url: str = WEBPODA_URL
    webpoda_token: str | None = None

    def __repr__(self) -> str:
        # Secrets masked: a settings object gets printed, logged and shown in notebooks.
        shown = ", ".join(
            f"{name}={mask(value) if value and name in ('api_key', 'access_token') else value!r}"
            for name, value in (
                (f, getattr(self, f)) for f in ("data_dir", "url", "api_key", "access_token")
            )
        )
        rest = ", ".join(
            f"{f}={getattr(self, f)!r}" for f in ("jobs", "timeout", "retries", "ca_bundle")
        )
        return f"Settings({shown}, {rest})"

    __str__ = __repr__

    def value(self, name: str) -> Any:
        """A setting's value by its config key (`data-dir`, ...)."""
        if name not in KEYS:
            raise unknown_key(name)
        return getattr(self, name.replace("-", "_"))

    def rows(self) -> list[tuple[str, str, str]]:
        """(key, display value with secrets masked, origin) for every setting."""
        out = []
        for name, key in KEYS.items():
            value = self.value(name)
            shown = mask(value) if key.secret else ("" if value is None else str(value))
            out.append((name, shown, self.origins.get(name, "default")))
        out.append(("access-token", mask(self.access_token), self.origins.get("access-token", "")))
        return out


def resolve(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    given_as: str = "flag",
) -> Settings:
    """Merge defaults < file < environment < flags; validate every value and record its origin.

    `given_as` names where `flags` came from in origins and messages (a Python caller's
    values are arguments, not flags).
    """
    env = os.environ if env is None else env
    flags = flags or {}
    path = config_path or default_config_path(env)
    table = read_file(path)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    relative: dict[str, str] = {}
    for name, key in KEYS.items():
        if flags.get(name) is not None:
            raw, origin = flags[name], given_as
        elif env.get(key.env):
            raw, origin = env[key.env], f"env:{key.env}"
        elif name in table:
            raw, origin = table[name], str(path)
        else:
            values[name], origins[name] = key.default(), "default"
            continue
        try:
            values[name] = key.check(raw)
        except ConfigError as exc:
            raise ConfigError(f"{exc.template} (from {origin})", exc.hint_template) from None
        origins[name] = origin
        if name == "data-dir" and not Path(str(raw).strip()).expanduser().is_absolute():
            relative[name] = str(raw).strip()
    for extra in sorted(set(table) - set(KEYS)):
        raise ConfigError(
            f"config file {path} has an unknown setting {extra!r}; settings are: "
            f"{', '.join(sorted(KEYS))}",
            f"Remove it from {path}.",
        )
    token = env.get(TOKEN_ENV) or None
    if token:
        origins["access-token"] = f"env:{TOKEN_ENV}"
    warnings = []
    for secret, what in (("api-key", "an API key"), ("webpoda-token", "PODA credentials")):
        if secret in table and file_readable_by_others(path):
            warnings.append(
                f"{path} holds {what} and is readable by other users; run: chmod 600 {path}"
            )
    return Settings(
        data_dir=Path(values["data-dir"]),
        url=values["url"],
        api_key=values["api-key"],
        access_token=token,
        jobs=values["jobs"],
        timeout=values["timeout"],
        retries=values["retries"],
        ca_bundle=values["ca-bundle"],
        config_path=path,
        origins=origins,
        warnings=tuple(warnings),
        relative=relative,
        webpoda_url=values["webpoda-url"],
        webpoda_token=values["webpoda-token"],
    )


def set_value(path: Path, name: str, raw: Any) -> Any:
    """Validate and store one setting in the config file; returns the stored value."""
    value = check_value(name, raw)
    table = read_file(path)  # raises before anything is written if the file is broken
    table[name] = value
    write_file(path, table)
    return value


def unset_value(path: Path, name: str) -> bool:
    """Remove one setting from the config file; False when it was not set there."""
    if name not in KEYS:
        table = read_file(path)
        if name not in table:
            raise unknown_key(name)
    table = read_file(path)
    if name not in table:
        return False
    del table[name]
    write_file(path, table)
    return True


def relative_note(settings: Settings, name: str = "data-dir") -> str:
    """Where a setting given as a relative path resolves, and why that matters; "" when it was
    given absolute."""
    given = settings.relative.get(name)
    if not given:
        return ""
    return (
        f"{name} {given!r} (from {settings.origins.get(name)}) is relative: it resolves against "
        f"the current folder, here {settings.value(name)}, and moves with `cd`"
    )
