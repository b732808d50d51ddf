"""The package's layers: each sub-package imports only from the ones below it, and no module
takes part in an import cycle. The order is the one the README's "Developing chaoskit" gives.

Every import counts, function-local ones included (a lazy import is still a dependency);
for cycles, only the imports that run when a module loads do.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "chaoskit"

#: Bottom to top: a layer may import from itself and any layer before it, never after it.
LAYERS = (
    "chaoskit._version",
    "chaoskit.core",
    "chaoskit.fakes",
    "chaoskit.world",
    "chaoskit.results",
    "chaoskit.report",
    "chaoskit.invariants",
    "chaoskit.scenarios",
    "chaoskit.engine",
    "chaoskit.extra",
    "chaoskit",  # the facade, chaoskit/__init__.py
    "chaoskit.examples",
    "chaoskit.testing",
    "chaoskit.plugin",
    "chaoskit.cli",
    "chaoskit.__main__",
)


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    at_load: bool  # runs when the module is imported (not in a function, not TYPE_CHECKING)


def module_names(root: Path) -> dict[str, Path]:
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports(root: Path, top: str | None = None) -> Iterator[Import]:
    """The imports of ``top`` (default: the package itself) made by the package's modules."""
    modules = module_names(root)
    top = top or root.name
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node, at_load in _walk(ast.parse(path.read_text(encoding="utf-8")), at_load=True):
            for target in _targets(node, package, modules):
                if target.split(".")[0] == top:
                    yield Import(name, target, node.lineno, at_load)


def _walk(node: ast.AST, *, at_load: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, at_load
        lazy = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) or (
            isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
        )
        yield from _walk(child, at_load=at_load and not lazy)


def _targets(
    node: ast.Import | ast.ImportFrom, package: str, modules: Mapping[str, Path]
) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parts, *([node.module] if node.module else [])])
    # `from pkg import sub` needs the submodule, not what pkg/__init__.py defines (a partly
    # loaded package serves its submodules); `from pkg import name` needs the __init__.
    submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
    return submodules if len(submodules) == len(node.names) else [base, *submodules]


def layer_of(module: str, layers: tuple[str, ...]) -> int:
    """The index of the most specific layer containing ``module``."""
    matches = [
        i for i, layer in enumerate(layers) if module == layer or module.startswith(layer + ".")
    ]
    if not matches:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return max(matches, key=lambda i: len(layers[i]))


def upward_imports(root: Path, layers: tuple[str, ...]) -> list[str]:
    problems = []
    for found in imports(root):
        source, target = layer_of(found.source, layers), layer_of(found.target, layers)
        if target > source:
            problems.append(
                f"{found.source} (line {found.line}) imports {found.target}: "
                f"{layers[source]} sits below {layers[target]}"
            )
    return problems


def import_cycles(root: Path) -> list[list[str]]:
    """Every cycle of load-time imports between modules (one per strongly connected set)."""
    graph: dict[str, set[str]] = {name: set() for name in module_names(root)}
    for found in imports(root):
        if found.at_load and found.target in graph and found.target != found.source:
            graph[found.source].add(found.target)
    return [sorted(group) for group in _strongly_connected(graph) if len(group) > 1]


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while (member := stack.pop()) != node:
                group.add(member)
            groups.append(group | {node})

    for node in graph:
        if node not in index:
            visit(node)
    return groups


def test_no_sub_package_imports_one_above_it() -> None:
    assert upward_imports(PACKAGE, LAYERS) == []


def test_no_module_takes_part_in_an_import_cycle() -> None:
    assert import_cycles(PACKAGE) == []


def test_only_the_engine_s_hypothesis_module_drives_hypothesis() -> None:
    """Hypothesis's settings and internals have one home; settings only names the database type."""
    users = {found.source for found in imports(PACKAGE, "hypothesis")}
    assert users == {"chaoskit.engine.hypothesis", "chaoskit.engine.settings"}


def test_every_sub_package_has_a_declared_layer() -> None:
    for name in module_names(PACKAGE):
        layer_of(name, LAYERS)


# -- the checker catches what it is for -----------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    for module, text in {
        "__init__.py": "from pkg.low import thing\n",
        "low/__init__.py": "from pkg.low.a import thing\n",
        "low/a.py": "thing = 1\n",
        "high/__init__.py": "from pkg.low import thing\n",
    }.items():
        (root / module).parent.mkdir(parents=True, exist_ok=True)
        (root / module).write_text(text)
    return root


LAYERS_OF_TREE = ("pkg.low", "pkg.high", "pkg")


def test_the_checker_passes_a_clean_tree(tree: Path) -> None:
    assert upward_imports(tree, LAYERS_OF_TREE) == []
    assert import_cycles(tree) == []


def test_the_checker_catches_an_upward_import_even_a_lazy_one(tree: Path) -> None:
    (tree / "low" / "b.py").write_text("def f():\n    from pkg.high import thing\n")
    (problem,) = upward_imports(tree, LAYERS_OF_TREE)
    assert problem.startswith("pkg.low.b (line 2) imports pkg.high: pkg.low sits below pkg.high")


def test_the_checker_catches_a_relative_upward_import(tree: Path) -> None:
    (tree / "low" / "c.py").write_text("from ..high import thing\n")
    assert len(upward_imports(tree, LAYERS_OF_TREE)) == 1


def test_the_checker_catches_a_cycle_inside_a_sub_package(tree: Path) -> None:
    (tree / "low" / "a.py").write_text("from pkg.low import b\nthing = 1\n")
    (tree / "low" / "b.py").write_text("from pkg.low.a import thing\n")
    assert import_cycles(tree) == [["pkg.low.a", "pkg.low.b"]]


def test_a_submodule_importing_a_name_from_its_own_package_is_a_cycle(tree: Path) -> None:
    (tree / "low" / "a.py").write_text("from pkg.low import other\nthing = 1\n")
    assert import_cycles(tree) == [["pkg.low", "pkg.low.a"]]
    (tree / "low" / "a.py").write_text("from pkg.low import b\nthing = 1\n")
    (tree / "low" / "b.py").write_text("other = 2\n")
    assert import_cycles(tree) == []  # a sibling submodule through the package is fine


def test_a_type_checking_or_lazy_import_is_no_cycle(tree: Path) -> None:
    (tree / "low" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.low.a import thing\n"
    )
    (tree / "low" / "a.py").write_text("def f():\n    from pkg.low import b\nthing = 1\n")
    assert import_cycles(tree) == []
