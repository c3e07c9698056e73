"""No import cycle among `panel/` modules, counting imports made inside functions too: layers
point down (models < services < installer < views and the command line)."""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PANEL = Path(__file__).resolve().parent.parent / "panel"


def module_name(path: Path) -> str:
    parts = path.relative_to(PANEL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The panel modules a file imports, wherever the import statement stands."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            # `from . import x` imports the module x when there is one, else a name of the package
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    return {target for target in found if target in known and target != name}


def test_no_import_cycle_among_panel_modules():
    files = {module_name(path): path for path in PANEL.rglob("*.py")}
    graph = {name: imports_of(path, set(files)) for name, path in files.items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
