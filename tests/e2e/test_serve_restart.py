"""`imap serve` across restarts: the kept catalogue re-indexes only what changed (new, replaced,
removed files), and released state survives (an unreleased upload stays 403)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests

from imap_cli.core.naming import parse
from imap_cli.server import start_server
from imap_cli.server.catalogue import Catalogue
from imap_cli.server.demo import build_demo
from imap_cli.server.store import FILE_NAME, STATE_DIR

KEY = "serve-key"
NEW = "imap_hit_l2_burst_20251010_v001.0000.cdf"


def settle(root: Path) -> None:
    """Make every folder and file look older than the racy window."""
    stamp = time.time() - 60
    for folder, _dirs, files in os.walk(root):
        for name in files:
            os.utime(Path(folder, name), (stamp, stamp))
        os.utime(folder, (stamp, stamp))


def paths(url: str, **params: str) -> list[str]:
    return [r["file_path"] for r in requests.get(f"{url}/query", params=params).json()]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    archive = tmp_path / "archive"
    build_demo(archive)
    settle(archive)
    return archive


def test_catalogue_is_kept_beside_the_archive_and_restarts_see_only_changes(root: Path):
    first = Catalogue(root, rescan_interval=None)
    report = first.update()
    assert (root / STATE_DIR / FILE_NAME).is_file()
    keys = first.served_keys()
    assert report.new == len(keys) > 10 and report.indexed == len(keys)

    # Nothing changed: no folder is re-listed.
    again = Catalogue(root, rescan_interval=None).update()
    assert (again.folders, again.new, again.changed, again.removed) == (0, 0, 0, 0)

    # A new file, a file replaced (as rsync does: a new file renamed over), a removed file.
    added = root / parse(NEW).key
    added.parent.mkdir(parents=True, exist_ok=True)
    added.write_bytes(b"new")
    replaced, removed = root / keys[0], root / keys[-1]
    temp = replaced.with_name(".tmp")
    temp.write_bytes(b"replaced, longer")
    temp.replace(replaced)
    removed.unlink()
    restarted = Catalogue(root, rescan_interval=None)
    report = restarted.update()
    assert (report.new, report.changed, report.removed) == (1, 1, 1)
    assert report.folders < 10  # only the changed folders (and the new ones) were listed
    assert sorted(restarted.served_keys()) == sorted([*keys[:-1], parse(NEW).key])
    entry = restarted.get(keys[0])
    assert entry is not None and entry.size == len(b"replaced, longer")


def test_a_file_rewritten_in_place_is_found_by_a_full_scan(root: Path):
    cat = Catalogue(root, rescan_interval=None)
    cat.update()
    key = cat.served_keys()[0]
    with open(root / key, "ab") as handle:  # in place: its folder's mtime does not change
        handle.write(b"more")
    report = Catalogue(root, rescan_interval=None).scan()
    assert (report.new, report.changed, report.removed) == (0, 1, 0)
    assert Catalogue(root, rescan_interval=None).get(key).size == (root / key).stat().st_size


def test_an_unreleased_upload_stays_unreleased_across_restarts(imap, root: Path, tmp_path: Path):
    key = parse(NEW).key
    with start_server(root, api_key=KEY) as server:
        put = requests.get(f"{server.url}/api-key/upload/{key}", headers={"x-api-key": KEY}).json()
        assert requests.put(put, data=b"science").status_code == 200
        assert (
            requests.get(f"{server.url}/download/{key}", allow_redirects=False).status_code == 403
        )
    # Restarted: still unreleased (never the unsafe direction), and not in public queries.
    with start_server(root, api_key=KEY) as server:
        refused = requests.get(f"{server.url}/download/{key}", allow_redirects=False)
        assert refused.status_code == 403
        assert key not in paths(server.url, instrument="hit")
        manifest = tmp_path / "imap_hit_data-release-007_20251001_20251031_v001.txt"
        manifest.write_text(
            "instrument, data_type, descriptor, release_flag\nhit, l2, burst, true\n"
        )
        runner = imap.against(server.url, data_dir=tmp_path / "data", retries=1, key=KEY)
        assert runner("release", "--yes", str(manifest))[0] == 0
    # Released state is kept too.
    with start_server(root, api_key=KEY) as server:
        assert (
            requests.get(f"{server.url}/download/{key}", allow_redirects=False).status_code == 302
        )
        assert key in paths(server.url, instrument="hit")


def test_a_read_only_archive_keeps_its_catalogue_in_the_cache_dir(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    if os.geteuid() == 0:
        pytest.skip("root writes everywhere")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for folder, _dirs, _files in os.walk(root):
        os.chmod(folder, 0o555)
    try:
        cat = Catalogue(root, rescan_interval=None)
        cat.update()
        assert not (root / STATE_DIR / FILE_NAME).exists()
        assert cat.store.path.is_relative_to(tmp_path / "cache")
        assert len(cat) > 10
    finally:
        for folder, _dirs, _files in os.walk(root):
            os.chmod(folder, 0o755)
