"""The emulator's modules import each other in layers, never in a circle.

Every import counts: module-level, inside functions and under ``if TYPE_CHECKING:``. The one
documented exception is :meth:`Emulator.start_in_thread`, whose ``server -> thread`` import (and
its ``TYPE_CHECKING`` twin for the return type) points up a layer. Importing a submodule also
runs its parent packages' ``__init__``; those implicit edges are not counted (they hold lazy
exports or a dispatch table, and are checked as modules of their own).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import slack_rtm.emulator as package

ROOT = "slack_rtm.emulator"

#: The layers of the package docstring, bottom first: a module imports only from its own layer
#: or those below it (and never in a circle within a layer).
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(ROOT if m == "(package)" else f"{ROOT}.{m}" for m in layer.split())
    for layer in (
        "workspace records limits validate connection history firehose",
        "faults browser resume history_controls socket_mode",
        "state",
        "api api.common api.rtm api.auth api.conversations api.apps api.chat websocket "
        "socket_mode_ws control webapi",
        "server",
        "thread pytest_plugin",
        "(package)",  # its __init__: lazy exports, TYPE_CHECKING imports of everything
    )
)

#: The one upward reference: ``Emulator.start_in_thread`` (and its return annotation).
ALLOWED_UPWARD = {(f"{ROOT}.server", f"{ROOT}.thread"): {"start_in_thread", "TYPE_CHECKING"}}

Edge = tuple[str, str]


def module_sources(directory: Path, prefix: str = ROOT) -> dict[str, str]:
    """Every module under ``directory`` by dotted name (a package by its own name)."""
    sources: dict[str, str] = {}
    for path in sorted(directory.rglob("*.py")):
        parts = list(path.relative_to(directory).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        sources[".".join([prefix, *parts])] = path.read_text(encoding="utf-8")
    return sources


def _where(stack: list[ast.AST]) -> str:
    """Where an import sits: the innermost function, ``TYPE_CHECKING``, or ``module``."""
    for node in reversed(stack):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node.name
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return "TYPE_CHECKING"
    return "module"


def _walk(node: ast.AST, stack: list[ast.AST]) -> Iterator[tuple[ast.AST, list[ast.AST]]]:
    yield node, stack
    for child in ast.iter_child_nodes(node):
        yield from _walk(child, [*stack, node])


def imports(name: str, source: str, modules: frozenset[str]) -> dict[Edge, set[str]]:
    """The edges ``(name, imported module)`` to ``modules``, each with where it is imported."""
    is_package = any(m.startswith(name + ".") for m in modules) or name == ROOT
    package_name = name if is_package else name.rpartition(".")[0]
    edges: dict[Edge, set[str]] = {}
    for node, stack in _walk(ast.parse(source), []):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package_name.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in modules else base)
        for target in targets:
            if target in modules and target != name:
                edges.setdefault((name, target), set()).add(_where(stack))
    return edges


def import_graph(sources: Mapping[str, str]) -> dict[Edge, set[str]]:
    """Every import between the modules of ``sources``."""
    modules = frozenset(sources)
    graph: dict[Edge, set[str]] = {}
    for name, source in sources.items():
        graph.update(imports(name, source, modules))
    return graph


def find_cycle(edges: set[Edge]) -> list[str] | None:
    """One import cycle (its modules, the first repeated at the end), or ``None``."""
    after: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        after.setdefault(a, []).append(b)
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for nxt in after.get(node, []):
            cycle = visit(nxt)
            if cycle is not None:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(after):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


def _graph() -> dict[Edge, set[str]]:
    return import_graph(module_sources(Path(package.__file__).parent))


# -- the emulator -----------------------------------------------------------------------------


def test_no_import_cycle_but_the_documented_one() -> None:
    graph = _graph()
    edges = {edge for edge in graph if edge not in ALLOWED_UPWARD}
    assert find_cycle(edges) is None


def test_the_one_upward_import_stays_in_start_in_thread() -> None:
    graph = _graph()
    for edge, allowed in ALLOWED_UPWARD.items():
        assert edge in graph, edge  # still there: drop the exception when it goes
        assert graph[edge] <= allowed, (edge, graph[edge])


def test_every_module_has_a_layer_and_imports_only_downward() -> None:
    graph = _graph()
    rank = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    modules = set(module_sources(Path(package.__file__).parent))
    assert modules == set(rank), sorted(modules ^ set(rank))
    upward = {e for e in graph if rank[e[1]] > rank[e[0]] and e not in ALLOWED_UPWARD}
    assert not upward, sorted(upward)


def test_server_imports_its_handlers_at_module_top() -> None:
    graph = _graph()
    for handler in ("api", "websocket", "control", "state"):
        assert graph[(f"{ROOT}.server", f"{ROOT}.{handler}")] == {"module"}, handler


# -- the checker itself -------------------------------------------------------------------------


def test_imports_are_found_at_every_level() -> None:
    names = ("a", "b", "c", "d", "pkg", "pkg.e")
    modules = frozenset({ROOT, *(f"{ROOT}.{n}" for n in names)})
    source = (
        "from typing import TYPE_CHECKING\n"
        "import slack_rtm.emulator.b\n"
        "if TYPE_CHECKING:\n"
        "    from slack_rtm.emulator.c import C\n"
        "def f():\n"
        "    from slack_rtm.emulator import d\n"
        "    from .pkg import e\n"
        "from slack_rtm.emulator import Thing\n"
    )
    assert imports(f"{ROOT}.a", source, modules) == {
        (f"{ROOT}.a", f"{ROOT}.b"): {"module"},
        (f"{ROOT}.a", f"{ROOT}.c"): {"TYPE_CHECKING"},
        (f"{ROOT}.a", f"{ROOT}.d"): {"f"},
        (f"{ROOT}.a", f"{ROOT}.pkg.e"): {"f"},
        (f"{ROOT}.a", ROOT): {"module"},
    }


def test_relative_imports_inside_a_subpackage() -> None:
    modules = frozenset({f"{ROOT}.state", f"{ROOT}.api", f"{ROOT}.api.common"})
    source = "from . import common\nfrom ..state import EmulatorState\n"
    assert set(imports(f"{ROOT}.api", source, modules)) == {
        (f"{ROOT}.api", f"{ROOT}.api.common"),
        (f"{ROOT}.api", f"{ROOT}.state"),
    }


def test_find_cycle() -> None:
    assert find_cycle({("a", "b"), ("b", "c"), ("a", "c")}) is None
    assert find_cycle({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == ["a", "b", "c", "a"]
    assert find_cycle({("x", "y"), ("y", "y")}) == ["y", "y"]
