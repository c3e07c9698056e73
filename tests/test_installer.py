"""The install pipeline: updates, automatic rollback, crash safety, locks, uninstall."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from installer_kit import ROOT, make_zip, module_files, package, tree
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from conftest import install_sample, make_app, sqlite_only
from panel.errors import Conflict, PanelError
from panel.extensions import db
from panel.installer import archive, install_package, recover_interrupted, rollback, uninstall
from panel.models import AuditEvent, InstallJournal, Module, ModuleMigration, ModuleSetting, PanelState
from panel.services import modules


def row(app, slug):
    with app.app_context():
        module = db.session.get(Module, slug)
        return None if module is None else {"version": module.version, "state": module.state,
                                            "previous": module.previous_version, "error": module.error}


def live(app, slug="hello"):
    return Path(app.config["MODULES_PATH"]) / slug


def backup(app, slug="hello"):
    return Path(app.config["BACKUPS_PATH"]) / slug


def staging_is_clean(app):
    staging = Path(app.config["STAGING_PATH"])
    return [p.name for p in staging.iterdir() if p.name not in ("tmp", "uploads") or any(p.iterdir())] == []


def enable(app, slug):
    with app.app_context():
        module = modules.enable(slug, "test")
        assert module.state == "enabled", module.error


def notes_files(version, *migrations, hook=""):
    files = module_files("notes", version)
    for name, body in migrations:
        files[f"migrations/{name}.py"] = body.encode()
    if hook:
        files["__init__.py"] += hook.encode()
    return files


ADD_TAGS = 'def upgrade(db):\n    db.execute("CREATE TABLE mod_notes_tags (id INTEGER PRIMARY KEY, name TEXT)")\n'
ADD_COLUMN = 'def upgrade(db):\n    db.execute("ALTER TABLE mod_notes_notes ADD COLUMN pinned INTEGER DEFAULT 0")\n'
RAISES = 'def upgrade(db):\n    raise RuntimeError("disk on fire")\n'


def tables(app):
    with app.app_context():
        return set(sa_inspect(db.engine).get_table_names())


def columns(app, table):
    with app.app_context():
        return {c["name"] for c in sa_inspect(db.engine).get_columns(table)}


# --- install and update ---------------------------------------------------------------------------------

def test_fresh_install_records_module_audit_and_journal(app, tmp_path):
    path = package(tmp_path)
    with app.app_context():
        phases = []
        module = install_package(path, "alice", progress=lambda phase, done, total: phases.append(phase))
        assert (module.slug, module.version, module.state, module.source) == ("hello", "1.2.0", "disabled", "upload")
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (event.actor, event.action, event.slug) == ("alice", "installed", "hello")
        journal = db.session.scalars(select(InstallJournal)).one()
        assert (journal.done, journal.step) == (True, "finished")
    assert {"validate", "extract", "swap", "migrate", "done"} <= set(phases)
    assert tree(live(app)) == {k: v for k, v in tree(ROOT / "panel/hub/sources/hello").items()}
    assert staging_is_clean(app)


def test_install_dir_goes_through_the_pipeline(app):
    install_sample(app, "notes")
    with app.app_context():
        assert db.session.scalars(select(InstallJournal.step)).all() == ["finished"]
        assert db.session.get(Module, "notes").source == "folder"
    assert "mod_notes_notes" in tables(app)  # the module's migrations ran at install


def test_update_of_an_enabled_module_keeps_it_enabled_and_served(app, admin_client, tmp_path):
    install_sample(app, "hello")
    enable(app, "hello")
    assert "Hello, admin" in admin_client.get("/m/hello/").get_data(as_text=True)
    with app.app_context():
        generation = db.session.get(PanelState, "generation").value
    files = module_files("hello", "1.3.0")
    files["templates/index.html"] = b'<p class="hello-greeting">Howdy v1.3, {{ api.current_user_name() }}!</p>'
    old_tree = tree(live(app))
    with app.app_context():
        install_package(make_zip(tmp_path / "h.zip", files), "test")
        assert db.session.get(PanelState, "generation").value > generation  # other workers reload
    assert row(app, "hello") == {"version": "1.3.0", "state": "enabled", "previous": "1.2.0", "error": None}
    assert tree(backup(app)) == old_tree
    assert "Howdy v1.3, admin" in admin_client.get("/m/hello/").get_data(as_text=True)


def test_upgrade_hook_gets_the_old_version(app, tmp_path):
    install_sample(app, "notes")
    enable(app, "notes")
    hook = ('\n\ndef _remember(old):\n    from panel.extensions import db\n    from sqlalchemy import text\n'
            '    db.session.execute(text("CREATE TABLE mod_notes_upgraded (old TEXT)"))\n'
            '    db.session.execute(text("INSERT INTO mod_notes_upgraded VALUES (:o)"), {"o": old})\n\n'
            '_setup = setup\n\ndef setup(api):\n    _setup(api)\n    api.on("upgrade", _remember)\n')
    with app.app_context():
        install_package(make_zip(tmp_path / "n.zip", notes_files("1.1.0", hook=hook)), "test")
        assert db.session.execute(text("SELECT old FROM mod_notes_upgraded")).scalar() == "1.0.0"


def test_failed_migration_during_update_restores_the_old_version(app, tmp_path):
    install_sample(app, "notes")
    enable(app, "notes")
    with app.app_context():
        db.session.execute(text("INSERT INTO mod_notes_notes (body, author) VALUES ('keep me', 'a')"))
        db.session.commit()
    old_tree = tree(live(app, "notes"))
    bad = make_zip(tmp_path / "bad.zip", notes_files("2.0.0", ("0002_pinned", ADD_COLUMN), ("0003_boom", RAISES)))
    with app.app_context(), pytest.raises(PanelError, match="disk on fire"):
        install_package(bad, "test")
    assert tree(live(app, "notes")) == old_tree  # old code back, byte for byte
    state = row(app, "notes")
    assert (state["version"], state["state"], state["previous"]) == ("1.0.0", "enabled", None)
    assert "2.0.0" in state["error"] and "disk on fire" in state["error"]  # the card says why
    assert "pinned" not in columns(app, "mod_notes_notes")  # the half-run migration was rolled back
    with app.app_context():
        assert db.session.scalars(select(ModuleMigration.name)).all() == ["0001_create_notes"]
        assert db.session.execute(text("SELECT body FROM mod_notes_notes")).scalars().all() == ["keep me"]
        assert modules.registry().get("notes") is not None  # still served in this worker
    assert not backup(app, "notes").exists() and staging_is_clean(app)


def test_failing_upgrade_hook_rolls_back(app, tmp_path):
    install_sample(app, "hello")
    enable(app, "hello")
    files = module_files("hello", "1.3.0")
    files["__init__.py"] += b'\n_s = setup\n\ndef setup(api):\n    _s(api)\n    api.on("upgrade", lambda old: 1 / 0)\n'
    with app.app_context(), pytest.raises(PanelError, match="upgrade hook"):
        install_package(make_zip(tmp_path / "h.zip", files), "test")
    assert row(app, "hello")["version"] == "1.2.0" and row(app, "hello")["state"] == "enabled"
    assert json.loads((live(app) / "module.json").read_text())["version"] == "1.2.0"


def test_fresh_install_whose_install_hook_fails_leaves_nothing(app, tmp_path):
    files = module_files("hello")
    files["__init__.py"] += b'\n_s = setup\n\ndef setup(api):\n    _s(api)\n    api.on("install", lambda: 1 / 0)\n'
    with app.app_context(), pytest.raises(PanelError, match="install hook"):
        install_package(make_zip(tmp_path / "h.zip", files), "test")
    assert row(app, "hello") is None and not live(app).exists() and staging_is_clean(app)


def test_module_whose_code_fails_to_load_is_installed_as_failed(app):
    install_sample(app, "broken")
    state = row(app, "broken")
    assert state["state"] == "failed" and "broken on purpose" in state["error"]


def test_downgrade_needs_an_explicit_yes(app, tmp_path):
    install_sample(app, "hello")
    old = package(tmp_path, version="1.0.0")
    with app.app_context(), pytest.raises(Conflict, match="older than the installed 1.2.0"):
        install_package(old, "test")
    assert row(app, "hello")["version"] == "1.2.0"
    with app.app_context():
        assert install_package(old, "test", allow_downgrade=True).version == "1.0.0"


def test_missing_dependency_and_wrong_slug_are_refused(app, tmp_path):
    needs = package(tmp_path, name="a.zip", requires={"notes": ">=1.0"})
    with app.app_context(), pytest.raises(PanelError, match="needs these modules installed first: notes>=1.0"):
        install_package(needs, "test")
    with app.app_context(), pytest.raises(PanelError, match="not “notes”"):
        install_package(package(tmp_path, name="b.zip"), "test", expected_slug="notes")


# --- rollback and uninstall ---------------------------------------------------------------------------------

def test_rollback_swaps_back_and_forth(app, tmp_path):
    install_sample(app, "hello")
    enable(app, "hello")
    v12 = tree(live(app))
    with app.app_context():
        install_package(package(tmp_path, version="1.3.0"), "test")
    v13 = tree(live(app))
    with app.app_context():
        assert rollback("hello", "test").version == "1.2.0"
    assert tree(live(app)) == v12 and tree(backup(app)) == v13
    assert row(app, "hello") == {"version": "1.2.0", "state": "enabled", "previous": "1.3.0", "error": None}
    with app.app_context():
        assert rollback("hello", "test").version == "1.3.0"
    assert tree(live(app)) == v13


def test_rollback_without_a_kept_version_is_refused(app):
    install_sample(app, "hello")
    with app.app_context(), pytest.raises(Conflict, match="no earlier version"):
        rollback("hello", "test")


def test_uninstall_keeps_data_unless_asked(app, tmp_path):
    install_sample(app, "notes")
    enable(app, "notes")
    with app.app_context():
        db.session.add(ModuleSetting(slug="notes", key="max_notes", value=7))
        db.session.commit()
        uninstall("notes", "test")
        assert db.session.get(Module, "notes") is None
        assert db.session.get(ModuleSetting, ("notes", "max_notes")) is not None
        assert modules.registry().get("notes") is None
    assert "mod_notes_notes" in tables(app) and not live(app, "notes").exists()
    install_sample(app, "notes")  # data found again on reinstall
    with app.app_context():
        uninstall("notes", "test", delete_data=True)
        assert db.session.get(ModuleSetting, ("notes", "max_notes")) is None
        assert db.session.scalars(select(ModuleMigration)).all() == []
    assert "mod_notes_notes" not in tables(app)


def test_uninstall_refused_while_an_enabled_module_requires_it(app, tmp_path):
    install_sample(app, "hello")
    enable(app, "hello")
    files = module_files("notes", requires={"hello": ">=1.0"})
    with app.app_context():
        install_package(make_zip(tmp_path / "n.zip", files), "test")
    enable(app, "notes")
    with app.app_context(), pytest.raises(Conflict, match="needed by Notes"):
        uninstall("hello", "test")
    assert live(app).exists() and row(app, "hello")["state"] == "enabled"


def test_uninstall_runs_the_hooks(app, tmp_path):
    files = module_files("hello")
    files["__init__.py"] += (b'\n_s = setup\n\ndef setup(api):\n    _s(api)\n'
                             b'    api.on("uninstall", lambda: api.db.execute("CREATE TABLE mod_hello_bye (x INT)"))\n')
    with app.app_context():
        install_package(make_zip(tmp_path / "h.zip", files), "test")
        uninstall("hello", "test")
    assert "mod_hello_bye" in tables(app)


# --- faults -------------------------------------------------------------------------------------------------

def test_no_space_left_during_extraction(app, tmp_path, monkeypatch):
    install_sample(app, "hello")
    enable(app, "hello")
    before = tree(live(app))
    calls = []

    def full_disk(fd, data):
        calls.append(1)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archive, "_write_all", full_disk)
    with app.app_context(), pytest.raises(PanelError, match="not enough free disk space"):
        install_package(package(tmp_path, version="1.3.0"), "test")
    assert calls and tree(live(app)) == before and staging_is_clean(app)
    assert row(app, "hello")["version"] == "1.2.0" and row(app, "hello")["state"] == "enabled"


def test_free_space_is_checked_before_extracting(app, tmp_path, monkeypatch):
    import shutil as shutil_mod

    monkeypatch.setattr(shutil_mod, "disk_usage", lambda path: shutil_mod._ntuple_diskusage(10, 10, 1024))
    with app.app_context(), pytest.raises(PanelError, match="not enough free disk space"):
        install_package(package(tmp_path), "test")
    assert row(app, "hello") is None


CHILD = """
import sys
sys.path.insert(0, {root!r})
from panel import create_app
from panel.installer import install_package
app = create_app({{"TESTING": True, "INSTANCE_PATH": {instance!r}, "SECRET_KEY": "x", "EMBEDDED_HUB": False}})
with app.app_context():
    install_package({zip!r}, "child")
print("completed")
"""


def spawn(instance, zip_path, fault, marker=None):
    env = {**os.environ, "PANEL_INSTALLER_FAULT": fault, "PYTHONDONTWRITEBYTECODE": "1"}
    if marker:
        env["PANEL_INSTALLER_FAULT_MARKER"] = str(marker)
    code = CHILD.format(root=str(ROOT), instance=str(instance), zip=str(zip_path))
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


INSTALL_STEPS = ["validated", "extracted", "journaled", "moved_old_backup", "moved_live", "swapped", "migrated",
                 "committed", "finished"]


@sqlite_only  # each step's copy of the instance folder carries its own copy of the database
def test_sigkill_at_each_step_leaves_old_or_new_never_a_mix(tmp_path, migrated_db):
    """notes 1.0 → 1.5 (so a backup exists), then 2.0 killed at each step; the restart recovers."""
    base = tmp_path / "base"
    app = make_app(base, migrated_db, EMBEDDED_HUB=False)
    install_sample(app, "notes")
    enable(app, "notes")
    v15 = make_zip(tmp_path / "v15.zip", notes_files("1.5.0"))
    v20 = make_zip(tmp_path / "v20.zip", notes_files("2.0.0", ("0002_tags", ADD_TAGS)))
    with app.app_context():
        install_package(v15, "test")
        old = {"live": tree(live(app, "notes")), "backup": tree(backup(app, "notes"))}
        db.engine.dispose()
    children = {}
    for step in INSTALL_STEPS:
        instance = tmp_path / step
        shutil.copytree(base, instance)
        children[step] = spawn(instance, v20, f"kill:{step}")
    new_live = None
    for step, child in children.items():
        child.wait(timeout=60)
        assert child.returncode == -signal.SIGKILL, (step, child.stderr.read().decode()[-2000:])
        app = _open(tmp_path / step)  # the restart: create_app runs the recovery
        state = row(app, "notes")
        assert state["state"] == "enabled", step
        # Before the one commit the old version is back; from the commit on, the new one is complete.
        assert state["version"] == ("2.0.0" if step in ("committed", "finished") else "1.5.0"), step
        if state["version"] == "1.5.0":
            assert tree(live(app, "notes")) == old["live"], step
            assert tree(backup(app, "notes")) == old["backup"], step
            assert "mod_notes_tags" not in tables(app), step
            if step not in ("validated", "extracted"):
                assert "interrupted" in (state["error"] or "").lower(), step
        else:
            assert state["version"] == "2.0.0" and state["previous"] == "1.5.0", step
            assert tree(backup(app, "notes")) == old["live"], step
            assert "mod_notes_tags" in tables(app), step
            new_live = new_live or tree(live(app, "notes"))
            assert tree(live(app, "notes")) == new_live, step
        assert staging_is_clean(app), step
        assert not [p for p in Path(app.config["BACKUPS_PATH"]).iterdir() if p.name.startswith(".")], step
        with app.app_context():
            assert db.session.scalars(select(InstallJournal).where(InstallJournal.step.notin_(
                ("finished", "failed")))).all() == [], step
            db.engine.dispose()
    assert new_live is not None  # the late steps did land the new version


def _open(instance):
    from panel import create_app

    return create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "SECRET_KEY": "x", "EMBEDDED_HUB": False})


def test_second_concurrent_install_of_the_same_module_is_refused(tmp_path, migrated_db):
    app = make_app(tmp_path / "instance", migrated_db, EMBEDDED_HUB=False)
    install_sample(app, "hello")
    enable(app, "hello")
    first = package(tmp_path, name="first.zip", version="1.3.0")
    marker = tmp_path / "paused"
    child = spawn(tmp_path / "instance", first, "pause:extracted", marker)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with app.app_context():
            with pytest.raises(Conflict, match="an install of hello is already in progress"):
                install_package(package(tmp_path, name="second.zip", version="1.4.0"), "test")
            with pytest.raises(Conflict, match="already in progress"):
                uninstall("hello", "test")
            assert recover_interrupted()["undone"] == []  # a live install is left alone
    finally:
        child.kill()
        child.wait(timeout=30)
    app = _open(tmp_path / "instance")  # restart after the kill: the paused install is undone
    assert row(app, "hello")["version"] == "1.2.0" and staging_is_clean(app)


def test_recovery_is_skipped_on_a_database_not_migrated_yet(tmp_path):
    app = _open(tmp_path / "fresh")  # no tables at all: create_app must still work
    with app.app_context():
        assert recover_interrupted() == {"undone": [], "finished": [], "removed": []}


def test_recovery_removes_stale_staging_and_expired_uploads(app):
    staging = Path(app.config["STAGING_PATH"])
    (staging / "hello.deadbeef0000" / "pkg").mkdir(parents=True)
    (staging / "uploads").mkdir(exist_ok=True)
    old = staging / "uploads" / ("a" * 32 + ".zip")
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    fresh = staging / "uploads" / ("b" * 32 + ".zip")
    fresh.write_bytes(b"x")
    with app.app_context():
        recover_interrupted()
    assert not (staging / "hello.deadbeef0000").exists() and not old.exists() and fresh.exists()


def test_several_workers_starting_at_once_recover_once(tmp_path, migrated_db):
    instance = tmp_path / "instance"
    app = make_app(instance, migrated_db, EMBEDDED_HUB=False)
    install_sample(app, "hello")
    enable(app, "hello")
    before = tree(live(app))
    with app.app_context():
        db.engine.dispose()
    child = spawn(instance, package(tmp_path, version="1.3.0"), "kill:swapped")
    assert child.wait(timeout=60) == -signal.SIGKILL
    start = ("import sys; sys.path.insert(0, {root!r}); from panel import create_app; "
             "create_app({{'INSTANCE_PATH': {instance!r}, 'SECRET_KEY': 'x', 'EMBEDDED_HUB': False}}); print('up')")
    workers = [subprocess.Popen([sys.executable, "-c", start.format(root=str(ROOT), instance=str(instance))],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0 and b"up" in out, err.decode()[-2000:]
    app = _open(instance)
    assert tree(live(app)) == before and row(app, "hello")["version"] == "1.2.0" and staging_is_clean(app)
    with app.app_context():
        failures = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "install_failed")).all()
        assert len(failures) == 1 and "Interrupted" in failures[0].detail


def test_a_job_whose_install_fails_at_the_last_step_leaves_nothing_recorded(app, tmp_path, monkeypatch):
    """The job's progress is written by committing the session: none may happen between recording
    the module and the install's own commit, or a late failure would leave a half-made install."""
    from panel.models import Job, ModulePackage
    from panel.services import audit
    from panel.services import jobs as jobs_service

    path = package(tmp_path)
    real_record = audit.record

    def record(actor, action, slug, detail=""):
        if action == "installed":
            raise OSError("disk full while auditing")
        return real_record(actor, action, slug, detail)

    monkeypatch.setattr(audit, "record", record)
    with app.app_context():
        job = Job(kind="install", slug="hello", state="running", phase="install", actor="test")
        db.session.add(job)
        db.session.commit()
        with pytest.raises(PanelError):
            install_package(path, "test", progress=jobs_service.Progress(job).installer, job_id=job.id)
        db.session.rollback()
        assert db.session.get(Module, "hello") is None
        assert db.session.query(ModulePackage).count() == 0
    assert not live(app).exists()
