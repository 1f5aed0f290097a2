"""Completion offers what the command accepts: for each option with a vocabulary, the values a
TAB offers are the values its validator takes (from the same lists), and a value-taking option
that is not a path never falls back to local files with nothing of its own."""

from __future__ import annotations

import pytest

from imap_cli.cli import completers
from imap_cli.cli.completion_spec import SPEC
from imap_cli.cli.tab import candidates
from imap_cli.core import jobs, metakernel, naming, query, settings
from imap_cli.core.errors import UsageError


def offered(*args: str) -> set[str]:
    return {value for value, _help in candidates(SPEC, list(args), "")}


def accepted(check, values) -> set[str]:
    """The values `check` takes without a UsageError."""
    taken = set()
    for value in values:
        try:
            check(value)
        except UsageError:
            continue
        taken.add(value)
    return taken


@pytest.mark.parametrize(
    ("args", "valid"),
    [
        (["query", "--table"], set(query.TABLES)),
        (["query", "--instrument"], set(naming.INSTRUMENTS)),
        (["query", "--data-level"], set(naming.DATA_LEVELS)),
        (["jobs", "--instrument"], set(naming.INSTRUMENTS)),
        (["metakernel", "--type"], set(metakernel.kernel_types())),
        (["config", "get"], set(settings.KEYS)),
        (["query", "-o"], set(completers.FORMATS)),
        (["release", "-o"], set(completers.FORMATS)),
        (["jobs", "-o"], {"table", "json", "csv"}),
        (["sync", "-o"], {"text", "json"}),
        (["config", "show", "-o"], {"table", "json"}),
        (["doctor", "-o"], {"text", "json"}),
        (["metakernel", "-o"], {"tm", "json"}),
        (["webpoda", "--query-mode"], {"ert", "sct"}),
        (["webpoda", "--sid"], {"SID1", "SID2", "SID3"}),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_a_tab_offers_exactly_what_the_option_accepts(args, valid) -> None:
    assert offered(*args) == valid


def test_spice_types_offered_are_those_query_accepts_less_old_names() -> None:
    got = offered("query", "--table", "spice", "--type")
    assert "small-forces" in got and "thruster" not in got
    assert got | set(query.OLD_TYPE_NAMES) == set(query.kernel_types())
    assert {v for v, _ in candidates(SPEC, ["query", "--type"], "sm")} == {"small-forces"}


def test_metakernel_offers_no_type_it_refuses() -> None:
    got = offered("metakernel", "--type")
    assert not got & {"spin", "repoint", "thruster", "small-forces", "metakernel"}
    refused = accepted(lambda v: metakernel.plan_metakernel(start_date="20251001", types=[v]), got)
    assert refused == got  # every value offered is taken


def test_job_statuses_offered_are_taken_and_cover_every_status() -> None:
    got = offered("jobs", "--status")
    assert accepted(jobs.check_status, got) == got
    assert {jobs.check_status(v) for v in got} == set(jobs.STATUSES)


def test_descriptors_come_from_recent_results_not_files(monkeypatch) -> None:
    keys = [
        "imap/mag/l1a/2025/10/imap_mag_l1a_norm-mago_20251001_v001.0001.cdf",
        "imap/swe/l2/2025/10/imap_swe_l2_sci_20251001_v001.0000.cdf",
    ]
    monkeypatch.setattr("imap_cli.core.recent.recent_keys", lambda: keys)
    assert offered("query", "-d") == {"norm-mago", "sci"}
    assert offered("query", "-i", "mag", "-d") == {"norm-mago"}
    assert offered("jobs", "-d") == {"norm-mago", "sci"}
