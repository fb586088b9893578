"""The package's modules import each other in one direction only.

A circle of imports (once six service modules, because the credentials helpers lived in
connection_tests.py) makes every module in it load all the others and hides which layer owns
what. Imports inside functions count too: deferring an import hides a circle, it does not
remove it. The imports are read from the source, nothing is executed, so this stays fast.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path

import postroom

PACKAGE = Path(postroom.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("postroom", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_in(tree: ast.AST, modules: Collection[str]) -> set[str]:
    """The package modules a module's source imports, at its top or inside a function."""
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in modules:
                    targets.add(submodule)
                elif node.module in modules:
                    targets.add(node.module)
    return targets


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports."""
    modules = _modules()
    return {
        name: imports_in(ast.parse(path.read_text(), str(path)), modules) - {name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
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
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
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


def test_the_cycle_finder_finds_a_circle_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_count() -> None:
    source = "from p.a import x\ndef f():\n    from p import b\n    import p.c\n"
    assert imports_in(ast.parse(source), {"p.a", "p.b", "p.c", "p.d"}) == {"p.a", "p.b", "p.c"}


def test_the_graph_reads_the_package() -> None:
    graph = import_graph()
    assert "postroom.services.credentials" in graph["postroom.services.fetching"]
    assert "postroom.services.tokens" in graph["postroom.services.credentials"]


def test_no_modules_of_postroom_import_each_other_in_a_circle() -> None:
    assert cycles(import_graph()) == []
