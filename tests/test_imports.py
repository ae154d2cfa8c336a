"""No import cycles among voiceguide's modules, function-level imports included.

A lazy import inside a function still ties two modules together: it only moves the failure (a
half-initialised module, a name not defined yet) from import time to the first call. So every
``import`` in a module counts, wherever it sits, except two that never make one module run the
other first: imports under ``if TYPE_CHECKING:`` (never executed) and ``from pkg import sub`` of
a submodule, which is an edge to ``pkg.sub`` and not to the package's ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import voiceguide

Graph = dict[str, set[str]]


def module_files(package: Path) -> dict[str, Path]:
    """Every module under ``package`` by its dotted name (a package by its own name)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _never_run(tree: ast.Module) -> set[int]:
    """The ids of the nodes under ``if TYPE_CHECKING:`` (its ``else`` branch does run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The module a ``from ... import`` reads from, with a relative one resolved in ``package``."""
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules among ``modules`` that module ``name`` (at ``path``) may import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped = _never_run(tree)
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            subs = {f"{base}.{alias.name}" for alias in node.names} & modules.keys()
            targets |= subs
            if len(subs) < len(node.names):  # a name defined in ``base`` itself
                targets.add(base)
    return {t for t in targets if t in modules and t != name}


def import_graph(package: Path) -> Graph:
    modules = module_files(package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def tangles(graph: Graph) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def loop_in(group: set[str], graph: Graph) -> list[str]:
    """One shortest loop through the group's first module: a, b, ..., a."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        step = []
        for v in frontier:
            for w in sorted(graph[v] & group):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    step.append(w)
        frontier = step
    raise AssertionError(f"{sorted(group)} is not a cycle")  # a strongly connected group always has one


def cycle_report(package: Path) -> list[str]:
    """Each import cycle under ``package`` as one line: its modules, then one loop through them."""
    graph = import_graph(package)
    return [f"{', '.join(sorted(g))}: {' -> '.join(loop_in(g, graph))}" for g in tangles(graph)]


def test_voiceguide_has_no_import_cycles():
    cycles = cycle_report(Path(voiceguide.__file__).parent)
    assert not cycles, "import cycles (function-level imports count):\n" + "\n".join(cycles)


def test_the_graph_sees_voiceguides_lazy_imports():
    # a check that finds nothing because it reads nothing would pass the test above
    graph = import_graph(Path(voiceguide.__file__).parent)
    assert "voiceguide.tts.espeak" in graph["voiceguide.tts.engine"]  # inside _ensure_builtins
    assert "voiceguide.tts.command" in graph["voiceguide.tts.espeak"]


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_a_cycle_through_a_function_level_import_is_named(tmp_path):
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/registry.py": "def load():\n    from pkg.sub import plugin\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/plugin.py": "from .. import base\n",
            "pkg/base.py": "from pkg.registry import load\n",
            "pkg/clean.py": "import pkg.base\n",
        },
    )
    assert cycle_report(package) == [
        "pkg.base, pkg.registry, pkg.sub.plugin: pkg.base -> pkg.registry -> pkg.sub.plugin -> pkg.base"
    ]


def test_type_checking_imports_and_submodule_imports_are_not_edges(tmp_path):
    package = _write(
        tmp_path,
        {
            # the package imports its submodule; the submodule takes a sibling through the package
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": (
                "from typing import TYPE_CHECKING\n"
                "from pkg import b\n"
                "if TYPE_CHECKING:\n    from pkg.b import B\nelse:\n    import json\n"
                "A = 1\n"
            ),
            "pkg/b.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.a import A\n",
        },
    )
    assert import_graph(package) == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert cycle_report(package) == []
    # the same import outside the guard is a cycle
    (package / "b.py").write_text("from pkg.a import A\n", encoding="utf-8")
    assert cycle_report(package) == ["pkg.a, pkg.b: pkg.a -> pkg.b -> pkg.a"]
