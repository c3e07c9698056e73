"""Module code compiled once, where it is put in place, and read back while its source is unchanged.

Python's own `__pycache__` files are checked by the source's change time and size: a file fixed by
hand within the same second, at the same size, would run the old code. Ours are "checked hash" files
(PEP 552): each holds a hash of the source it was compiled from and is used only while the source
hashes the same, so a fixed file always runs. They are written where a module lands (an install, a
node unpacking a package, a folder discovered), so a worker's first import of a module reads them
instead of compiling it: a first enable, or a worker's first page of a module after a restart.
"""

import importlib.util
import marshal
import os
import py_compile
import shutil
from pathlib import Path

from . import small_files

_HEADER = 16  # magic number, flags, source hash (PEP 552)
_CHECKED_HASH = (0b11).to_bytes(4, "little")
_SKIPPED = ("__pycache__", "static")


def precompile(folder: Path, lands_at: Path | None = None) -> None:
    """Compile every `.py` file under `folder` (not its `static`), each as if it were under `lands_at`,
    where the folder is about to be moved (the code's file names, which tracebacks show, must be
    where it runs). Compiled files that came with the folder are deleted first: one that came in a
    package could hold code other than its source's, and would run were its source not to compile.
    A file that does not compile is left to its import, which says why; a folder the panel cannot
    write to is left as it is (its modules compile when imported)."""
    folder = Path(folder)
    lands_at = Path(lands_at or folder)
    for here, dirnames, filenames in os.walk(folder):
        if "__pycache__" in dirnames:
            shutil.rmtree(os.path.join(here, "__pycache__"), ignore_errors=True)
        dirnames[:] = [name for name in dirnames if name not in _SKIPPED]
        for name in filenames:
            if name.endswith(".py"):
                path = os.path.join(here, name)
                try:
                    py_compile.compile(path, dfile=os.path.join(lands_at, os.path.relpath(path, folder)),
                                       doraise=False, quiet=2,
                                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
                except OSError:
                    return


def cached_code(path: str, source: bytes):
    """The code compiled from `source` at `path`, as `precompile` kept it; None when none was kept for
    this very source (or for this Python, or for this file where it is now)."""
    try:
        data = small_files.read(importlib.util.cache_from_source(path))
    except OSError:
        return None
    if (data[:4] != importlib.util.MAGIC_NUMBER or data[4:8] != _CHECKED_HASH
            or data[8:_HEADER] != importlib.util.source_hash(source)):
        return None
    try:
        code = marshal.loads(memoryview(data)[_HEADER:])
    except (EOFError, ValueError, TypeError):
        return None
    return code if getattr(code, "co_filename", None) == path else None
