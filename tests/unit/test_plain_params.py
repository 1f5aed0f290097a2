"""Parameters converted by cli/plain_params.py give what Typer's own conversion gives."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
import typer

from imap_cli.cli.plain_params import lighten

seen: dict = {}


def _command() -> object:
    app = typer.Typer(add_completion=False)

    @app.command()
    def run(
        names: Annotated[list[str], typer.Argument()],
        jobs: Annotated[int, typer.Option("-j", min=1, max=64)] = 8,
        timeout: Annotated[float, typer.Option(min=0)] = 1.5,
        force: Annotated[bool, typer.Option("--force")] = False,
        where: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
        label: Annotated[str | None, typer.Option()] = None,
    ) -> None:
        seen.update(names=names, jobs=jobs, timeout=timeout, force=force, where=where, label=label)

    return lighten(typer.main.get_command(app))


def run(*args: str) -> tuple[int, dict]:
    seen.clear()
    try:
        _command().main(list(args), standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code, dict(seen)
    except Exception as exc:  # click's usage errors, whichever click Typer carries
        return getattr(exc, "exit_code", 1), {"error": exc.format_message()}
    return 0, dict(seen)


def test_values_are_converted(tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_text("x")
    code, got = run("a", "b", "-j", "3", "--timeout", "2", "--force", "--where", str(file))
    assert code == 0
    assert got == {
        "names": ["a", "b"],
        "jobs": 3,
        "timeout": 2.0,
        "force": True,
        "where": file,
        "label": None,
    }
    assert isinstance(got["where"], Path) and isinstance(got["timeout"], float)


def test_defaults_stay_as_declared() -> None:
    code, got = run("a")
    assert code == 0 and got["jobs"] == 8 and got["force"] is False and got["label"] is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["a", "-j", "0"], ["0", "1<=x<=64"]),
        (["a", "-j", "abc"], ["'abc'", "valid"]),
        (["a", "--timeout", "-1"], ["-1"]),
        (["a", "--where", "/no/such/file"], ["/no/such/file", "does not exist"]),
    ],
)
def test_bad_values_are_usage_errors(args: list[str], words: list[str]) -> None:
    code, got = run(*args)
    assert code == 2
    assert all(word in got["error"] for word in words), got


def test_a_typer_that_converts_through_pydantic_gets_plain_converters() -> None:
    command = _command()
    params = [p for p in command.params if hasattr(p, "get_runtime_param")]
    if not params:
        pytest.skip("this Typer converts with click's own types")
    assert all(type(p._runtime_param).__module__ == "imap_cli.cli.plain_params" for p in params)
