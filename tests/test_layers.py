"""The import graph of `handlers/`: no cycles, no module imports one above it, only app imports adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "handlers"

# Lowest first. A module may import its own layer and the ones below, never one above.
LAYERS: list[set[str]] = [
    {
        "handlers",
        "handlers.http",
        "handlers.json_depth",
        "handlers.validator",
        "handlers.logs",
        "handlers.hs256",
    },
    {"handlers.ports", "handlers.settings", "handlers.adapters"},
    {"handlers.contract", "handlers.session", "handlers.redirects", "handlers.summary"},
    {"handlers.cors", "handlers.deps"},
    {
        "handlers.checkout",
        "handlers.portal",
        "handlers.stale_customer",
        "handlers.health",
        "handlers.webhook",
        "handlers.stripe_events",
        "handlers.openapi",
    },
    {"handlers.router"},
    {"handlers.offline"},
    {"handlers.asgi", "handlers.edge", "handlers.lazy_app"},
    {"handlers.app"},
    {"handlers.__main__"},
]
ROOT = "handlers.app"


def module_name(path: Path) -> str:
    """`handlers/offline/pages.py` -> `handlers.offline.pages`; a package's __init__ is the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    """The layer of `module`; a module inside a listed package (adapters, offline) has the package's."""
    for index, members in enumerate(LAYERS):
        if any(module == member or module.startswith(member + ".") for member in members - {"handlers"}):
            return index
    if module == "handlers":
        return 0
    raise AssertionError(f"{module} is in no layer: place it in LAYERS")


def imports(module: str) -> set[str]:
    """Every project module `module` imports, at the top or inside a function, typing-only ones too."""
    tree = ast.parse(MODULES[module].read_text("utf-8"))
    is_package = MODULES[module].name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_is_in_a_layer() -> None:
    """A new module must be placed in the layering, so the rules below cover it."""
    for module in MODULES:
        layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_one_above_it(module: str) -> None:
    """Dependencies point down: vocabulary and ports, then handlers, router, entry points, the root."""
    above = {target for target in GRAPH[module] if layer(target) > layer(module)}
    assert above == set(), f"{module} (layer {layer(module)}) imports {sorted(above)}"


@pytest.mark.parametrize("module", sorted(set(MODULES) - {ROOT}))
def test_only_the_composition_root_imports_adapters(module: str) -> None:
    """Adapters are chosen in handlers.app alone; adapters may use one another."""
    if module.startswith("handlers.adapters"):
        return
    adapters = {target for target in GRAPH[module] if target.startswith("handlers.adapters")}
    assert adapters == set(), f"{module} imports {sorted(adapters)}"


def test_no_import_cycle() -> None:
    """No module reaches itself through its imports."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = path[path.index(module) :] + [module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(GRAPH[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(MODULES):
        visit(module, [])


def test_the_graph_is_read_at_all() -> None:
    """The parser sees the imports it must judge: a check over an empty graph would pass for nothing."""
    assert {"handlers.router", "handlers.deps", "handlers.http"} <= GRAPH["handlers.router"] | {
        "handlers.router"
    }
    assert "handlers.adapters.stripe_payments" in GRAPH[ROOT]
    assert "handlers.offline.pages" in GRAPH[ROOT]
    assert "handlers.adapters.fetch_http" in GRAPH["handlers.adapters.stripe_payments"]


TESTS = PACKAGE.parent / "tests"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts),
    ids=lambda p: str(p.relative_to(TESTS)),
)
def test_no_test_module_imports_another(path: Path) -> None:
    """Tests share through tests/helpers and conftest fixtures, never by importing a test module."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert not {name for name in imported if name.split(".")[-1].startswith("test_")}
