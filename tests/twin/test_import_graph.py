"""The twin's modules import each other without a cycle (at run time; type-only imports do not count).

`World(...)` puts the cell together; the modules of its parts (arm, devices, chemistry, faults)
import the world only under TYPE_CHECKING. Function-level (lazy) imports count: they are how a
cycle hides.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The modules of `modules` that path imports at run time (module level or in a function)."""
    name = module_name(path, root)
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            source = ".".join(part for part in (base, node.module or "") if part)
            for alias in node.names:  # `from pkg import module` imports the module
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return (found & modules) - {name}


def import_graph(package_dir: Path, root: Path) -> dict[str, set[str]]:
    """module -> the modules of the same package tree it imports at run time."""
    paths = sorted(package_dir.rglob("*.py"))
    modules = {module_name(path, root) for path in paths}
    return {module_name(path, root): runtime_imports(path, root, modules) for path in paths}


def cycle_of(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of the graph, each module importing the next (empty when there is none)."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(reversed(error.args[1]))  # graphlib lists each dependency before its importer
    return []


def test_the_twin_has_no_import_cycle() -> None:
    graph = import_graph(SRC / "powderlab" / "twin", SRC)
    assert "powderlab.twin.world" in graph and graph["powderlab.twin.world"] >= {
        "powderlab.twin.arm",
        "powderlab.twin.devices",
        "powderlab.twin.faults",
    }
    cycle = cycle_of(graph)
    assert not cycle, f"import cycle in the twin: {' -> '.join(cycle)}"


def test_the_checker_sees_a_lazy_cycle_and_ignores_type_only_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "world.py").write_text("def build():\n    from pkg.sub import part\n")
    (package / "sub" / "part.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.world import World\n"
    )
    graph = import_graph(package, tmp_path)
    assert graph["pkg.world"] == {"pkg.sub.part"}
    assert cycle_of(graph) == []

    (package / "sub" / "part.py").write_text("def clock():\n    from ..world import build\n")
    assert set(cycle_of(import_graph(package, tmp_path))) == {"pkg.world", "pkg.sub.part"}
