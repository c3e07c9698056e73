"""The structure docs/architecture.md describes, checked: imports point down (no cycle, counting
imports inside functions and modules imported on first use with `lazy_module` too), few imports hidden in functions, short files, a small top level.

These figures follow from the structure; a failure here names the file or the cycle to look at.
"""

import ast
from pathlib import Path

PANEL = Path(__file__).resolve().parent.parent / "panel"
# Code that is not the panel's own: sample modules the embedded store packs, and migration scripts.
NOT_PANEL_CODE = ("hub/sources", "migrations/versions", "hub/migrations/versions")
MAX_LINES = 400
MAX_TOP_LEVEL_FILES = 10
MAX_IMPORTS_IN_FUNCTIONS = 6


def panel_files() -> dict[str, Path]:
    files = {}
    for path in PANEL.rglob("*.py"):
        relative = path.relative_to(PANEL).as_posix()
        if relative.startswith(NOT_PANEL_CODE):
            continue
        parts = ["panel", *path.relative_to(PANEL).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def resolve(module: str, path: Path, node: ast.ImportFrom | ast.Import, known: set[str]) -> set[str]:
    """The panel modules one import statement loads."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    base = f"{package}.{node.module}" if node.level and node.module else (package if node.level else node.module)
    targets = set()
    for alias in node.names:
        if f"{base}.{alias.name}" in known:
            targets.add(f"{base}.{alias.name}")
        elif base in known:
            targets.add(base)
    return targets


def lazy_import(node: ast.AST) -> str | None:
    """The module a `lazy_module("…")` call names (panel/extensions.py), if `node` is one."""
    if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "lazy_module"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def in_function_imports(tree: ast.AST) -> list:
    found = {}
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found[node.lineno] = node  # a nested function's imports are walked twice
    return list(found.values())


def import_graph():
    files = panel_files()
    known = set(files)
    graph, late = {}, []
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= resolve(module, path, node, known)
            elif (name := lazy_import(node)) in known:  # imported later, but an import all the same
                edges.add(name)
        graph[module] = edges - {module}
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in in_function_imports(tree):
            late.append((module, node.lineno, lines[node.lineno - 1], lines[node.lineno - 2]))
    return graph, late


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_among_panel_modules():
    graph, _ = import_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_check_counts_modules_imported_on_first_use():
    graph, _ = import_graph()
    assert "panel.hub" in graph["panel"] and "panel.cli.admin" in graph["panel.cli"]


def test_the_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_inside_functions_are_few_and_say_why():
    _, late = import_graph()
    assert len(late) <= MAX_IMPORTS_IN_FUNCTIONS, "\n".join(f"{m}:{n}: {line.strip()}" for m, n, line, _ in late)
    for module, number, line, above in late:
        assert "#" in line or above.strip().startswith("#"), f"{module}:{number} imports inside a function without saying why"


def test_no_file_in_panel_is_long():
    long = {name: n for name, path in panel_files().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long


def test_few_files_directly_in_panel():
    top = sorted(p.name for p in PANEL.iterdir() if p.is_file())
    assert len(top) <= MAX_TOP_LEVEL_FILES, top
