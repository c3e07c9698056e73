"""The safe package installer: one pipeline for every source, journaled, with rollback.

Each operation is a file holding only its own steps (`installing`, `uninstalling`,
`rolling_back`; named apart from the functions they export), around one `transaction.Transaction`
(journal, renames, commit or undo); `activation` loads, migrates and runs hooks for install and
rollback; `recovery` undoes or finishes at start what a crash interrupted.

Public API (other areas rely on these names):

- `inspect_package(zip_path) -> PackageReport` — validate without installing;
- `install_package(zip_path, actor, *, source="upload", allow_downgrade=False, expected_slug=None,
  progress=None, job_id=None) -> Module` — the one install/update pipeline;
- `install_folder(folder, actor)`, `install_dir(folder, actor) -> slug` (refuses an installed one);
- `uninstall(slug, actor, delete_data=False)`, `rollback(slug, actor)`;
- `recover_interrupted()`, `recover_at_start(app)` — undo or finish work a crash interrupted;
- `is_locked(slug)` — whether an install of the module is under way.
"""

from ..services.locks import is_locked
from .archive import Limits
from .installing import install_dir, install_folder, install_package
from .recovery import recover_at_start, recover_interrupted
from .report import PackageReport, inspect_package
from .rolling_back import rollback
from .uninstalling import uninstall

__all__ = ["Limits", "PackageReport", "inspect_package", "install_package", "install_folder", "install_dir",
           "uninstall", "rollback", "recover_interrupted", "recover_at_start", "is_locked"]
