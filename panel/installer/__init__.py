"""The safe package installer: one pipeline for every source, journaled, with rollback.

Public API (other areas rely on these names):

- `inspect_package(zip_path) -> PackageReport` — validate without installing;
- `install_package(zip_path, actor, *, source="upload", allow_downgrade=False, expected_slug=None,
  progress=None) -> Module` — the one install/update pipeline;
- `uninstall(slug, actor, delete_data=False)`, `rollback(slug, actor)`;
- `recover_interrupted()` — undo or finish work a crash interrupted (called at start).
"""

from .archive import Limits
from .pipeline import install_folder, install_package, recover_interrupted, rollback, uninstall
from .recovery import recover_at_start
from .report import PackageReport, inspect_package

__all__ = ["Limits", "PackageReport", "inspect_package", "install_package", "install_folder", "uninstall",
           "rollback", "recover_interrupted", "recover_at_start"]
