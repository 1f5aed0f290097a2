"""`imap_cli.config`: the official client's config names over our settings, for this process."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from imap_cli.core import settings as _settings

# The official client's config names -> our setting keys.
_CONFIG_NAMES = {
    "DATA_DIR": "data-dir",
    "DATA_ACCESS_URL": "url",
    "API_KEY": "api-key",
    "ACCESS_TOKEN": "access-token",
    "WEBPODA_TOKEN": "webpoda-token",
}


_SECRETS = {"API_KEY": "api_key", "ACCESS_TOKEN": "access_token", "WEBPODA_TOKEN": "webpoda_token"}
_MASKED = {"API_KEY", "ACCESS_TOKEN", "WEBPODA_TOKEN"}


class _Config(MutableMapping[str, Any]):
    """`imap_cli.config["DATA_DIR"]`, like the official client: reads resolved settings,
    assignment overrides them for this process.

    Keys: DATA_DIR, DATA_ACCESS_URL, API_KEY, ACCESS_TOKEN, WEBPODA_TOKEN. Secrets are masked
    in its repr.

    Examples
    --------
    >>> imap_cli.config["DATA_DIR"] = "/data/imap"  # doctest: +SKIP
    >>> imap_cli.config["DATA_ACCESS_URL"]  # doctest: +SKIP
    'https://api.imap-mission.com'
    """

    def __init__(self) -> None:
        self._overrides: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in _CONFIG_NAMES:
            raise KeyError(name)
        if name in self._overrides:
            return self._overrides[name]
        resolved = self.settings()
        if name == "ACCESS_TOKEN":
            return resolved.access_token
        return resolved.value(_CONFIG_NAMES[name])

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in _CONFIG_NAMES:
            raise KeyError(f"{name!r}: config keys are {', '.join(_CONFIG_NAMES)}")
        key = _CONFIG_NAMES[name]
        if value is None and name not in _SECRETS:
            # No data dir or URL at all makes no sense: None means "back to the resolved value".
            self._overrides.pop(name, None)
            return
        if value is not None and key != "access-token":
            value = _settings.check_value(key, value)
            if key == "data-dir":
                value = Path(value)
        self._overrides[name] = value

    def __delitem__(self, name: str) -> None:
        del self._overrides[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_CONFIG_NAMES)

    def __len__(self) -> int:
        return len(_CONFIG_NAMES)

    def __repr__(self) -> str:
        shown = {}
        for name in _CONFIG_NAMES:
            value = self[name]
            shown[name] = _settings.mask(value) if name in _MASKED else value
        return f"imap_cli.config({shown})"

    __str__ = __repr__

    def settings(self, **flags: Any) -> _settings.Settings:
        """Resolve settings with this process's overrides, then `flags`, applied as flags.

        A secret overridden with None means "no credential", whatever the environment says.
        """
        from dataclasses import replace

        known = {*_settings.KEYS, "access-token"}
        unknown = sorted(set(flags) - known)
        if unknown:
            raise TypeError(f"unknown setting(s) {unknown}; valid: {', '.join(sorted(known))}")
        merged = {
            _CONFIG_NAMES[k]: v
            for k, v in self._overrides.items()
            if v is not None and k != "ACCESS_TOKEN"
        }
        merged.update({k: v for k, v in flags.items() if v is not None})
        token = merged.pop("access-token", None)
        resolved = _settings.resolve(flags=merged, given_as="argument")
        secrets = {
            field: self._overrides[name]
            for name, field in _SECRETS.items()
            if name in self._overrides and self._overrides[name] is None
        }
        if "ACCESS_TOKEN" in self._overrides:
            secrets["access_token"] = self._overrides["ACCESS_TOKEN"]
        if token is not None:
            secrets["access_token"] = token
        return replace(resolved, **secrets) if secrets else resolved


config = _Config()
