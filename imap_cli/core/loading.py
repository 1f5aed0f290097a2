"""CDFs as xarray Datasets: one file, or many joined along their time dimension.

xarray and cdflib are the optional extra `xarray`; they are imported here, inside the
functions, and a missing one is a MissingExtra naming the pip line that installs it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imap_cli.core.cdf import XARRAY_EXTRA, UnreadableFile, check_cdf, need
from imap_cli.core.errors import UsageError, option

WHAT = "Loading CDFs as xarray Datasets"


def _libraries() -> tuple[Any, Any]:
    xarray = need("xarray", XARRAY_EXTRA, WHAT)
    need("cdflib", XARRAY_EXTRA, WHAT)
    from cdflib.xarray import cdf_to_xarray

    return xarray, cdf_to_xarray


def open_dataset(path: Path, variables: Sequence[str] | None = None) -> Any:
    """One CDF as an xarray.Dataset (times as datetime64; fill values as NaN), keeping only
    `variables` and what they depend on when given."""
    _, cdf_to_xarray = _libraries()
    path = Path(path)
    check_cdf(path)
    try:
        dataset = cdf_to_xarray(str(path), to_datetime=True, fillval_to_nan=True)
    except Exception as exc:  # the reader's own failures: the file is not what it seems
        raise UnreadableFile(
            f"{path.name} could not be read as a CDF ({str(exc)[:120] or type(exc).__name__})",
            field="path",
            value=str(path),
            cause=exc,
        ) from None
    if variables:
        dataset = select(dataset, variables, path.name)
    dataset.attrs["files"] = [path.name]
    return dataset


def select(dataset: Any, variables: Sequence[str], name: str) -> Any:
    """`dataset` with only `variables` (and their coordinates)."""
    wanted = list(dict.fromkeys(variables))
    known = set(dataset.data_vars) | set(dataset.coords)
    unknown = [v for v in wanted if v not in known]
    if unknown:
        raise UsageError(
            f"{name} has no variable {', '.join(map(repr, unknown))}; it has: "
            f"{', '.join(sorted(map(str, dataset.data_vars)))}",
            f"Choose from those for {option('variables')}.",
            field="variables",
            value=unknown[0],
            choices=[str(v) for v in dataset.data_vars],
        )
    keep = [v for v in wanted if v in dataset.data_vars]
    return dataset[keep] if keep else dataset


def time_dimension(dataset: Any) -> str | None:
    """The dimension records run along: the one most data variables name as DEPEND_0."""
    named = Counter(
        str(var.attrs.get("DEPEND_0"))
        for var in dataset.data_vars.values()
        if var.attrs.get("DEPEND_0") in dataset.dims
    )
    if named:
        return named.most_common(1)[0][0]
    return "epoch" if "epoch" in dataset.dims else None


def combine(paths: Sequence[Path], variables: Sequence[str] | None = None) -> Any:
    """Open each CDF and join them along time, in time order; variables without a time
    dimension (energy tables, labels) are taken from the first file. The Dataset's
    attributes are the first file's, with `files` listing every file it holds."""
    xarray, _ = _libraries()
    if not paths:
        raise UsageError("no files to load")
    datasets = [open_dataset(Path(p), variables) for p in paths]
    if len(datasets) == 1:
        return datasets[0]
    dim = time_dimension(datasets[0])
    if dim is None:
        raise UsageError(
            f"{Path(paths[0]).name} has no time dimension to join files along",
            "Open the files one at a time with open().",
        )
    datasets.sort(key=lambda d: d[dim].values[0] if d.sizes.get(dim) else 0)
    joined = xarray.concat(
        datasets,
        dim=dim,
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="outer",
        combine_attrs="override",
    )
    joined = joined.sortby(dim)
    joined.attrs["files"] = [name for d in datasets for name in d.attrs["files"]]
    return joined
