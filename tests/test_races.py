"""Concurrent presses over real HTTP (the panel on a loopback port, the hub on another): the database
settles each race, so there is one action and the other press gets a clear answer, never a 500.

Each test holds both requests at a barrier just after they have looked and before they write, so
the race happens every time instead of by luck."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from conftest import ON_POSTGRES, PASSWORD, create_admin, htmx_post, install_sample
from installer_kit import package
from panel.extensions import db
from panel.installer import pending
from panel.marketplace import catalog
from panel.marketplace import jobs as install_jobs
from panel.models import CatalogCache, Job, Module
from panel.services import jobs
from panel.services import modules as module_service


def signed_in(url) -> tuple[requests.Session, str]:
    session = requests.Session()
    session.trust_env = False
    html = session.get(f"{url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = session.post(f"{url}/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302
    html = session.get(f"{url}/modules", timeout=10).text
    return session, re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def held_at_barrier(monkeypatch, owner, name, parties=2):
    """Make `owner.name` wait, once per thread, until `parties` threads have called it."""
    original = getattr(owner, name)
    barrier = threading.Barrier(parties, timeout=10)
    waited = threading.local()

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait()
        return result

    monkeypatch.setattr(owner, name, wrapper)


def press_twice(url, path, data=None, htmx=True):
    sessions = [signed_in(url) for _ in range(2)]

    def press(pair):
        session, token = pair
        headers = {"X-CSRFToken": token, **({"HX-Request": "true"} if htmx else {})}
        return session.post(f"{url}{path}", data=data or {}, headers=headers, allow_redirects=False, timeout=30)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(press, sessions))


def test_two_refreshes_of_a_marketplace_never_fetched_store_one_catalog(app, live_server, hub_server,
                                                                         monkeypatch):
    create_admin(app)
    held_at_barrier(monkeypatch, catalog, "validate_catalog")  # both fetched; neither has written its row
    answers = press_twice(live_server.url, "/marketplace/refresh")
    assert [a.status_code for a in answers] == [200, 200], [a.text[-500:] for a in answers]
    for answer in answers:
        assert re.search(r'id="mp-refresh-status"[^>]*data-status="updated"', answer.text)
    with app.app_context():
        rows = db.session.scalars(select(CatalogCache).where(CatalogCache.url == catalog.catalog_url())).all()
        assert len(rows) == 1 and rows[0].last_error is None
        from panel.marketplace import catalog_rows
        assert catalog_rows.count(rows[0].generation_id) > 0  # the catalog's modules, stored once under the one row


def test_two_install_presses_make_one_job_and_the_second_is_told(app, live_server, hub_server, monkeypatch):
    create_admin(app)
    with app.app_context():
        assert catalog.refresh().status == "updated"
    held_at_barrier(monkeypatch, install_jobs, "_active_job")  # both saw no active job; both insert
    answers = press_twice(live_server.url, "/marketplace/hello/install")
    jobs.wait_for_jobs()
    assert [a.status_code for a in answers] == [200, 200], [a.text[-500:] for a in answers]
    told = [a for a in answers if "already running" in a.text]
    assert len(told) == 1
    ids = {re.search(r'data-job-id="(\d+)"', a.text).group(1) for a in answers}
    assert len(ids) == 1  # both show the same job
    with app.app_context():
        made = db.session.scalars(select(Job).where(Job.slug == "hello")).all()
        assert len(made) == 1 and made[0].state == "done", [(j.state, j.message) for j in made]
        assert made[0].active_slug is None
        assert db.session.get(Module, "hello").version


def test_a_job_is_run_once_even_if_two_processes_are_handed_it(app, hub_server):
    """The CLI's case: a second runner of the same job (another process) finds it claimed and does nothing."""
    with app.app_context():
        catalog.refresh()
        job, created = install_jobs.create_install("hello", None, "cli")
        assert created
        assert install_jobs.run_install(job.id).state == "done"
        again, created = install_jobs.create_install("hello", None, "cli")
        assert created and again.id != job.id  # a finished job never blocks the next one
        assert jobs.claim_run(again) is True and jobs.claim_run(again) is False


def test_double_click_on_install_after_an_upload_installs_once(app, live_server, tmp_path, monkeypatch):
    create_admin(app)
    session, token = signed_in(live_server.url)
    with open(package(tmp_path), "rb") as fh:
        html = session.post(f"{live_server.url}/modules/upload", files={"package": ("pkg.zip", fh)},
                            data={"csrf_token": token}, timeout=30).text
    upload_token = re.search(r"/modules/upload/([0-9a-f]{32})/install", html).group(1)
    held_at_barrier(monkeypatch, pending, "load")  # both found the upload waiting
    answers = press_twice(live_server.url, f"/modules/upload/{upload_token}/install")
    codes = sorted(a.status_code for a in answers)
    assert codes == [204, 409], [a.text[-500:] for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert "already being installed" in loser.text
    assert str(Path(app.config["STAGING_PATH"])) not in loser.text and "/tmp" not in loser.text
    with app.app_context():
        assert db.session.get(Module, "hello") is not None
    assert not list(Path(app.config["STAGING_PATH"], "uploads").iterdir())  # nothing left waiting


def test_an_upload_whose_install_failed_can_be_decided_again(app, admin_client, tmp_path):
    """The claim is given back when the install does not happen (here: a downgrade not confirmed)."""
    from test_upload import token_of, upload

    from conftest import htmx_post, install_sample

    install_sample(app, "hello")
    upload_token = token_of(upload(admin_client, package(tmp_path, version="0.9.0")).get_data(as_text=True))
    response = htmx_post(admin_client, f"/modules/upload/{upload_token}/install")
    assert response.status_code in (400, 422)
    response = htmx_post(admin_client, f"/modules/upload/{upload_token}/install", {"confirm_downgrade": "1"})
    assert response.status_code == 204


@pytest.fixture(autouse=True)
def _no_background_leftovers():
    yield
    jobs.wait_for_jobs()
    catalog.wait_for_background()


def test_a_second_cli_install_while_one_runs_says_so_in_one_line(app, hub_server):
    """Two `modules install` at once: the second finds the first's active job and stops, no traceback."""
    from panel.models import utcnow

    with app.app_context():
        catalog.refresh()
        running = Job(kind="install", slug="hello", active_slug="hello", state="running", phase="download",
                      heartbeat_at=utcnow(), params={"name": "Hello", "version": "1.2.0"})
        db.session.add(running)
        db.session.commit()
        running_id = running.id
    result = app.test_cli_runner().invoke(args=["modules", "install", "hello", "--yes"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"already running (job {running_id})" in result.output
    with app.app_context():
        assert db.session.scalars(select(Job).where(Job.slug == "hello")).all()[0].id == running_id
        assert len(db.session.scalars(select(Job).where(Job.slug == "hello")).all()) == 1


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite lets one writer at a time: there is no row lock to observe")
@pytest.mark.parametrize("action", ["enable", "disable"])
def test_a_toggle_holds_its_modules_row_from_the_moment_it_reads_it(app, admin_client, monkeypatch, action):
    """Raced toggles from two nodes are ordered by the database: between a toggle reading the module's
    state and committing its change (with the audit entry), no other transaction can take that row."""
    install_sample(app, "hello")
    if action == "disable":
        assert htmx_post(admin_client, "/modules/hello/enable").status_code == 200
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    seen = []

    def try_the_row(original):
        def checked(*args, **kwargs):  # runs after the toggle read the state, before it writes
            with other.connect() as connection:
                try:
                    connection.execute(text("SELECT state FROM modules WHERE slug = 'hello' FOR UPDATE NOWAIT"))
                    seen.append("free")
                except OperationalError:
                    seen.append("locked")
            return original(*args, **kwargs)
        return checked

    monkeypatch.setattr(module_service.licenses, "require_run", try_the_row(module_service.licenses.require_run))
    monkeypatch.setattr(module_service.dependencies, "dependants", try_the_row(module_service.dependencies.dependants))
    try:
        response = htmx_post(admin_client, f"/modules/hello/{action}")
    finally:
        other.dispose()
    assert response.status_code == 200
    assert seen and set(seen) == {"locked"}
