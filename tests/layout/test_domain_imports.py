"""No domain package of a service imports one that imports it back (directly or round a longer loop), counting
imports inside functions too: the domains of a service form layers (architecture.md §8)."""

from __future__ import annotations

import ast
import graphlib
import itertools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("complaints", "merchants", "mediation")


def domain_imports(package_dir: Path) -> dict[str, dict[str, set[str]]]:
    """domain -> imported domain -> the `file:line` of every such import, from every import statement in the tree."""
    package = package_dir.name
    domains = {path.name for path in package_dir.iterdir() if (path / "__init__.py").exists()}
    edges: dict[str, dict[str, set[str]]] = {domain: {} for domain in domains}
    for source in package_dir.rglob("*.py"):
        relative = source.relative_to(package_dir)
        if relative.parts[0] not in domains:
            continue
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == package and len(parts) > 1 and parts[1] in domains and parts[1] != relative.parts[0]:
                    edges[relative.parts[0]].setdefault(parts[1], set()).add(f"{relative}:{node.lineno}")
    return edges


def import_cycle(edges: dict[str, dict[str, set[str]]]) -> str | None:
    """One loop of imports between the domains, each named with the imports that make it; None when there is none."""
    try:
        tuple(graphlib.TopologicalSorter({domain: set(imported) for domain, imported in edges.items()}).static_order())
    except graphlib.CycleError as error:
        # graphlib lists each node before the one that has it as a predecessor, which here means: before its importer.
        loop: list[str] = error.args[1][::-1]
        where = {f"{a} -> {b}": sorted(edges[a][b]) for a, b in itertools.pairwise(loop)}
        return f"{' -> '.join(loop)}; {where}"
    return None


@pytest.mark.parametrize("service", SERVICES)
def test_domain_packages_import_each_other_in_one_direction_only(service: str) -> None:
    edges = domain_imports(ROOT / "services" / service / "src" / service)
    assert edges, "no domain packages found"
    cycle = import_cycle(edges)
    assert cycle is None, f"import cycle between the domains of {service}: {cycle}"


def test_a_cycle_is_named_with_the_imports_that_make_it() -> None:
    edges = {"first": {"second": {"first/a.py:1"}}, "second": {"third": {"second/b.py:2"}},
             "third": {"first": {"third/c.py:3"}}}
    cycle = import_cycle(edges)
    assert cycle is not None
    loop, _, where = cycle.partition("; ")
    names = loop.split(" -> ")
    assert names[0] == names[-1]
    assert set(names) == {"first", "second", "third"}
    for importer, imported in itertools.pairwise(names):
        assert f"'{importer} -> {imported}': {sorted(edges[importer][imported])}" in where
    assert import_cycle({"first": {"second": {"first/a.py:1"}}, "second": {}}) is None


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    package = tmp_path / "svc"
    for domain, body in {"first": "from svc.second import thing\n",
                         "second": "def later() -> None:\n    from svc.first import other\n"}.items():
        (package / domain).mkdir(parents=True)
        (package / domain / "__init__.py").write_text("")
        (package / domain / "service.py").write_text(body)
    edges = domain_imports(package)
    assert edges == {"first": {"second": {"first/service.py:1"}}, "second": {"first": {"second/service.py:2"}}}
