"""core.doctor's checks that need no server: data dir space, masking, the config file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from imap_cli.core import doctor
from imap_cli.core.doctor import Status
from imap_cli.core.settings import resolve


def test_little_free_space_is_a_warning_with_a_fix(tmp_path: Path, monkeypatch) -> None:
    settings = replace(resolve(), data_dir=tmp_path)
    assert doctor.check_data_dir(settings).status is Status.OK
    monkeypatch.setattr(doctor, "LOW_SPACE", 1 << 62)  # more than any disk has free
    check = doctor.check_data_dir(settings)
    assert check.status is Status.WARNING and "free" in check.detail and check.fix


def test_a_data_dir_that_does_not_exist_yet_is_fine(tmp_path: Path) -> None:
    check = doctor.check_data_dir(replace(resolve(), data_dir=tmp_path / "a" / "b"))
    assert check.status is Status.OK and "will be created" in check.detail
    assert not (tmp_path / "a").exists()  # the doctor looks, it does not create


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://ana:s3cret@proxy:3128", "http://ana:****@proxy:3128"),
        ("http://proxy:3128", "http://proxy:3128"),
        ("http://ana:@proxy", "http://ana:****@proxy"),
    ],
)
def test_proxy_passwords_are_masked(url: str, shown: str) -> None:
    assert doctor.hide_password(url) == shown


def test_the_proxy_check_names_the_variables_and_masks_them(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://ana:s3cret@proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    settings = replace(resolve(), url="https://api.imap-mission.com")
    check = doctor.check_proxy(settings)
    assert "through http://ana:****@proxy.example:3128" in check.detail
    assert "NO_PROXY=internal.example" in check.detail and "s3cret" not in str(check)
    # The SDC on this machine is never proxied.
    check = doctor.check_proxy(replace(settings, url="http://127.0.0.1:8765"))
    assert check.detail.startswith("direct connection")


def test_a_missing_config_file_is_fine_and_a_broken_one_is_a_problem(config_file: Path) -> None:
    assert doctor.check_config_file().status is Status.OK
    config_file.parent.mkdir(parents=True)
    config_file.write_bytes(b"\xff\xfe")
    check = doctor.check_config_file()
    assert check.status is Status.PROBLEM and "not UTF-8" in check.detail
