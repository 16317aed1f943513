"""The hexagon's rules, checked on the source: the domain is pure, ports depend only on it, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "imagerepo"

# What pure code may import: the standard library's computational modules and attrs.
PURE = {
    "__future__", "abc", "attrs", "base64", "collections", "contextlib", "dataclasses", "datetime", "enum",
    "functools", "hashlib", "hmac", "itertools", "json", "logging", "math", "re", "secrets", "string",
    "typing", "unicodedata", "uuid", "snowballstemmer",
    "io",  # BytesIO buffers only
    "pathlib",  # Path as a type; test_domain_does_no_file_io checks nothing is opened
}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def calls_open(path: Path) -> bool:
    return any(
        isinstance(n, ast.Call)
        and (
            (isinstance(n.func, ast.Name) and n.func.id == "open")
            or (isinstance(n.func, ast.Attribute) and n.func.attr in {"open", "read_bytes", "write_bytes", "unlink"}
                and not (isinstance(n.func.value, ast.Attribute) and n.func.value.attr in {"inspector", "_inspector"}))
        )
        for n in ast.walk(ast.parse(path.read_text()))
    )


@pytest.mark.parametrize("module", sorted((SRC / "domain").glob("*.py")), ids=lambda p: p.name)
def test_domain_imports_only_pure_modules_and_itself(module: Path) -> None:
    for name in imports(module):
        if name.startswith("imagerepo."):
            assert name.startswith(("imagerepo.domain", "imagerepo.ports")), f"{module.name} imports {name}"
        else:
            assert name.split(".")[0] in PURE, f"{module.name} imports {name}"


@pytest.mark.parametrize("module", sorted((SRC / "domain").glob("*.py")), ids=lambda p: p.name)
def test_domain_does_no_file_io(module: Path) -> None:
    assert not calls_open(module)


@pytest.mark.parametrize("module", sorted((SRC / "ports").glob("*.py")), ids=lambda p: p.name)
def test_ports_depend_only_on_the_domain(module: Path) -> None:
    for name in imports(module):
        if name.startswith("imagerepo."):
            assert name.startswith(("imagerepo.domain", "imagerepo.ports")), f"{module.name} imports {name}"
        else:
            assert name.split(".")[0] in PURE, f"{module.name} imports {name}"


@pytest.mark.parametrize("module", sorted((SRC / "adapters").rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_adapters_never_reach_into_entrypoints(module: Path) -> None:
    assert not any(n.startswith("imagerepo.entrypoints") for n in imports(module))


def test_every_port_is_runtime_checkable_and_has_a_fake() -> None:
    import importlib
    import typing

    from imagerepo.adapters import memory, memory_identity, memory_people

    fakes = [getattr(m, n) for m in (memory, memory_identity, memory_people) for n in dir(m)]
    for path in sorted((SRC / "ports").glob("*.py")):
        if path.name == "__init__.py":
            continue
        mod = importlib.import_module(f"imagerepo.ports.{path.stem}")
        protocols = [v for v in vars(mod).values()
                     if isinstance(v, type) and getattr(v, "_is_protocol", False) and v.__module__ == mod.__name__]
        assert protocols, path.name
        for proto in protocols:
            assert getattr(proto, "_is_runtime_protocol", False), proto
            members = typing._get_protocol_attrs(proto)  # type: ignore[attr-defined]  # public only in 3.13
            assert any(isinstance(f, type) and all(hasattr(f, m) for m in members) and members
                       for f in fakes), f"no in-memory fake for {proto.__name__}"


# ---------------------------------------------------------------- no import cycles


def module_name(path: Path, root: Path) -> str:
    """Dotted name of a source file under ``root`` (the directory holding the top package)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the tree it imports, wherever the import sits (in functions, under
    ``if TYPE_CHECKING:``). ``from pkg import name`` reaches ``pkg.name`` when that is a module,
    else ``pkg`` itself, i.e. its ``__init__``; relative imports resolve against the package."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    kept = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*kept, node.module] if node.module else kept)
                else:
                    base = node.module or ""
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in files else base)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[tuple[list[str], list[str]]]:
    """Per strongly connected group of modules: one cycle (a path ending where it starts) and the
    group's other modules, which lie on further cycles through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; the graph is small enough to recurse
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
            while (w := stack.pop()) != v:
                group.add(w)
            group.add(v)
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for group in groups:
        start = min(group)
        paths = {start: [start]}
        queue = [start]
        while queue:  # breadth first inside the group: the shortest way back to the start
            v = queue.pop(0)
            if start in graph[v]:
                cycles.append(([*paths[v], start], sorted(group - set(paths[v]))))
                break
            for w in sorted(graph[v] & group):
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    queue.append(w)
    return sorted(cycles)


def test_no_import_cycle_between_source_files() -> None:
    cycles = import_cycles(import_graph(SRC.parent))
    lines = [" -> ".join(cycle) + (f"  (same loop: {', '.join(others)})" if others else "") for cycle, others in cycles]
    assert not cycles, "import cycles:\n" + "\n".join(lines)


def test_the_cycle_check_sees_deferred_relative_and_type_checking_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "def f():\n    from pkg.b import g\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import thing\n",
        "sub/__init__.py": "from ..a import f\n",
        "sub/leaf.py": "from .. import a\nimport pkg.sub\n",
        "c.py": "import os\nfrom pkg import a\n",
    }
    for rel, text in files.items():
        (pkg / rel).write_text(text)
    graph = import_graph(tmp_path)
    assert graph["pkg.sub.leaf"] == {"pkg.a", "pkg.sub"}
    assert graph["pkg.c"] == {"pkg.a"}
    assert import_cycles(graph) == [(["pkg.a", "pkg.b", "pkg.sub", "pkg.a"], [])]
    (pkg / "b.py").write_text("")
    assert import_cycles(import_graph(tmp_path)) == []


@pytest.mark.parametrize("module", sorted((SRC / "entrypoints" / "http").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(SRC)))
def test_routes_get_services_by_injection_never_from_the_container(module: Path) -> None:
    """Only the app factory and deps.py know the container; a route names what it needs."""
    if module.name in ("app.py", "deps.py"):
        return
    assert "imagerepo.entrypoints.container" not in imports(module)
    assert "state.container" not in module.read_text()


ENTRYPOINTS = [*sorted(p for p in (SRC / "entrypoints").rglob("*.py") if p.name != "container.py"), SRC / "library.py"]


@pytest.mark.parametrize("module", ENTRYPOINTS, ids=lambda p: str(p.relative_to(SRC)))
def test_entrypoints_reach_ports_only_through_services(module: Path) -> None:
    """A route, command or library method that needs a repository or store is a missing service
    method; only the composition root (container.py) names ports, to build the services."""
    assert not any(n.startswith("imagerepo.ports") for n in imports(module)), module.name
