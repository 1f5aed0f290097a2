"""`imap webpoda` at the terminal: login, the usage errors, the settings."""

from __future__ import annotations

import base64
import io
import os
import re
import stat

import pytest

from imap_cli.cli.output import Output, Streams
from imap_cli.cli.progress import DaysProgress, days_in_flight
from imap_cli.core.webpoda import WebpodaProgress


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


# --- the progress bar ---------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def webpoda_output(*, tty: bool, **kw) -> tuple[Output, io.StringIO]:
    err = io.StringIO()
    streams = Streams(stdout=io.StringIO(), stderr=err, stderr_tty=tty, stdout_tty=False, env={})
    output = Output(streams, **kw)
    output.console.width = 100
    return output, err


def drive(bar: DaysProgress) -> None:
    """A three-day run as core.webpoda reports it: finding, fetching, one day failing."""
    bar(WebpodaProgress("finding", None))
    bar(WebpodaProgress("fetching", 3))
    bar(WebpodaProgress("fetching", 3, current=("20251001", "20251002", "20251003")))
    bar(WebpodaProgress("fetching", 3, received=700_000, current=("20251001", "20251002")))
    bar(WebpodaProgress("fetching", 3, done=3, failed=1, received=2_500_000))


def shown(err: io.StringIO) -> str:
    return ANSI.sub("", err.getvalue())


def test_the_bar_shows_days_bytes_and_the_days_in_flight() -> None:
    output, err = webpoda_output(tty=True)
    with DaysProgress(output) as bar:
        bar(WebpodaProgress("finding", None))
        bar._progress.refresh()  # draw now what the refresh thread would draw soon
        assert "Finding the days with packets" in shown(err)
        bar(WebpodaProgress("fetching", 3, current=("20251001", "20251002", "20251003")))
        bar(WebpodaProgress("fetching", 3, received=700_000, current=("20251001", "20251002")))
        bar._progress.refresh()
        text = shown(err)
        assert "Fetching days 0/3" in text and "700.0 kB" in text
        assert "20251001, 20251002" in text
        bar(WebpodaProgress("fetching", 3, done=1, received=800_000, current=("20251002",) * 4))
        bar._progress.refresh()
        assert "+2" in shown(err)  # more days in flight than named are counted
        drive(bar)
    text = shown(err)
    assert "Fetching days 3/3, 1 failed" in text and "2.5 MB" in text
    assert re.search(r"\d:\d\d:\d\d", text)  # the time elapsed


def test_pointings_are_counted_as_pointings_and_uploads_are_named() -> None:
    output, err = webpoda_output(tty=True)
    with DaysProgress(output, "pointings") as bar:
        bar(WebpodaProgress("fetching", 2, done=2, received=10, current=()))
        bar._progress.refresh()
        assert "Fetching pointings 2/2" in shown(err) and "10 bytes" in shown(err)
        bar(WebpodaProgress("uploading", 2, done=2, received=10, uploading=1))
    assert "Uploading 1 file to the SDC" in shown(err)


def test_the_day_lines_print_above_the_bar_with_v() -> None:
    output, err = webpoda_output(tty=True, verbose=1)
    with DaysProgress(output) as bar:
        bar(WebpodaProgress("fetching", 2, current=("20251001",)))
        output.detail("2025-10-01: new (the SDC has no L0 file for it)")
        bar(WebpodaProgress("fetching", 2, done=1, received=5))
    text = shown(err)
    assert "2025-10-01: new (the SDC has no L0 file for it)" in text
    assert "Fetching days 1/2" in text


@pytest.mark.parametrize(("tty", "quiet"), [(False, False), (True, True)])
def test_no_bar_in_a_pipe_or_with_q(tty: bool, quiet: bool) -> None:
    output, err = webpoda_output(tty=tty, quiet=quiet)
    with DaysProgress(output) as bar:
        drive(bar)
    assert err.getvalue() == ""


def test_the_days_in_flight_give_way_on_a_narrow_terminal() -> None:
    days = ("20251001-repoint00012", "20251002-repoint00013", "20251003-repoint00014")
    assert days_in_flight(days, 100) == "20251001-repoint00012, 20251002-repoint00013 +1"
    assert days_in_flight(days, 30) == "20251001-repoint00012 +2"
    assert days_in_flight(days, 12) == "3 in flight"
    assert days_in_flight(days, 5) == ""
    assert days_in_flight((), 100) == ""
    for width in (60, 80):
        output, err = webpoda_output(tty=True)
        output.console.width = width
        with DaysProgress(output, "pointings") as bar:
            bar(WebpodaProgress("fetching", 123, done=45, failed=2, received=10**8, current=days))
        line = next(x for x in reversed(shown(err).splitlines()) if "Fetching" in x)
        assert "Fetching pointings 45/123, 2 failed" in line and "100.0 MB" in line
        assert re.search(r"\d:\d\d:\d\d$", line.rstrip())  # the time elapsed, whole


def test_ctrl_c_under_the_bar_still_says_what_was_kept(imap, monkeypatch):
    import functools

    from imap_cli.cli import output
    from imap_cli.core import webpoda

    def interrupted(*args, on_progress, **kw):
        on_progress(WebpodaProgress("fetching", 5, done=1, received=4000, current=("20251002",)))
        raise KeyboardInterrupt

    monkeypatch.setattr(webpoda, "make_files", interrupted)
    monkeypatch.setattr(output, "Streams", functools.partial(output.Streams, stderr_tty=True))
    ran = imap("webpoda", "-i", "mag", "-s", "20251001", "-e", "20251005", env={"COLUMNS": "100"})
    assert ran.code == 130
    text = shown(io.StringIO(ran.err.replace("\r", "\n")))
    assert "Fetching days 1/5" in text  # the bar was drawn, and is gone before the note
    assert text.rstrip().endswith("Interrupted: no file was left half written.")
