"""core.recent: the recent-keys cache that `imap download` completion reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from imap_cli.core import recent
from imap_cli.core.recent import recent_keys, remember_keys


def test_newest_first_without_duplicates_and_capped(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "recent-keys.txt"
    remember_keys(["a", "b", "c"], path=path)
    remember_keys(["d", "b"], path=path, limit=4)
    assert recent_keys(path) == ["d", "b", "a", "c"]
    remember_keys([f"k{i}" for i in range(10)], path=path, limit=5)
    assert recent_keys(path) == ["k0", "k1", "k2", "k3", "k4"]
    assert [p.name for p in path.parent.iterdir()] == ["recent-keys.txt"]  # no temp left


def test_lines_with_breaks_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "recent-keys.txt"
    remember_keys(["ok", "bad\nkey", "", "bad\rkey"], path=path)
    assert path.read_text() == "ok\n"


def test_failures_are_ignored(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    remember_keys(["a"], path=blocker / "sub" / "recent-keys.txt")  # parent is a file
    assert recent_keys(blocker / "sub" / "recent-keys.txt") == []
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    assert recent_keys(tmp_path / "binary") == []


def test_default_path_is_the_user_cache_folder(isolated_settings: Path) -> None:
    assert recent.recent_keys_path() == isolated_settings / "cache" / "imap-cli" / "recent-keys.txt"
    remember_keys(["imap/mag/l1a/2025/10/x.cdf"])
    assert recent_keys() == ["imap/mag/l1a/2025/10/x.cdf"]


def test_importing_it_stays_light() -> None:
    code = (
        "import sys, imap_cli.core.recent; "
        "heavy = {'requests', 'rich', 'typer', 'imap_cli.core.query', 'platformdirs'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
