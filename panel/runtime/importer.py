"""Import module code from the modules folder under a namespace private to one registry.

Code runs from what its source says now: compiled from it, or read from the compiled file
`runtime.bytecode` kept for exactly that source (never Python's own, checked by change times, so a
file fixed by hand within the same second as a failed attempt is the file that runs next).
"""

import importlib.abc
import importlib.util
import os
import sys
from pathlib import Path

from . import bytecode, small_files


class _SourceLoader(importlib.abc.SourceLoader):
    def __init__(self, fullname: str, path: str):
        self.fullname = fullname
        self.path = path

    def get_filename(self, fullname):
        return self.path

    def get_data(self, path):
        return small_files.read(path)

    def get_code(self, fullname):
        # Not SourceLoader's own look-up of Python's cache (see above), which was a tenth of an import.
        source = self.get_data(self.path)
        return bytecode.cached_code(self.path, source) or compile(source, self.path, "exec", dont_inherit=True)

    def path_stats(self, path):  # Python's own cache is never read
        raise OSError

    def set_data(self, *args, **kwargs):
        pass


class ModuleFinder(importlib.abc.MetaPathFinder):
    """Finds `<namespace>.<slug>[.sub…]` under `<modules_path>/<slug>/`."""

    def __init__(self, namespace: str, modules_path: Path):
        self.namespace = namespace
        self.modules_path = Path(modules_path)
        self._root = str(self.modules_path)
        self._imported: dict[str, set[str]] = {}  # slug → the names this finder found for it

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.namespace and not fullname.startswith(self.namespace + "."):
            return None
        parts = fullname.split(".")[1:]
        if not parts:
            spec = importlib.util.spec_from_loader(fullname, loader=None, is_package=True)
            spec.submodule_search_locations = []
            return spec
        self._imported.setdefault(parts[0], set()).add(fullname)
        base = os.path.join(self._root, *parts)
        package_init = os.path.join(base, "__init__.py")
        if os.path.isfile(package_init):
            return importlib.util.spec_from_file_location(
                fullname, package_init, loader=_SourceLoader(fullname, package_init),
                submodule_search_locations=[base],
            )
        module_file = base + ".py"
        if os.path.isfile(module_file):
            return importlib.util.spec_from_file_location(
                fullname, module_file, loader=_SourceLoader(fullname, module_file)
            )
        return None

    def install(self) -> None:
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def forget(self, slug: str) -> None:
        """Drop a module's code from `sys.modules`, so the next import reads the files again.
        Every name under this namespace was found by this finder, so its own list is complete."""
        for name in self._imported.pop(slug, ()):
            sys.modules.pop(name, None)

    def loaded_code(self, slug: str) -> dict:
        """A module's entries of `sys.modules` (its package and the submodules it imported)."""
        return {name: sys.modules[name] for name in self._imported.get(slug, ()) if name in sys.modules}

    def restore(self, slug: str, code: dict) -> None:
        """Put back code `loaded_code` gave, as if it had just been imported."""
        sys.modules.update(code)
        self._imported.setdefault(slug, set()).update(code)

    def import_module(self, slug: str):
        # No importlib.invalidate_caches(): this finder keeps no cache (it looks at the files on
        # every import), and flushing every other finder's caches costs each enable dearly.
        self.forget(slug)
        return importlib.import_module(f"{self.namespace}.{slug}")
