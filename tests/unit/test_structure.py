"""The package's import graph has no circle: a module never needs, even late, one that needs it.

Every import statement counts, function-local ones too (they hide a circle; they do not remove
it). The circles are checked room by room (cli, core, server, the top-level modules) and across
rooms, so that a room with a known circle being removed does not hide a new one elsewhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import imap_cli

PACKAGE = Path(imap_cli.__file__).resolve().parent


def modules(root: Path, package: str) -> dict[str, Path]:
    """Module name -> file, for every module of the package under `root`."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _targets(module: str, path: Path, node: ast.AST, known: dict[str, Path]) -> list[str]:
    """The package's modules one import statement names (`from a import b` names a.b when b
    is a module, else a)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = module.split(".")
            if path.name != "__init__.py":
                parts.pop()
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, base] if base else parts)
        names = [f"{base}.{alias.name}" for alias in node.names]
        names = [name if name in known else base for name in names]
    else:
        return []
    targets = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            targets.append(name)
    return targets


def import_graph(known: dict[str, Path], package: str) -> dict[str, set[str]]:
    """Module -> the modules it imports anywhere in its text. Importing the package itself
    (its __init__) is left out: every submodule's import runs it first anyway."""
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {
            target
            for node in ast.walk(tree)
            for target in _targets(module, path, node, known)
            if target != package
        }
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            target = next(edges, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def room(module: str) -> str:
    """imap_cli.cli.app -> imap_cli.cli; a top-level module (imap_cli.api) -> imap_cli."""
    parts = module.split(".")
    return ".".join(parts[:2]) if (PACKAGE / parts[1]).is_dir() else parts[0]


def circles_in(name: str) -> list[list[str]]:
    """The package's circles inside room `name`, or ("across") those through several rooms."""
    found = circles(import_graph(modules(PACKAGE, "imap_cli"), "imap_cli"))
    rooms = [{room(module) for module in circle} for circle in found]
    if name == "across":
        return [circle for circle, where in zip(found, rooms) if len(where) > 1]
    return [circle for circle, where in zip(found, rooms) if where == {name}]


@pytest.mark.parametrize(
    "name",
    [
        "imap_cli",
        "imap_cli.cli",
        "imap_cli.server",
        "imap_cli.core",
        "across",
    ],
)
def test_no_import_circle(name: str) -> None:
    assert circles_in(name) == [], f"import circles in {name}: break them (see the test's doc)"


def test_a_circle_through_a_function_local_import_is_found(tmp_path: Path) -> None:
    """The check can fail: a late import that closes a loop is a circle."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def late():\n    from .c import thing\n")
    (package / "sub" / "c.py").write_text("def later():\n    from .. import a\n")
    (package / "d.py").write_text("import pkg.a\n")
    found = circles(import_graph(modules(package, "pkg"), "pkg"))
    assert found == [["pkg.a", "pkg.sub.b", "pkg.sub.c"]]
