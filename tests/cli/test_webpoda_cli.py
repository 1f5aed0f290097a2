"""`imap webpoda` at the terminal: login, the usage errors, the settings."""

from __future__ import annotations

import base64
import os
import re
import stat

import pytest


def test_login_stores_the_encoded_credentials_privately(imap, config_file):
    ran = imap("webpoda", "login", stdin="alice\nse:cret\n")
    assert ran.code == 0, ran.err
    assert "se:cret" not in ran.out + ran.err
    text = config_file.read_text()
    token = base64.b64encode(b"alice:se:cret").decode()
    assert f'webpoda-token = "{token}"' in text
    if os.name != "nt":
        assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    shown = imap("config", "show", "-o", "json")
    assert token not in shown.out and "webpoda-token" in shown.out


def test_login_refuses_an_empty_user(imap, config_file):
    ran = imap("webpoda", "login", stdin="\n\nx\n")
    assert ran.code != 0
    assert not config_file.exists()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ((), "--instrument"),
        (("-i", "mag"), "--start-date"),
        (("-i", "l1const", "-s", "20251001"), "instrument"),
        (("-i", "mag", "-s", "20251001", "--query-mode", "x"), "query mode"),
        (("-i", "mag", "-s", "20251001", "--apids", "abc"), "--apids"),
        (("-i", "mag", "-s", "20251001", "-o", "csv"), "output format"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(imap, argv, says):
    ran = imap("webpoda", *argv, env={"IMAP_WEBPODA_TOKEN": "eDp5"})
    assert ran.code == 2, ran.err
    assert says in ran.err
    assert ran.err.count("Error:") == 1


def test_a_bad_webpoda_url_setting_is_exit_2(imap):
    ran = imap("webpoda", "-i", "mag", "-s", "20251001", env={"IMAP_WEBPODA_URL": "ftp://x"})
    assert ran.code == 2 and "webpoda-url" in ran.err


def test_help_lists_the_options(imap):
    ran = imap("webpoda", "--help")
    assert ran.code == 0
    for option in ("--query-mode", "--upload", "--dry-run", "--apids", "--sid", "--webpoda-url"):
        assert option in ran.out


def test_a_bad_query_mode_has_a_hint_in_the_terminal_words(imap):
    ran = imap("webpoda", "-i", "mag", "-s", "20251001", "--query-mode", "x")
    assert ran.code == 2
    assert "Hint: For example: --query-mode sct" in ran.err


def test_dry_run_help_says_it_fetches_and_compares(imap):
    ran = imap("webpoda", "--help", env={"COLUMNS": "200"})
    # the option's row (the description above it mentions --dry-run too)
    line = next(x for x in ran.out.splitlines() if re.search(r"--dry-run +-n ", x))
    assert "Fetch the packets from PODA and compare them with the SDC" in line
    assert "write and upload nothing" in line
    assert "transfer nothing" not in ran.out
    # the shared help is unchanged where it is right
    assert "transfer nothing" in imap("download", "--help", env={"COLUMNS": "200"}).out
