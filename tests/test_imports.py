"""The import graph: value types at the bottom, no module reaching back up to one that
imports it. Every import counts, the ones inside functions too; only type-checking
imports (`if TYPE_CHECKING:`) are left out, since they never run."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "ci_deploy_gate"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node, but not those under `if TYPE_CHECKING:`."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package's modules that `path` imports when it runs."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known and name != "ci_deploy_gate"}


def graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(path) for path in paths}
    return {module_name(path): imports_of(path, known) for path in paths}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle once, as the path that closes it."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            found.append([*trail[trail.index(name) :], name])
            return
        if name in done:
            return
        for other in sorted(edges.get(name, ())):
            visit(other, [*trail, name])
        done.add(name)

    for name in sorted(edges):
        visit(name, [])
    return found


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c", "a"]]


def test_value_types_sit_at_the_bottom() -> None:
    edges = graph()
    bottom = ("ci_deploy_gate.records", "ci_deploy_gate.errors", "ci_deploy_gate.model")
    allowed = {"ci_deploy_gate.records", "ci_deploy_gate.errors"}
    for name in bottom:
        assert edges[name] <= allowed, (name, edges[name])


def test_the_readme_layout_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## How the code is laid out")[1].split("\n## ")[0]
    named = {
        name.strip("`")
        for row in table.splitlines()
        if row.startswith("| `")
        for name in row.split(" | ")[0].lstrip("| ").split(", ")
    }
    modules = {
        str(path.relative_to(PACKAGE).with_suffix(""))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    }
    assert named == modules
