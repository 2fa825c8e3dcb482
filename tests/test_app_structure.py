"""app/'s shape (issue 19): no import cycle, no file over 500 lines, no function over 60."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60


def modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(APP.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in APP.rglob("*.py")
    }


def app_imports(path: Path, known: set[str]) -> set[str]:
    """The app modules `path` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {n for n in names if n in known}
    return found


def test_no_module_in_app_imports_itself_through_others():
    mods = modules()
    graph = {name: app_imports(path, set(mods)) - {name} for name, path in mods.items()}
    # A package's __init__ is imported on the way to its modules: they may not lead back to it.
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = trail[trail.index(name) :] + [name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_files_and_functions_stay_small():
    too_long = []
    for name, path in modules().items():
        source = path.read_text()
        if len(source.splitlines()) > MAX_FILE_LINES:
            too_long.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {lines} lines")
    assert not too_long, too_long
