"""The tree's shape (docs/design.md): no import cycle, the layers' arrows one way, Qt only in app,
no kind test outside the kinds and the app's modes, no file over 500 lines, no function over 60."""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "common", "gan", "landmarks")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60
# What each package may not import (docs/design.md, "Layers").
FORBIDDEN = {
    "common": ("app", "gan", "landmarks", "PyQt5"),
    "landmarks": ("app", "gan", "PyQt5"),
    "gan": ("app", "landmarks", "PyQt5"),
    "app": (),
}


def modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for package in PACKAGES
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


def test_no_module_imports_itself_through_others():
    mods = modules()
    graph = {name: (imports(path) & set(mods)) - {name} for name, path in mods.items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as e:
        raise AssertionError("import cycle: " + " -> ".join(e.args[1])) from None


@pytest.mark.parametrize("package", PACKAGES)
def test_the_layers_import_one_way(package):
    crossing = []
    for name, path in modules().items():
        if name.split(".")[0] != package:
            continue
        for imported in imports(path):
            if imported.split(".")[0] in FORBIDDEN[package]:
                crossing.append(f"{name} imports {imported}")
    assert not crossing, crossing


def test_only_the_modes_ask_what_a_bundle_is():
    """The app picks a mode once from the bundle's input contract (app/modes); nothing else in app/
    asks a bundle's kind or input."""
    asking = re.compile(
        r"bundle\.(kind|input)\b|(bundle|info|\))(\[|\.get\()\"kind\"|\binput_of\(|\bis_swap\b"
    )
    found = [
        f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
        for path in (ROOT / "app").rglob("*.py")
        if "modes" not in path.relative_to(ROOT).parts
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if asking.search(line)
    ]
    assert not found, found


def oversized(name: str, source: str) -> list[str]:
    found = []
    if len(source.splitlines()) > MAX_FILE_LINES:
        found.append(f"{name}: {len(source.splitlines())} lines")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                found.append(f"{name}.{node.name}: {lines} lines")
    return found


def test_files_and_functions_stay_small():
    too_long = [f for name, path in modules().items() for f in oversized(name, path.read_text())]
    assert not too_long, too_long
