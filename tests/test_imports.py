"""The import rule: no import circles between the project's modules, and the layers hold.

Every module of ``exchange/``, ``protocol/`` and ``client/`` is parsed with ``ast`` (never
imported), and the graph of its imports of project modules is built. Imports under
``if TYPE_CHECKING:`` are left out: they never run, so they cannot make a circle at run
time; they are allowed for annotations only, and a circle through them is allowed only
where ``TYPE_ONLY_CIRCLES`` lists it (the server's actor and gateway, until they
are separated). A module that imports ``a.b.c`` also
depends on the packages ``a`` and ``a.b`` (their ``__init__`` runs first).

Layers: ``protocol`` is sans-IO and imports nothing from ``exchange``, ``client``,
``asyncio`` or ``socket``;
``exchange.core`` imports nothing from ``exchange.server``, ``client``, ``asyncio`` or
``socket``;
``client`` imports nothing from ``exchange``; in the server, imports run front-ends ->
gateway -> actors -> core: the gateway and the actors import no front-end and no session
(they reach sessions through ``exchange.server.port``), and a front-end imports neither
the gateway nor an actor.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("exchange", "protocol", "client")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _runtime_imports(tree: ast.Module, module: str, is_package: bool,
                     type_checking: bool = False) -> set[str]:
    """Every module name this module imports when it runs (absolute, possibly external).

    With ``type_checking``, the imports under ``if TYPE_CHECKING:`` are included too."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test) and not type_checking:
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".")
                    if not is_package:
                        base = base[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                found.add(prefix)
                # ``from pkg import mod`` imports the submodule when there is one.
                found.update(f"{prefix}.{alias.name}" for alias in node.names)
            # Imports inside functions, classes, try and with count too: they run
            # (later), and a deferred import is still a circle of dependencies.
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    visit([n for n in inner if isinstance(n, ast.stmt)])
            for handler in getattr(node, "handlers", None) or []:
                visit(handler.body)
            for case in getattr(node, "cases", None) or []:
                visit(case.body)

    visit(tree.body)
    return found


def _graph(type_checking: bool = False) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(project imports, all imports) of every project module."""
    files = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            files[_module_name(path)] = path
    project: dict[str, set[str]] = {}
    everything: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        raw = _runtime_imports(tree, name, path.name == "__init__.py", type_checking)
        everything[name] = raw
        deps: set[str] = set()
        for imported in raw:
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                if candidate in files and candidate != name:
                    deps.add(candidate)
        project[name] = deps
    return project, everything


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == grey:
                return [*stack[stack.index(nxt):], nxt]
            if colour[nxt] == white and (found := dfs(nxt)) is not None:
                return found
        stack.pop()
        colour[node] = black
        return None

    for node in sorted(graph):
        if colour[node] == white and (found := dfs(node)) is not None:
            return found
    return None


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph with each package's ``__init__`` importing its own submodules left out.

    ``exchange.core`` (the package) importing ``exchange.core.engine`` and the engine
    importing ``exchange.core.orders`` (which first runs the package) is the normal way
    a package re-exports its parts, not a circle; Python runs the package first.
    """
    return {name: {d for d in deps if not d.startswith(name + ".")} for name, deps in
            graph.items()}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_type_checking_imports_are_left_out() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nimport x.y\n"
                     "if TYPE_CHECKING:\n    from z import w\n"
                     "def f():\n    from .q import r\n")
    assert _runtime_imports(tree, "pkg.mod", False) == {
        "typing", "typing.TYPE_CHECKING", "x.y", "pkg.q", "pkg.q.r"}


def test_no_import_circles() -> None:
    graph, _ = _graph()
    cycle = _find_cycle(_package_edges(graph))
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


TYPE_ONLY_CIRCLES = {
    ("exchange.server.actor", "exchange.server.gateway_base"),
}
"""The type-only imports that still close a circle, as (importer, imported) edges.

The actor names the gateway in annotations only; the gateway builds the actors at run
time. It goes when the actors stop calling the gateway directly (sessions are reached
through ``exchange.server.port`` already). Do not add to this list: give a shared type
a small module of its own, or describe what is used with a ``Protocol`` (as
``exchange.core.invariants`` and ``client.streams`` do)."""


def test_no_new_circles_through_type_checking_imports() -> None:
    graph, _ = _graph(type_checking=True)
    graph = _package_edges(graph)
    for importer, imported in TYPE_ONLY_CIRCLES:
        assert imported in graph[importer], f"{importer} no longer imports {imported}: " \
            "remove it from TYPE_ONLY_CIRCLES"
        graph[importer].discard(imported)
    cycle = _find_cycle(graph)
    assert cycle is None, "import circle (type-only): " + " -> ".join(cycle or [])


def _imports_from(module: str, everything: dict[str, set[str]], prefixes: tuple[str, ...]
                  ) -> set[str]:
    return {i for i in everything[module]
            if any(i == p or i.startswith(p + ".") for p in prefixes)}


def test_layers() -> None:
    _, everything = _graph()
    broken: list[str] = []
    for module in sorted(everything):
        if module.split(".")[0] == "protocol":
            forbidden: tuple[str, ...] = ("exchange", "client", "asyncio", "socket")
        elif module == "exchange.core" or module.startswith("exchange.core."):
            forbidden = ("exchange.server", "client", "asyncio", "uvloop", "socket")
        elif module.split(".")[0] == "client":
            forbidden = ("exchange",)
        else:
            continue
        for bad in sorted(_imports_from(module, everything, forbidden)):
            broken.append(f"{module} imports {bad}")
    assert not broken, "\n".join(broken)


SERVER_SIDES = ("exchange.server.gateway", "exchange.server.gateway_base",
                "exchange.server.market_ops", "exchange.server.actor")


def test_server_layers() -> None:
    """Front-ends -> gateway -> actors: neither side imports the other's modules, even
    for annotations; they meet in ``exchange.server.port``."""
    _, everything = _graph(type_checking=True)
    broken: list[str] = []
    for module in sorted(everything):
        if module in SERVER_SIDES:
            forbidden: tuple[str, ...] = ("exchange.server.frontends", "exchange.server.session")
        elif module.startswith("exchange.server.frontends") or module in (
                "exchange.server.session", "exchange.server.port"):
            forbidden = SERVER_SIDES
        else:
            continue
        for bad in sorted(_imports_from(module, everything, forbidden)):
            broken.append(f"{module} imports {bad}")
    assert not broken, "\n".join(broken)


SYMBOL_ENGINE = ("exchange.core.book", "exchange.core.matching", "exchange.core.lifecycle",
                 "exchange.core.marketdata", "exchange.core.orders", "exchange.core.store",
                 "exchange.core.ports", "exchange.core.results")
"""The symbol engine's modules: books, matching, stops, expiry, market data."""


def test_the_symbol_engine_knows_nothing_of_accounts() -> None:
    """It reaches the risk part only through ``exchange.core.ports.RiskPort``: no module of
    it imports the account or risk code, even for annotations, so that it can run where
    the accounts are not (a compiled build, a shard in another process)."""
    _, everything = _graph(type_checking=True)
    broken = [f"{module} imports {bad}" for module in SYMBOL_ENGINE
              for bad in sorted(_imports_from(module, everything, (
                  "exchange.core.accounts", "exchange.core.risk", "exchange.core.engine")))]
    assert not broken, "\n".join(broken)
    assert "exchange.core.ports" in everything["exchange.core.matching"]
