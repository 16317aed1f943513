"""The hexagon's rules, checked on the source: the domain is pure, ports depend only on it."""

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

    from imagerepo.adapters import memory, memory_identity

    fakes = [getattr(memory, n) for n in dir(memory)] + [getattr(memory_identity, n) for n in dir(memory_identity)]
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


ENTRYPOINTS = [*sorted(p for p in (SRC / "entrypoints").rglob("*.py") if p.name != "container.py"), SRC / "library.py"]


@pytest.mark.parametrize("module", ENTRYPOINTS, ids=lambda p: str(p.relative_to(SRC)))
def test_entrypoints_reach_ports_only_through_services(module: Path) -> None:
    """A route, command or library method that needs a repository or store is a missing service
    method; only the composition root (container.py) names ports, to build the services."""
    assert not any(n.startswith("imagerepo.ports") for n in imports(module)), module.name
