"""Crash recovery tells the truth about jobs: a process killed at each install step, then the panel
restarted; and jobs whose heartbeat stopped (time-machine moves past the bound)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import time_machine
from installer_kit import ROOT, package

from conftest import install_sample, make_app, sqlite_only
from panel.extensions import db
from panel.marketplace import catalog
from panel.marketplace import jobs as install_jobs
from panel.models import Job, Module, utcnow
from panel.services import jobs

CHILD = """
import os, socket, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from panel import create_app
from panel.extensions import db
from panel.installer import install_package
from panel.models import Job
app = create_app({{"TESTING": True, "INSTANCE_PATH": {instance!r}, "SECRET_KEY": "x", "EMBEDDED_HUB": False}})
with app.app_context():
    download = Path(app.config["CACHE_PATH"]) / "job-{job_id}-hello-1.3.0.zip"
    download.parent.mkdir(parents=True, exist_ok=True)
    download.write_bytes(open({zip!r}, "rb").read())
    Path(str(download) + ".part").write_bytes(b"half")
    job = db.session.get(Job, {job_id})
    job.state, job.params = "running", {{**job.params, "pid": os.getpid(), "host": socket.gethostname(),
                                         "download": str(download)}}
    db.session.commit()
    install_package(str(download), "child", source="marketplace", expected_slug="hello", job_id={job_id})
print("completed")
"""

STEPS = ["validated", "extracted", "swapped", "committed", "finished"]


def queued_job(app) -> int:
    with app.app_context():
        job = Job(kind="install", slug="hello", active_slug="hello", state="queued", phase="install", actor="t",
                  params={"version": "1.3.0", "name": "Hello"})
        db.session.add(job)
        db.session.commit()
        job_id = job.id
        db.engine.dispose()
    return job_id


def restart(instance: Path):
    from panel import create_app

    return create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "SECRET_KEY": "x", "EMBEDDED_HUB": False})


@sqlite_only  # each step's copy of the instance folder carries its own copy of the database
def test_a_job_killed_at_each_step_is_reported_as_what_really_happened(tmp_path, migrated_db):
    base = tmp_path / "base"
    app = make_app(base, migrated_db, EMBEDDED_HUB=False)
    install_sample(app, "hello")  # 1.2.0 live; the job updates it to 1.3.0
    job_id = queued_job(app)
    zip_path = package(tmp_path, version="1.3.0")
    children = {}
    for step in STEPS:
        shutil.copytree(base, tmp_path / step)
        code = CHILD.format(root=str(ROOT), instance=str(tmp_path / step), zip=str(zip_path), job_id=job_id)
        children[step] = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          env={**os.environ, "PANEL_INSTALLER_FAULT": f"kill:{step}"})
    for step, child in children.items():
        child.wait(timeout=60)
        assert child.returncode == -signal.SIGKILL, (step, child.stderr.read().decode()[-2000:])
        app = restart(tmp_path / step)
        with app.app_context():
            job = db.session.get(Job, job_id)
            version = db.session.get(Module, "hello").version
            if step in ("committed", "finished"):  # the change was live: the job says so
                assert version == "1.3.0", step
                assert job.state == "done", (step, job.message)
                assert "stopped" in job.message and "kept" in job.message, step
            else:
                assert version == "1.2.0", step
                assert job.state == "failed", (step, job.message)
                assert "interrupted" in job.message.lower(), step
            assert job.active_slug is None, step
            cache = Path(app.config["CACHE_PATH"])
            assert not list(cache.glob("job-*")), (step, list(cache.iterdir()))  # download and .part removed
            staging = Path(app.config["STAGING_PATH"])
            assert not [p for p in staging.iterdir() if p.name not in ("tmp", "uploads")], step
            db.engine.dispose()


def active_job(app, **changes) -> int:
    with app.app_context():
        job = Job(kind="install", slug="hello", active_slug="hello", state="running", phase="download", actor="t",
                  heartbeat_at=utcnow(), params={"version": "1.3.0", "name": "Hello", **changes})
        db.session.add(job)
        db.session.commit()
        return job.id


def test_a_job_whose_heartbeat_stopped_is_failed_after_the_bound_on_any_request(app, admin_client):
    job_id = active_job(app, host="another-node", pid=1)
    bound = app.config["JOB_DEAD_AFTER_SECONDS"]
    with time_machine.travel(utcnow() + timedelta(seconds=bound / 2)):
        assert admin_client.get(f"/jobs/{job_id}", headers={"Accept": "application/json"}).json["state"] == "running"
    with time_machine.travel(utcnow() + timedelta(seconds=bound + 1)):
        answer = admin_client.get(f"/jobs/{job_id}", headers={"Accept": "application/json"}).json
    assert answer["state"] == "failed" and "Interrupted" in answer["message"]


def test_a_later_install_is_not_handed_a_dead_job(app, hub_server):
    """The process id was reused (this very process): only the heartbeat tells it is dead."""
    dead = active_job(app, host=socket.gethostname(), pid=os.getpid())
    with app.app_context():
        catalog.refresh()
        job, created = install_jobs.create_install("hello", None, "t")
        assert not created and job.id == dead  # alive by its heartbeat: the second press joins it
    with time_machine.travel(utcnow() + timedelta(seconds=app.config["JOB_DEAD_AFTER_SECONDS"] + 1)):
        with app.app_context():
            job, created = install_jobs.create_install("hello", None, "t")
            assert created and job.id != dead
            assert db.session.get(Job, dead).state == "failed"


def test_start_up_fails_a_job_with_a_live_but_reused_pid_once_its_heartbeat_is_old(app):
    job_id = active_job(app, host=socket.gethostname(), pid=os.getpid())
    with app.app_context():
        assert jobs.fail_interrupted_jobs() == 0  # fresh heartbeat, live pid: left alone
    with time_machine.travel(utcnow() + timedelta(seconds=app.config["JOB_DEAD_AFTER_SECONDS"] + 1)):
        with app.app_context():
            assert jobs.fail_interrupted_jobs() == 1
            assert db.session.get(Job, job_id).state == "failed"


def test_a_running_job_keeps_its_heartbeat_fresh(app):
    app.config["JOB_HEARTBEAT_SECONDS"] = 0.05
    job_id = active_job(app)
    with app.app_context():
        first = db.session.get(Job, job_id).heartbeat_at
        db.session.commit()
        with jobs.heartbeat(job_id):
            for _ in range(200):  # bounded: up to 10 s on a very slow machine
                db.session.expire_all()
                if db.session.get(Job, job_id).heartbeat_at != first:
                    break
                db.session.commit()
                jobs.threading.Event().wait(0.05)
        assert db.session.get(Job, job_id).heartbeat_at > first
