"""The safe package installer: one pipeline for every source, journaled, with rollback.

Each operation is a file holding only its own steps (`installing`, `uninstalling`,
`rolling_back`; named apart from the functions they export), around one `transaction.Transaction`
(journal, renames, commit or undo); `activation` loads, migrates and runs hooks for install and
rollback; `recovery` undoes or finishes at start what a crash interrupted; `following` keeps each
node's modules folder in step with the packages kept in the database, and `backfill` stores the
package of a module installed before they were kept. An install reads its package from disk once.

Public API (other areas rely on these names):

- `inspect_package(zip_path, sha256=None) -> PackageReport` — validate without installing;
- `install_package(zip_path, actor, *, source="upload", allow_downgrade=False, expected_slug=None,
  progress=None, job_id=None, sha256=None) -> Module` — the one install/update pipeline (`sha256`:
  the digest when the caller hashed the package already, e.g. while downloading it);
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
