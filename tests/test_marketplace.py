"""The panel's marketplace against the hub on a real loopback port: catalog cache, failures, pages, jobs."""

import json
import re
import threading
import time

import pytest
from sqlalchemy import event, select

from conftest import htmx_post, install_sample
from panel.extensions import db
from panel.marketplace import catalog
from panel.models import CatalogCache, Job, Module
from panel.runtime.registry import bump_code_generation
from panel.services import jobs

BANNER = "Marketplace unreachable — showing the catalog from"


def fetch(admin_client):
    """Press Refresh (htmx) and return the status it reports."""
    response = htmx_post(admin_client, "/marketplace/refresh")
    assert response.status_code == 200
    match = re.search(r'id="mp-refresh-status"[^>]*data-status="(\w+)"', response.get_data(as_text=True))
    return match.group(1), response.get_data(as_text=True)


def cache_row(app) -> CatalogCache:
    with app.app_context():
        row = db.session.scalars(select(CatalogCache).where(CatalogCache.url.like("%/api/modules"))
                                 .order_by(CatalogCache.fetched_at.desc().nulls_last())).first()
        db.session.expunge_all()
        return row


def catalog_count(app) -> int:
    with app.app_context():
        return catalog.current_catalog().count


def marketplace_html(client, query="") -> str:
    response = client.get("/marketplace" + query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def card_slugs(html: str) -> list[str]:
    return re.findall(r'class="col mp-card-col" id="mp-([a-z0-9_]+)"', html)


# --- small WSGI stores that misbehave ---------------------------------------------------------------

def respond(status, body=b"", headers=None):
    def app(environ, start_response):
        start_response(status, list((headers or {"Content-Type": "application/json"}).items()))
        return [body] if isinstance(body, bytes) else body
    return app


def slow_store(seconds):
    def app(environ, start_response):
        time.sleep(seconds)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"modules": []}']
    return app


def huge_store(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])  # no Content-Length: capped while streaming
    chunk = b" " * (1024 * 1024)
    return (chunk for _ in range(20))


# --- catalog fetch, 304, background refresh, Refresh button --------------------------------------

def test_refresh_fetches_the_catalog_then_answers_unchanged(app, admin_client, hub_server):
    status, html = fetch(admin_client)
    assert status == "updated" and "updated just now" in html
    assert {"hello", "notes", "invoices_pro", "notes_export", "broken"} <= set(card_slugs(html))
    row = cache_row(app)
    assert row.fetched_at is not None and row.etag and catalog_count(app) >= 5
    status, html = fetch(admin_client)
    assert status == "unchanged" and "unchanged" in html
    assert BANNER not in html


def test_not_modified_writes_nothing_to_the_catalog(app, admin_client, hub_server):
    fetch(admin_client)
    before = cache_row(app)
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert catalog.refresh().status == "unchanged"
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert all("data" not in s.split("WHERE")[0] and "etag" not in s.split("WHERE")[0] for s in writes), writes
    after = cache_row(app)
    assert (after.fetched_at, after.etag) == (before.fetched_at, before.etag)


def test_page_never_waits_and_refreshes_in_the_background(app, admin_client, hub_server):
    fetch(admin_client)
    app.config["CATALOG_TTL_SECONDS"] = 0
    hub_server.store.set_extra([{"slug": "fresh_one", "name": "Fresh one", "version": "1.0.0", "summary": "new"}])
    release = threading.Event()
    hub = hub_server.hub

    def held_store(environ, start_response):
        release.wait(10)
        return hub(environ, start_response)

    hub_server.override = held_store
    try:
        html = marketplace_html(admin_client)  # answered while the store is still holding the request
        assert "hello" in card_slugs(html) and "fresh_one" not in card_slugs(html)
        assert not release.is_set()
    finally:
        release.set()
    with app.app_context():
        catalog.wait_for_background(10)
    assert "fresh_one" in card_slugs(marketplace_html(admin_client))


def test_first_visit_shows_a_waiting_list_that_reloads_itself(app, admin_client, hub_server):
    release = threading.Event()
    hub = hub_server.hub
    hub_server.override = lambda environ, start_response: (release.wait(10), hub(environ, start_response))[1]
    try:
        html = marketplace_html(admin_client)
        assert "Fetching the catalog" in html and 'hx-trigger="load delay:1s"' in html
    finally:
        release.set()
    with app.app_context():
        catalog.wait_for_background(10)
    html = admin_client.get("/marketplace", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hello" in card_slugs(html) and "load delay:1s" not in html


# --- failures keep the cached catalog and show the banner ----------------------------------------

FAILURES = {
    "down": None,
    "500": respond("500 INTERNAL SERVER ERROR", b'{"error": "boom"}'),
    "invalid_json": respond("200 OK", b'{"modules": [ this is not json'),
    "not_a_catalog": respond("200 OK", b'{"modules": "nope"}'),
    "huge": huge_store,
    "redirect_elsewhere": respond("302 FOUND", b"", {"Location": "http://example.com/api/modules"}),
}


@pytest.mark.parametrize("failure", sorted(FAILURES) + ["slow", "file_url", "ftp_url"])
def test_a_failing_store_keeps_the_cached_catalog_with_a_banner(app, admin_client, hub_server, failure):
    fetch(admin_client)
    fetched_at = cache_row(app).fetched_at
    app.config["MARKETPLACE_MAX_JSON_BYTES"] = 16 * 1024 * 1024
    if failure == "down":
        hub_server.stop()
    elif failure == "slow":
        app.config.update(MARKETPLACE_READ_TIMEOUT=0.3, MARKETPLACE_RETRIES=1)
        hub_server.override = slow_store(2)
    elif failure == "file_url":
        app.config["MARKETPLACE_URL"] = "file:///etc/passwd"
    elif failure == "ftp_url":
        app.config["MARKETPLACE_URL"] = "ftp://127.0.0.1/store"
    else:
        hub_server.override = FAILURES[failure]
    status, html = fetch(admin_client)
    assert status == "failed"
    assert BANNER in html and "hello" in card_slugs(html)
    page = marketplace_html(admin_client)
    assert BANNER in page and "hello" in card_slugs(page)
    assert cache_row(app).fetched_at == fetched_at
    reasons = {"slow": "in time", "huge": "larger than", "redirect_elsewhere": "another host",
               "file_url": "http:// or https://", "invalid_json": "not valid JSON", "500": "HTTP 500"}
    if failure in reasons:
        assert reasons[failure] in page


def test_a_store_that_recovers_clears_the_banner(app, admin_client, hub_server):
    fetch(admin_client)
    hub_server.override = FAILURES["500"]
    assert fetch(admin_client)[0] == "failed"
    hub_server.override = None
    status, html = fetch(admin_client)
    assert status in ("updated", "unchanged") and BANNER not in html


def test_malformed_entries_are_skipped_and_counted(app, admin_client, hub_server):
    hub_server.store.set_extra([
        {"slug": "good_extra", "name": "Good extra", "version": "2.0", "summary": "fine"},
        {"slug": "bad_name", "name": 42, "version": "1.0"},
        {"name": "No slug", "version": "1.0"},
        {"slug": "bad_version", "name": "Bad version", "version": "not a version"},
        {"slug": "bad_paid", "name": "Bad paid", "version": "1.0", "paid": "yes"},
        "not even an object",
    ])
    status, html = fetch(admin_client)
    assert status == "updated"
    slugs = card_slugs(html)
    assert "good_extra" in slugs and "hello" in slugs
    assert not {"bad_name", "bad_version", "bad_paid"} & set(slugs)
    assert "5 malformed entries skipped" in html
    assert cache_row(app).skipped == 5


def test_hostile_store_strings_render_inert(app, admin_client, hub_server):
    hostile = {
        "slug": "evil", "name": "<script>alert('name')</script>", "version": "1.0.0",
        "summary": "<img src=x onerror=alert('summary')>", "author": "\"><svg onload=alert(1)>",
        "category": "<b>cat</b>", "docs_url": "javascript:alert('docs')", "homepage": "data:text/html,hi",
        "icon": "x\" onmouseover=\"alert(1)",
    }
    hub_server.store.set_extra([hostile])
    fetch(admin_client)
    detail = {
        "description": "Hi <script>alert('md')</script> <img src=x onerror=alert('md')> "
                       "[click](javascript:alert('link')) <a href=\"javascript:alert(2)\">raw</a> "
                       "<iframe src=\"http://example.com\"></iframe>",
        "eula": "<script>alert('eula')</script>**terms**",
        "screenshots": [{"url": "javascript:alert('shot')", "caption": "<script>x</script>"}],
        "links": [{"title": "<b>t</b>", "url": "javascript:alert('l')"}, {"title": "ok", "url": "https://example.org/"}],
        "versions": [{"version": "1.0.0", "date": "<i>d</i>", "notes": "<script>alert('notes')</script>*ok*",
                      "requires_core": ">=1.0"}],
    }
    hub = hub_server.hub

    def store(environ, start_response):
        if environ["PATH_INFO"] == "/api/modules/evil":
            return respond("200 OK", json.dumps(detail).encode())(environ, start_response)
        return hub(environ, start_response)

    hub_server.override = store
    pages = [marketplace_html(admin_client, "?q=evil")]
    for tab in ("description", "versions", "licence"):
        response = admin_client.get(f"/marketplace/evil?tab={tab}", headers={"HX-Request": "true"})
        assert response.status_code == 200
        pages.append(response.get_data(as_text=True))
    pages.append(admin_client.get("/marketplace/evil").get_data(as_text=True))
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html and "<svg" not in html
        assert "javascript:" not in html and "data:text/html" not in html and "<iframe" not in html
        assert not re.search(r"<[a-z][^>]*\son(error|load|mouseover)\s*=", html)  # no live event attribute
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in pages[0]
    assert "<em>ok</em>" in pages[2] and "<strong>terms</strong>" in pages[3]
    assert 'href="https://example.org/"' in pages[1]


# --- browsing ------------------------------------------------------------------------------------

def test_search_category_price_and_installed_filters(app, admin_client, hub_server):
    install_sample(app, "notes")  # 1.0.0; the store has 1.1.0
    fetch(admin_client)
    assert card_slugs(marketplace_html(admin_client, "?q=invoice")) == ["invoices_pro"]
    assert set(card_slugs(marketplace_html(admin_client, "?q=notes"))) == {"notes", "notes_export"}
    assert card_slugs(marketplace_html(admin_client, "?price=paid")) == ["invoices_pro"]
    assert "invoices_pro" not in card_slugs(marketplace_html(admin_client, "?price=free"))
    assert card_slugs(marketplace_html(admin_client, "?category=Billing")) == ["invoices_pro"]
    assert card_slugs(marketplace_html(admin_client, "?show=installed")) == ["notes"]
    html = marketplace_html(admin_client, "?show=updates")
    assert card_slugs(html) == ["notes"] and "Update to 1.1.0" in html
    fragment = admin_client.get("/marketplace?q=hello", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.startswith('<div id="mp-results"') and "<html" not in fragment


def test_card_actions_install_update_installed_and_incompatible(app, admin_client, hub_server):
    install_sample(app, "notes")
    install_sample(app, "hello")
    hub_server.store.set_extra([{"slug": "future_only", "name": "Future only", "version": "3.0.0",
                                 "requires_core": ">=3.0", "summary": "needs a newer panel"}])
    fetch(admin_client)
    html = marketplace_html(admin_client)

    def action(slug):
        card = html.split(f'id="mp-{slug}"', 1)[1].split('class="col mp-card-col"', 1)[0]
        return re.search(r'data-action="(\w+)"', card).group(1), card

    assert action("invoices_pro")[0] == "install"
    kind, card = action("notes")
    assert kind == "update" and 'name="version" value="1.1.0"' in card
    assert action("hello")[0] == "installed" and "Reinstall" in action("hello")[1]  # 2.0.0 needs core 2
    assert action("future_only")[0] == "incompatible"
    assert 'action="/marketplace/invoices_pro/install"' in html


def test_a_kept_page_follows_installs_and_versions_written_by_another_worker(app, admin_client, hub_server):
    """A marketplace page is read from the database once and kept until the catalog, module code or
    module rows move; a toggle moves none of them, an install or a version written elsewhere does."""
    fetch(admin_client)

    def action(slug):
        html = marketplace_html(admin_client)
        return re.search(r'data-action="(\w+)"', html.split(f'id="mp-{slug}"', 1)[1]).group(1)

    assert action("notes") == "install"
    install_sample(app, "notes")  # another worker's install: same database, not this request's
    assert action("notes") == "update"  # the sample is 1.0.0, the store has 1.1.0
    htmx_post(admin_client, "/modules/notes/enable")
    assert action("notes") == "update"
    with app.app_context():  # the newer version landed on another node (its installer moves `code`)
        db.session.execute(Module.__table__.update().where(Module.slug == "notes").values(version="1.1.0"))
        bump_code_generation()
        db.session.commit()
    assert action("notes") == "installed"


def test_paging_a_large_catalog(app, admin_client, hub_server):
    hub_server.store.synthetic = 60
    hub_server.store.set_extra([])
    fetch(admin_client)
    first = marketplace_html(admin_client, "?q=synthetic")
    assert len(card_slugs(first)) == 24 and "Page 1 of 3" in first
    third = marketplace_html(admin_client, "?q=synthetic&page=3")
    assert len(card_slugs(third)) == 12 and "Page 3 of 3" in third
    assert not set(card_slugs(first)) & set(card_slugs(third))
    assert "Page 3 of 3" in marketplace_html(admin_client, "?q=synthetic&page=999")


def test_module_card_tabs_deep_link_and_mark_incompatible_versions(app, admin_client, hub_server):
    fetch(admin_client)
    page = admin_client.get("/marketplace/hello?tab=versions").get_data(as_text=True)
    assert 'data-tab="versions"' in page and "<html" in page
    versions = admin_client.get("/marketplace/hello?tab=versions", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert versions.startswith('<div id="mp-tabs"') and "<html" not in versions
    releases = re.findall(r'data-version="([^"]+)" data-compatible="(\w+)"', versions)
    assert releases == [("2.0.0", "no"), ("1.2.0", "yes"), ("1.0.0", "yes")]
    assert "Incompatible with panel 1.0.0" in versions and versions.count("Install this version") == 2
    assert "Minimum core: &gt;=2.0" in versions
    description = admin_client.get("/marketplace/invoices_pro", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<strong>" in description or "<ol>" in description
    assert description.count('class="figure-img img-thumbnail mp-screenshot"') == 2
    assert f"{hub_server.url}/media/invoices_pro/invoice.svg" in description
    licence = admin_client.get("/marketplace/invoices_pro?tab=licence", headers={"HX-Request": "true"})
    assert "Licence agreement — Invoices Pro" in licence.get_data(as_text=True)
    none = admin_client.get("/marketplace/hello?tab=licence", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "no licence agreement" in none
    # now cached: the full page shows the tab without asking the store again
    hub_server.stop()
    page = admin_client.get("/marketplace/invoices_pro?tab=licence").get_data(as_text=True)
    assert "Licence agreement — Invoices Pro" in page and "mp-loading" not in page
    assert admin_client.get("/marketplace/no_such_module").status_code == 404


def test_see_changes_lists_versions_newer_than_installed_newest_first(app, admin_client, hub_server):
    install_sample(app, "notes")
    fetch(admin_client)
    modules_page = admin_client.get("/modules").get_data(as_text=True)
    notes_card = modules_page.split('id="module-notes"', 1)[1]
    assert "See changes" in notes_card and "Update to 1.1.0" in notes_card
    modal = admin_client.get("/marketplace/notes/changes", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'class="modal fade mp-modal"' in modal
    assert re.findall(r'data-version="([^"]+)"', modal) == ["1.1.0"]
    install_sample(app, "hello")  # 1.2.0 installed; 2.0.0 is newer but needs core 2
    modal = admin_client.get("/marketplace/hello/changes", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert re.findall(r'data-version="([^"]+)"', modal) == ["2.0.0"] and "mp-incompatible" in modal


def test_whats_new_shows_the_core_changelog(admin_client, hub_server):
    html = admin_client.get("/marketplace/whats-new").get_data(as_text=True)
    assert "This panel" in html and "Newer than yours" in html and "<strong>Breaking:</strong>" in html


def test_dashboard_lists_available_updates(app, admin_client, hub_server):
    install_sample(app, "notes")
    html = admin_client.get("/").get_data(as_text=True)
    assert "not been fetched yet" in html
    fetch(admin_client)
    html = admin_client.get("/").get_data(as_text=True)
    widget = html.split('id="updates-widget"', 1)[1].split("</section>", 1)[0]
    assert 'data-slug="notes"' in widget and "1.1.0" in widget


# --- jobs ----------------------------------------------------------------------------------------

def run_job(app, admin_client, slug, version=None):
    response = htmx_post(admin_client, f"/marketplace/{slug}/install", {"version": version} if version else {})
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    job_id = int(re.search(r'data-job-id="(\d+)"', html).group(1))
    assert 'hx-trigger="load delay:500ms"' in html
    with app.app_context():
        jobs.wait_for_jobs(30)
    return job_id


def job_json(admin_client, job_id):
    response = admin_client.get(f"/jobs/{job_id}", headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def test_install_job_downloads_verifies_and_installs(app, admin_client, hub_server):
    fetch(admin_client)
    job_id = run_job(app, admin_client, "notes", "1.0.0")
    data = job_json(admin_client, job_id)
    assert data["state"] == "done", data["message"]
    assert data["percent"] == 100 and data["bytes_done"] == data["bytes_total"] > 0
    fragment = admin_client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-job-state="done"' in fragment and "hx-trigger" not in fragment
    with app.app_context():
        assert db.session.get(Module, "notes").version == "1.0.0"
        assert not list(__import__("pathlib").Path(app.config["CACHE_PATH"]).glob("job-*"))
    assert (app.instance_path and json.loads((__import__("pathlib").Path(app.instance_path)
                                             / "marketplace_keys.json").read_text()))
    # and now an update from the module's card
    job_id = run_job(app, admin_client, "notes", "1.1.0")
    assert job_json(admin_client, job_id)["state"] == "done"
    with app.app_context():
        assert db.session.get(Module, "notes").version == "1.1.0"


def test_running_job_fragment_polls_itself_and_page_shows_it(app, admin_client):
    with app.app_context():
        job = Job(kind="install", slug="hello", state="running", phase="download", bytes_done=50, bytes_total=100,
                  params={"version": "1.2.0", "name": "Hello"})
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    fragment = admin_client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'hx-get="/jobs/{job_id}"' in fragment and 'hx-trigger="load delay:500ms"' in fragment
    assert 'value="27"' in fragment and "Downloading" in fragment
    assert "<html" in admin_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert admin_client.get("/jobs/999", headers={"Accept": "application/json"}).status_code == 404


def test_tampered_package_or_foreign_key_fails_the_job_and_installs_nothing(app, admin_client, hub_server):
    fetch(admin_client)
    hub = hub_server.hub

    def tampered(environ, start_response):
        if environ["PATH_INFO"].endswith("/download"):
            return respond("200 OK", b"PK\x03\x04 not the package", {"Content-Type": "application/zip"})(
                environ, start_response)
        return hub(environ, start_response)

    hub_server.override = tampered
    data = job_json(admin_client, run_job(app, admin_client, "notes", "1.0.0"))
    assert data["state"] == "failed" and "checksum" in data["message"]
    hub_server.override = None
    # a key pinned earlier that the store no longer signs with
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    import base64
    other = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw,
                                                                  serialization.PublicFormat.Raw)
    pins = __import__("pathlib").Path(app.instance_path) / "marketplace_keys.json"
    pins.write_text(json.dumps({hub_server.url + "/": base64.b64encode(other).decode()}))
    data = job_json(admin_client, run_job(app, admin_client, "notes", "1.0.0"))
    assert data["state"] == "failed" and "signature" in data["message"]
    with app.app_context():
        assert db.session.get(Module, "notes") is None


def test_install_refuses_incompatible_or_unknown_versions(app, admin_client, hub_server):
    fetch(admin_client)
    response = htmx_post(admin_client, "/marketplace/hello/install", {"version": "2.0.0"})
    assert response.status_code == 409 and "needs panel" in response.get_data(as_text=True)
    assert htmx_post(admin_client, "/marketplace/hello/install", {"version": "7.0"}).status_code == 404
    assert htmx_post(admin_client, "/marketplace/nope/install").status_code == 404


def test_interrupted_jobs_are_failed_at_start(app, tmp_path, migrated_db):
    from conftest import make_app

    with app.app_context():
        db.session.add(Job(kind="install", slug="hello", state="running", phase="download",
                           params={"pid": 2 ** 22 + 12345, "host": __import__("socket").gethostname(),
                                   "download": "job-1-hello-1.0.0.zip"}))
        db.session.commit()
    (__import__("pathlib").Path(app.config["CACHE_PATH"]) / "job-1-hello-1.0.0.zip.part").write_bytes(b"half")
    restarted = __import__("panel").create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path,
                                                "SECRET_KEY": "test-secret"})
    with restarted.app_context():
        job = db.session.scalars(select(Job)).one()
        assert job.state == "failed" and "Interrupted" in job.message
        db.engine.dispose()
    assert not list(__import__("pathlib").Path(app.config["CACHE_PATH"]).glob("job-1-*"))
