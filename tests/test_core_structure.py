"""gan/'s and common/'s shape (issue 19): no import cycle, no file over 500 lines, no function
over 60, and gan never imports landmarks or app."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60


def modules(package: str) -> dict[str, Path]:
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (ROOT / package).rglob("*.py")
    }


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside functions (a package counts as well as
    its modules: its __init__ runs on the way)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


@pytest.mark.parametrize("package", ["gan", "common"])
def test_no_module_imports_itself_through_others(package):
    mods = modules(package)
    graph = {name: (imports(path) & set(mods)) - {name} for name, path in mods.items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as e:
        raise AssertionError("import cycle: " + " -> ".join(e.args[1])) from None


def test_gan_imports_neither_landmarks_nor_app():
    crossing = [
        f"{name} imports {other}"
        for name, path in modules("gan").items()
        for other in sorted(imports(path))
        if other.split(".")[0] in ("landmarks", "app")
    ]
    assert not crossing, crossing


def oversized(name: str, source: str) -> list[str]:
    """What in one module passes the limits: the file, or any function."""
    found = [f"{name}: {n} lines" for n in [len(source.splitlines())] if n > MAX_FILE_LINES]
    functions = (
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )
    for node in functions:
        if (n := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:
            found.append(f"{name}.{node.name}: {n} lines")
    return found


@pytest.mark.parametrize("package", ["gan", "common"])
def test_files_and_functions_stay_small(package):
    found = [
        line for name, p in modules(package).items() for line in oversized(name, p.read_text())
    ]
    assert not found, found
