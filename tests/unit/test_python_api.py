"""The Python API as a scientist meets it (issue 25): visible to tools, Python's errors, masked
secrets, logging, DataFrames, and inputs that fit outputs. HTTP faked with `responses`."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import responses

import imap_cli
from imap_cli import _inputs
from imap_cli._config import _Config
from imap_cli.core.transfer import FileResult, TransferError
from imap_cli.results import Downloaded, QueryResult, Uploaded

SDC = "https://sdc.example"
MAG = "imap_mag_l1b_norm-mago_20251001_v001.0002.cdf"
MAG_KEY = f"imap/mag/l1b/2025/10/{MAG}"
PUBLIC = [
    "query",
    "spice_query",
    "download",
    "download_many",
    "upload",
    "upload_many",
    "sync",
    "reprocess",
    "release",
    "jobs",
    "job_logs",
    "metakernel",
    "coverage",
    "parse_name",
    "build_name",
]


def row(name: str = MAG, **fields) -> dict:
    parsed = imap_cli.parse_name(name)
    return {
        "file_path": parsed.key,
        "instrument": parsed.instrument,
        "data_level": parsed.data_level,
        "descriptor": parsed.descriptor,
        "start_date": parsed.start_date,
        "version": parsed.version,
        "ingestion_date": "20251002 13:24:47",
        **fields,
    }


# --- visible to tools ---------------------------------------------------------------------------


def test_dir_lists_the_api_and_not_the_modules_helpers() -> None:
    names = dir(imap_cli)
    for name in [*PUBLIC, "Client", "config", "errors", "IMAPError", "TransferError"]:
        assert name in names
    assert "Any" not in names and "annotations" not in names and "TYPE_CHECKING" not in names
    assert all(hasattr(imap_cli, name) for name in imap_cli.__all__)


def test_dir_imports_nothing_heavy() -> None:
    code = (
        "import sys, imap_cli; d = dir(imap_cli); "
        "print('query' in d, 'requests' in sys.modules, 'imap_cli.api' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_function_spells_out_its_parameters_and_documents_them(name: str) -> None:
    func = getattr(imap_cli, name)
    params = inspect.signature(func).parameters.values()
    assert not any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in params)
    doc = inspect.getdoc(func) or ""
    assert "Returns\n-------" in doc and "Examples\n--------" in doc
    documented = [p.name for p in params]
    assert all(p in doc for p in documented), name


def test_client_methods_spell_out_their_parameters() -> None:
    for name, method in inspect.getmembers(imap_cli.Client, inspect.isfunction):
        if name.startswith("_") and name != "__init__":
            continue
        params = inspect.signature(method).parameters.values()
        assert not any(p.kind is p.VAR_KEYWORD for p in params), name
        if name in ("__init__", "close"):
            continue
        doc = inspect.getdoc(method) or ""
        assert "Examples\n--------" in doc and "Returns\n-------" in doc, name
        named = [p.name for p in params if p.name != "self"]
        assert not named or "Parameters\n----------" in doc, name
        assert all(f"{p} :" in doc or f"{p}," in doc for p in named), name
    assert "Examples" in (inspect.getdoc(imap_cli.Client) or "")


def test_the_wheel_says_it_is_typed() -> None:
    assert (Path(imap_cli.__file__).parent / "py.typed").is_file()
    pyproject = (Path(imap_cli.__file__).parents[1] / "pyproject.toml").read_text()
    assert "py.typed" in pyproject


# --- Python's errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "meant"),
    [
        (lambda: imap_cli.query(instrumnet="mag"), "instrument"),
        (lambda: imap_cli.sync(latest=True), "latest_only"),
        (lambda: imap_cli.Client(jbos=3), "jobs"),
        (lambda: imap_cli.download_many([], dryrun=True), "dry_run"),
    ],
)
def test_an_unknown_keyword_is_a_type_error_that_says_what_was_meant(call, meant) -> None:
    with pytest.raises(TypeError, match=f"did you mean '{meant}'") as caught:
        call()
    assert isinstance(caught.value, imap_cli.errors.UnknownKeyword)
    assert isinstance(caught.value, imap_cli.IMAPError)


def test_a_bad_value_is_a_value_error_with_its_hint_in_the_traceback() -> None:
    with pytest.raises(ValueError) as caught:
        imap_cli.query(instrument="mag", data_level="l9")
    error = caught.value
    assert isinstance(error, imap_cli.errors.UsageError)
    assert error.hint and f"Hint: {error.hint}" in error.__notes__
    shown = "".join(traceback.format_exception(error))
    assert "Hint: " in shown and "--data-level" not in shown


@pytest.mark.parametrize(
    "make",
    [
        lambda: imap_cli.Client(jobs=1000),
        lambda: imap_cli.Client(url="ftp://nowhere"),
        lambda: imap_cli.Client(timeout=-1),
        lambda: imap_cli.Client(data_dir=""),
    ],
)
def test_client_settings_errors_read_in_python_terms(make) -> None:
    with pytest.raises(ValueError) as caught:
        make()
    error = caught.value
    text = f"{error} {error.hint}"
    assert "imap config" not in text and "(from flag)" not in text and "--" not in text
    assert "(from argument)" in str(error)


def test_the_errors_module_holds_the_whole_tree() -> None:
    from imap_cli import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert name == "Failure" or issubclass(cls, errors.IMAPError), name
    assert issubclass(errors.InvalidNames, ValueError)
    assert issubclass(errors.TransferError, errors.IMAPError)
    assert "TransferError" in dir(errors) and "Any" not in dir(errors)


def test_transfer_error_names_every_failure_and_carries_every_result() -> None:
    failures = [
        FileResult(
            f"imap/mag/l1b/2025/10/file{i}.cdf",
            "failed",
            error=imap_cli.errors.NotFound("download: 404 Not Found", status=404),
        )
        for i in range(5)
    ]
    done = FileResult(MAG_KEY, "downloaded", Path("/data") / MAG_KEY, 10)
    error = TransferError("download", [done, *failures])
    assert str(error).startswith("5 of 6 files failed to download: file0.cdf: download: 404")
    assert "and 2 more" in str(error)
    assert all(any(r.key in note for note in error.__notes__) for r in failures)
    assert error.results[0] is done and error.failures == failures
    # One cause for all: its own advice.
    assert error.hint == failures[0].error.hint


# --- results that fit inputs ---------------------------------------------------------------


def test_downloaded_lists_only_what_is_there() -> None:
    results = [
        FileResult("a", "downloaded", Path("/d/a"), 1),
        FileResult("b", "failed", None, error=imap_cli.errors.NotFound("nope")),
        FileResult("c", "skipped", Path("/d/c"), 1, reason="already present"),
        FileResult("d", "would-download", Path("/d/d")),
    ]
    got = Downloaded(results)
    assert got == [Path("/d/a"), Path("/d/c")]
    assert got.skipped == [Path("/d/c")] and got.planned == [Path("/d/d")]
    assert list(got.errors) == ["b"] and got.failed == ["b"] and not got.ok
    with pytest.raises(TransferError) as caught:
        got.raise_for_errors()
    assert caught.value.outcome is got


def test_retry_tries_only_the_failures_and_merges() -> None:
    asked = []

    def again(items):
        asked.append(items)
        return [FileResult(k, "downloaded", Path("/d") / k, 1) for k in items]

    first = Downloaded(
        [
            FileResult("a", "downloaded", Path("/d/a"), 1),
            FileResult("b", "failed", None, error=imap_cli.errors.NotFound("nope")),
        ],
        again,
    )
    second = first.retry()
    assert asked == [["b"]]
    assert second == [Path("/d/a"), Path("/d/b")] and second.ok


def test_uploaded_says_uploaded_or_already_there() -> None:
    got = Uploaded(
        [
            FileResult("k1", "uploaded", Path("f1")),
            FileResult("k2", "skipped", Path("f2"), reason="already in the SDC"),
        ]
    )
    assert got == ["k1", "k2"] and got.uploaded == ["k1"] and got.skipped == ["k2"]


def test_download_inputs_one_string_is_one_item(tmp_path: Path) -> None:
    assert _inputs.download_items(MAG) == [MAG]
    assert _inputs.download_items(Path("somewhere") / MAG) == [MAG]
    assert _inputs.download_items(tmp_path / MAG) == [str(tmp_path / MAG)]
    assert _inputs.download_items(row()) == [MAG_KEY]
    assert _inputs.download_items([row(), MAG, [MAG_KEY]]) == [MAG_KEY, MAG, MAG_KEY]
    spice = {"file_name": "naif0012.tls", "kernel_type": "leapseconds"}
    assert _inputs.download_items([spice]) == ["imap/spice/naif0012.tls"]
    assert _inputs.download_items(QueryResult([row()], data_dir=tmp_path)) == [MAG_KEY]
    with pytest.raises(ValueError, match="file_path or file_name"):
        _inputs.download_items({"instrument": "mag"})
    with pytest.raises(ValueError, match="cannot download int"):
        _inputs.download_items(12)


def test_download_inputs_from_pandas(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = QueryResult([row(), row(MAG.replace("20251001", "20251002"))], data_dir=tmp_path)
    df = frame.to_pandas()
    assert _inputs.download_items(df) == frame.keys
    assert _inputs.download_items(df.iloc[1]) == [frame.keys[1]]  # one row: one record
    assert _inputs.download_items(df["file_path"]) == frame.keys  # a column of keys
    with pytest.raises(ValueError, match="needs a file_path column; it has: a, b"):
        _inputs.download_items(pd.DataFrame({"a": [1], "b": [2]}))


def test_upload_inputs_one_string_is_one_path() -> None:
    assert _inputs.upload_paths("x/" + MAG) == [Path("x/" + MAG)]
    assert _inputs.upload_paths([Path("a"), "b"]) == [Path("a"), Path("b")]
    with pytest.raises(ValueError, match="cannot upload dict"):
        _inputs.upload_paths([{"file_path": MAG}])


def test_query_result_to_pandas_types(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    result = QueryResult(
        [row(), row("imap_mag_l1b_norm-mago_20251002_v002.cdf")], data_dir=tmp_path
    )
    df = result.to_pandas()
    assert str(df["start_date"].dt.tz) == "UTC"
    assert df["start_date"][0] == dt.datetime(2025, 10, 1, tzinfo=dt.timezone.utc)
    assert df["ingestion_date"][0] == dt.datetime(2025, 10, 2, 13, 24, 47, tzinfo=dt.timezone.utc)
    assert list(df["major_version"]) == [1, 2] and df["minor_version"][0] == 2
    assert str(df["major_version"].dtype) == "Int64"
    assert df["minor_version"].isna()[1]  # legacy vXXX: no minor part
    assert result.paths[0] == tmp_path / MAG_KEY and result.keys[0] == MAG_KEY
    assert result == [row(), row("imap_mag_l1b_norm-mago_20251002_v002.cdf")]  # still a list


def test_to_pandas_without_pandas_names_the_extra(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"imap-sdc-cli\[pandas\]"):
        QueryResult([row()], data_dir=tmp_path).to_pandas()


# --- secrets ---------------------------------------------------------------------------------


def test_no_repr_or_str_shows_a_secret(monkeypatch) -> None:
    secret, token = "secret-key-abcdefgh", "token-abcdefgh-123"
    client = imap_cli.Client(api_key=secret, access_token=token)
    config = _Config()
    config["WEBPODA_TOKEN"] = "webpoda-abcdefgh-xyz"
    for text in (repr(client), str(client), repr(client.settings), str(client.settings)):
        assert secret not in text and token not in text
        assert "****" in text
    assert "webpoda-abcdefgh-xyz" not in repr(config) and "webpoda" not in str(config)
    assert config["WEBPODA_TOKEN"] == "webpoda-abcdefgh-xyz"
    client.close()


# --- logging -------------------------------------------------------------------------------------


@responses.activate
def test_requests_log_at_info_and_retries_at_warning(caplog, monkeypatch) -> None:
    responses.get(f"{SDC}/query", status=503)
    responses.get(f"{SDC}/query", json=[row()])
    caplog.set_level(logging.INFO, logger="imap_cli")
    with imap_cli.Client(url=SDC, retries=2) as client:
        rows = client.query(instrument="mag")
    assert rows == [row()]
    retries = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(retries) == 1 and "503" in retries[0].getMessage()
    assert "retrying (1 of 2)" in retries[0].getMessage()
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(m.startswith(f"GET {SDC}/query -> 200") for m in infos)


def test_the_library_adds_only_a_null_handler() -> None:
    code = (
        "import imap_cli.core.http, logging; "
        "print([type(h).__name__ for h in logging.getLogger('imap_cli').handlers])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['NullHandler']"


# --- one vocabulary ------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [0, 1000, "many", True])
def test_jobs_is_checked_as_the_setting_is(jobs) -> None:
    with pytest.raises(ValueError, match=r"jobs must be a whole number 1\.\.64"):
        imap_cli.download_many([MAG], jobs=jobs)
    with pytest.raises(ValueError, match=r"jobs must be a whole number 1\.\.64"):
        imap_cli.Client(jobs=jobs)


def test_parse_name_and_build_name() -> None:
    name = imap_cli.parse_name(Path("/tmp") / MAG)
    assert (name.kind, name.instrument, name.level, name.descriptor) == (
        "science",
        "mag",
        "l1b",
        "norm-mago",
    )
    assert name.dates == (dt.date(2025, 10, 1), None)
    assert (name.version, name.major_version, name.minor_version) == ("v001.0002", 1, 2)
    assert name.key == MAG_KEY and name.repointing is None
    built = imap_cli.build_name(
        instrument="mag",
        data_level="l1b",
        descriptor="norm-mago",
        start_date=dt.date(2025, 10, 1),
        version="v001.0002",
    )
    assert built.name == MAG
    anc = imap_cli.build_name(
        instrument="mag",
        descriptor="l1b-cal",
        start_date="20250901",
        end_date="20251231",
        version="v001",
        extension="cdf",
    )
    assert anc.name == "imap_mag_l1b-cal_20250901_20251231_v001.cdf" and anc.kind == "ancillary"
    with pytest.raises(ValueError):
        imap_cli.build_name(instrument="mag", descriptor="x", start_date="20250901", version="v1")


def test_results_and_transfer_errors_cross_a_process_pool() -> None:
    import pickle

    failed = FileResult("b", "failed", None, error=imap_cli.errors.NotFound("b: 404", status=404))
    got = Downloaded([FileResult("a", "downloaded", Path("/d/a"), 1), failed], lambda k: [])
    back = pickle.loads(pickle.dumps(got))
    assert back == got and list(back.errors) == ["b"] and back.results[1].error.status == 404
    error = TransferError("download", got.results, got)
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.outcome == got and again.__notes__ == error.__notes__
    assert isinstance(again, imap_cli.errors.IMAPError) and again.failures[0].key == "b"
