"""The hint table: every failure kind has its advice, and the more precise hint wins."""

from __future__ import annotations

from imap_cli.cli.hints import HINTS, hint_for
from imap_cli.core import errors
from imap_cli.core.errors import Failure


def test_every_failure_kind_has_a_hint() -> None:
    assert set(HINTS) == set(Failure)
    assert "imap-sdc@lasp.colorado.edu" in HINTS[Failure.OUTAGE]
    assert "ca-bundle" in HINTS[Failure.CERTIFICATE]


def test_the_table_gives_the_hint_for_a_kind() -> None:
    assert hint_for(errors.TLSError("x")) == HINTS[Failure.CERTIFICATE]
    assert hint_for(errors.Refused("x", status=403)) == HINTS[Failure.CREDENTIALS]
    error = errors.ConnectionFailed("x", kind=Failure.DNS)
    assert hint_for(error) == HINTS[Failure.DNS]
    # A kind given at the raise wins over the hint the raiser also wrote for library users.
    error = errors.Refused("x", "library words", kind=Failure.NOT_RELEASED)
    assert hint_for(error) == HINTS[Failure.NOT_RELEASED]


def test_a_hint_written_for_one_case_beats_the_general_one() -> None:
    error = errors.Refused("x", "The SDC accepts uploads with an API key")
    assert hint_for(error) == "The SDC accepts uploads with an API key"
    # no kind: the class's hint, in the terminal's words
    assert hint_for(errors.BadRequest("x")) == (
        "Check the values you passed; `imap query --help` lists the valid ones."
    )
    assert hint_for(None) == ""
