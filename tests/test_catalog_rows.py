"""The catalog stored as rows: a refresh is all or nothing, a store's change list patches it, and
search and filters find what the in-memory catalog found."""

import pytest
from sqlalchemy import func, select

from panel.extensions import db
from panel.marketplace import bulk_writes, catalog, catalog_rows
from panel.models import CatalogEntry, CatalogGeneration, Module
from panel.versions import newer


def slugs_shown(app) -> list[str]:
    with app.app_context():
        shown = catalog.current_catalog()
        return [e["slug"] for e in catalog.browse(shown, per_page=10_000).entries]


def extra(i: int, **fields) -> dict:
    return {"slug": f"extra_{i:03d}", "name": f"Extra {i:03d}", "version": "1.0.0", "summary": "added", **fields}


def test_a_refresh_stopped_half_way_leaves_the_previous_catalog_served_whole(app, hub_server, monkeypatch):
    with app.app_context():
        assert catalog.refresh().status == "updated"
    before = slugs_shown(app)
    hub_server.store.set_extra([extra(i) for i in range(40)])
    written = []

    def row_then_fail(generation_id, entry, real=catalog_rows.row_values):
        if len(written) == 12:
            raise OSError("disk full")  # the worker dies with half the rows written
        written.append(entry)
        return real(generation_id, entry)

    monkeypatch.setattr(catalog_rows, "BATCH", 5)  # two batches written (SQLite), twelve rows sent (COPY)
    monkeypatch.setattr(catalog_rows, "row_values", row_then_fail)
    with app.app_context():
        result = catalog.refresh()
    assert result.status == "failed" and "previous one is still shown" in result.message
    assert len(written) == 12
    assert slugs_shown(app) == before
    monkeypatch.undo()
    with app.app_context():
        assert catalog.refresh().status == "updated"
    assert set(slugs_shown(app)) == set(before) | {f"extra_{i:03d}" for i in range(40)}


def test_a_store_sends_only_what_changed_since_the_stored_version(app, hub_server, monkeypatch):
    hub_server.store.set_extra([extra(1), extra(2)])
    with app.app_context():
        assert catalog.refresh().status == "updated"
    hub_server.store.set_extra([extra(1, name="Extra renamed"), extra(3)])  # 1 changed, 2 removed, 3 added
    patched, replaced = [], []
    monkeypatch.setattr(catalog_rows, "patch", lambda cid, changed, removed, real=catalog_rows.patch:
                        patched.append((sorted(e["slug"] for e in changed), removed)) or real(cid, changed, removed))
    monkeypatch.setattr(catalog_rows, "replace", lambda *a, real=catalog_rows.replace: replaced.append(1) or real(*a))
    with app.app_context():
        assert catalog.refresh().status == "updated"
        assert catalog.entry("extra_001")["name"] == "Extra renamed"
        assert catalog.entry("extra_002") is None and catalog.entry("extra_003") is not None
        hits = catalog.browse(catalog.current_catalog(), query="renamed").entries
        assert [e["slug"] for e in hits] == ["extra_001"]
    assert patched == [(["extra_001", "extra_003"], ["extra_002"])] and not replaced
    with app.app_context():  # nothing changed since: a 304, the rows untouched
        assert catalog.refresh().status == "unchanged"


def stored_rows(app) -> tuple[int, int]:
    """How many catalog rows and generations the database holds, shown or not."""
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(CatalogEntry)),
                db.session.scalar(select(func.count()).select_from(CatalogGeneration)))


def test_a_worker_stopped_before_its_clean_up_leaves_rows_nobody_sees_and_the_next_refresh_deletes(
        app, monkeypatch):
    monkeypatch.setattr(bulk_writes, "in_background", lambda *args, **kwargs: None)  # dies right after its commit
    with app.app_context():
        catalog.save_catalog([catalog.validate_entry(extra(i, summary="old words")) for i in range(30)])
        catalog.save_catalog([catalog.validate_entry(extra(i, summary="new words")) for i in range(10, 20)])
        shown = catalog.current_catalog()
        assert shown.count == 10
        found = catalog.browse(shown, query="words", per_page=100)
        assert [e["slug"] for e in found.entries] == [f"extra_{i:03d}" for i in range(10, 20)]
        assert catalog.browse(shown, query="old").total == 0 and catalog.browse(shown, query="ol").total == 0
        assert catalog.entry("extra_001") is None and set(catalog.verdicts(["extra_001", "extra_012"])) == {"extra_012"}
    assert stored_rows(app) == (40, 2)  # the replaced catalog is still there, unreachable
    monkeypatch.undo()
    with app.app_context():
        catalog.save_catalog([catalog.validate_entry(extra(i, summary="newest")) for i in range(5)])
    bulk_writes.wait_for_background()
    assert stored_rows(app) == (5, 1)
    assert slugs_shown(app) == [f"extra_{i:03d}" for i in range(5)]


def test_a_catalog_shown_before_stays_searchable_after_another_store_is_refreshed(app):
    with app.app_context():
        catalog.save_catalog([catalog.validate_entry(extra(1, summary="alpha words"))],
                             url="http://first.example/api/modules")
        catalog.save_catalog([catalog.validate_entry(extra(2, summary="beta words"))],
                             url="http://second.example/api/modules")
    bulk_writes.wait_for_background()
    app.config["MARKETPLACE_URL"] = "http://first.example/"
    with app.app_context():
        found = catalog.browse(catalog.current_catalog(), query="words").entries
    assert [e["slug"] for e in found] == ["extra_001"]
    assert stored_rows(app) == (2, 2)


# --- the same answers as the in-memory catalog ----------------------------------------------------

ENTRIES = [
    {"slug": "calendar", "name": "Calendar", "summary": "Events and 100% uptime_reports", "author": "Ann",
     "category": "Tools", "paid": False},
    {"slug": "crm_pro", "name": "CRM Pro", "summary": "Customers, «deals» and Öl", "author": "Bob",
     "category": "Sales", "paid": True},
    {"slug": "mailer", "name": "mailer", "summary": "Mail to customers", "author": "ann",
     "category": "Mail", "paid": False},
    {"slug": "uptime", "name": "Uptime", "summary": 'Checks "quoted" hosts', "author": "Cé",
     "category": "Tools", "paid": True, "requires_core": ">=99"},
    {"slug": "zeta_x", "name": "Zeta", "summary": "a_b c%d x", "author": "Zed", "category": "", "paid": False},
]
QUERIES = ["", "cal", "CAL", "en", "a", "customers", "cust ann", "100%", "_", "%", "«deals»", "öl", "ÖL",
           '"quoted"', "'", "ime_r", "tools", "pro sales", "x", "a_b", "c%d", "nothing here", "AND", "*", "OR cal",
           "NEAR(", "e"]


def old_browse(entries, installed, query="", category="", price="", show=""):
    """The in-memory search this move replaced, as it was: every term a substring of the entry's
    lower-cased text, filters in Python, ordered by name."""
    rows = sorted(entries, key=lambda e: (e["name"].lower(), e["slug"]))
    if category:
        rows = [e for e in rows if e["category"] == category]
    if price:
        rows = [e for e in rows if e["paid"] == (price == "paid")]
    if show == "installed":
        rows = [e for e in rows if e["slug"] in installed]
    elif show == "updates":
        rows = [e for e in rows if e["slug"] in installed and newer(e["compatible"], installed[e["slug"]])]
    for term in query.lower().split():
        rows = [e for e in rows if term in catalog_rows.search_text(e)]
    return [e["slug"] for e in rows]


@pytest.fixture
def stored(app):
    entries = [catalog.validate_entry({"version": "2.0.0", **e}) for e in ENTRIES]
    with app.app_context():
        catalog.save_catalog(entries)
        compatible = {e["slug"]: catalog.entry(e["slug"])["compatible"] for e in entries}
    return [{**e, "compatible": compatible[e["slug"]]} for e in entries]


@pytest.mark.parametrize("query", QUERIES)
def test_search_finds_what_the_in_memory_search_found(app, stored, query):
    with app.app_context():
        found = [e["slug"] for e in catalog.browse(catalog.current_catalog(), query=query, per_page=100).entries]
    assert found == old_browse(stored, {}, query)


@pytest.mark.parametrize("filters", [{"category": "Tools"}, {"category": "Nope"}, {"price": "paid"}, {"price": "free"},
                                     {"show": "installed"}, {"show": "updates"}, {"show": "updates", "query": "cal"},
                                     {"category": "Tools", "price": "paid", "query": "up"}])
def test_filters_find_what_the_in_memory_filters_found(app, stored, filters):
    with app.app_context():  # calendar has an update, crm_pro is current, uptime's update needs a newer core
        for slug, version in (("calendar", "1.0.0"), ("crm_pro", "2.0.0"), ("uptime", "1.0.0")):
            db.session.add(Module(slug=slug, name=slug.title(), version=version))
        db.session.commit()
        installed = catalog.installed_versions()
        found = [e["slug"] for e in catalog.browse(catalog.current_catalog(), per_page=100, **filters).entries]
    assert found == old_browse(stored, installed, **filters)


def test_on_postgresql_search_and_changes_give_the_same_answers(tmp_path, postgres_server):
    """The PostgreSQL path (LIKE, pg_trgm when it can be created) against the same reference."""
    import flask_migrate

    from panel import MIGRATIONS_DIR, create_app

    server = postgres_server  # skips with how to install it, or fails where CI=true
    server.execute("DROP DATABASE IF EXISTS catalog_rows")
    server.execute("CREATE DATABASE catalog_rows")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "test", "EMBEDDED_HUB": False,
                      "DATABASE_URL": server.url("catalog_rows")})
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        entries = [catalog.validate_entry({"version": "2.0.0", **e}) for e in ENTRIES]
        assert catalog.save_catalog(entries) == (5, 0)
        stored = [{**e, "compatible": catalog.entry(e["slug"])["compatible"]} for e in entries]
        for query in QUERIES:
            found = [e["slug"] for e in catalog.browse(catalog.current_catalog(), query=query, per_page=100).entries]
            assert found == old_browse(stored, {}, query), query
        catalog.save_catalog(entries[:1], removed=["uptime"])
        assert [e["slug"] for e in catalog.browse(catalog.current_catalog()).entries] == [
            "calendar", "crm_pro", "mailer", "zeta_x"]
        db.engine.dispose()


@pytest.mark.parametrize("query", ["cal", "customers", "cust ann", "pro sales", "tools up", "e"])
@pytest.mark.parametrize("category", ["", "Tools"])
def test_a_term_common_to_many_entries_gives_the_same_answer(app, stored, monkeypatch, query, category):
    """Any term found in at least one entry counts as common here, so the rows a rarer term or the
    category leaves are checked with LIKE instead of the index: the answer must not change."""
    monkeypatch.setattr(catalog_rows, "COMMON_ROWS", 1)
    with app.app_context():
        found = [e["slug"] for e in catalog.browse(catalog.current_catalog(), query=query, category=category,
                                                   per_page=100).entries]
    assert found == old_browse(stored, {}, query, category=category)


def test_paging_a_search_counts_every_match_and_a_page_past_the_end_shows_the_last(app, stored):
    expected = old_browse(stored, {}, "a")
    assert len(expected) >= 3
    with app.app_context():
        shown = catalog.current_catalog()
        second = catalog.browse(shown, query="a", page=2, per_page=2)
        past = catalog.browse(shown, query="a", page=99, per_page=2)
        nothing = catalog.browse(shown, query="no such words", page=3, per_page=2)
    assert (second.total, second.pages, [e["slug"] for e in second.entries]) == (
        len(expected), -(-len(expected) // 2), expected[2:4])
    last = (len(expected) - 1) // 2 * 2
    assert (past.page, past.total, [e["slug"] for e in past.entries]) == (past.pages, len(expected), expected[last:])
    assert (nothing.page, nothing.total, nothing.entries) == (1, 0, [])


def test_an_address_urlsplit_cannot_read_loses_the_address_not_the_entry():
    entry = catalog.validate_entry({"slug": "odd_links", "name": "Odd", "version": "1.0.0",
                                    "docs_url": "http://[::1", "homepage": "https://example.org/a b"})
    assert (entry["docs_url"], entry["homepage"]) == ("", "")
    plain = catalog.validate_entry({"slug": "plain", "name": "Plain", "version": "1.0.0",
                                    "docs_url": "https://docs.example.org:8443/x?y=1#z", "homepage": "HTTP://Example.org"})
    assert (plain["docs_url"], plain["homepage"]) == ("https://docs.example.org:8443/x?y=1#z", "HTTP://Example.org")


def test_a_refresh_leaves_every_pooled_connection_checkpointing_as_before(app):
    """The bulk write turns SQLite's automatic checkpoint off on its connection: left off, that
    connection's commits would never copy the log back and the log would grow by a catalog a refresh."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite only: checks the write-ahead log checkpoint settings of pooled connections, which "
                        "PostgreSQL does not have; it runs in make test's SQLite pass")
        held = [db.engine.connect() for _ in range(3)]  # a pool of several connections, as a busy worker has
        for connection in held:
            connection.close()
        before = [db.engine.connect() for _ in range(3)]
        defaults = {c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() for c in before}
        for connection in before:
            connection.close()
        for round_ in range(3):
            catalog.save_catalog([catalog.validate_entry(extra(i, summary=f"round {round_}")) for i in range(50)])
        bulk_writes.wait_for_background()
        after = [db.engine.connect() for _ in range(db.engine.pool.checkedin() + 1)]
        try:
            assert {c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() for c in after} == defaults == {1000}
        finally:
            for connection in after:
                connection.close()
    assert len(slugs_shown(app)) == 50
