"""Pages kept whole (panel/ui/page_shells.py): reused while their context is the same, and never
showing a stale sidebar, another session's token or a message twice."""

import re
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from conftest import htmx_post, install_sample, sign_in
from flask import template_rendered
from markupsafe import Markup

from panel import create_app
from panel.ui.page_shells import Unfreezable, freeze, page_shells


@contextmanager
def rendered_templates(app):
    names = []

    def record(sender, template, context, **extra):
        names.append(template.name)
    template_rendered.connect(record, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(record, app)


def token_of(html: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def test_a_page_asked_for_again_is_served_without_running_its_template(app, admin_client):
    install_sample(app, "hello")
    first = admin_client.get("/modules").get_data(as_text=True)
    with rendered_templates(app) as names:
        again = admin_client.get("/modules").get_data(as_text=True)
    assert "modules/index.html" not in names and "modules/_card.html" not in names
    assert again == first and 'id="module-hello" data-state="disabled"' in again


def test_a_kept_page_follows_a_toggle_made_by_another_worker(app, admin_client):
    install_sample(app, "hello")
    assert 'id="module-hello" data-state="disabled"' in admin_client.get("/modules").get_data(as_text=True)
    assert 'id="sidebar-module-hello"' not in admin_client.get("/marketplace").get_data(as_text=True)
    other = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret"})
    other_client = other.test_client()
    other_client.csrf = sign_in(other_client)
    assert htmx_post(other_client, "/modules/hello/enable").status_code == 200

    html = admin_client.get("/modules").get_data(as_text=True)
    assert 'id="module-hello" data-state="enabled"' in html
    assert 'id="sidebar-module-hello"' in html  # the sidebar is filled on every request
    assert re.search(r'data-count="enabled">[^<]*<span class="badge[^"]*">1<', html)
    # The marketplace page's own context did not change: its kept page is filled with the new sidebar.
    with rendered_templates(app) as names:
        assert 'id="sidebar-module-hello"' in admin_client.get("/marketplace").get_data(as_text=True)
    assert "marketplace/index.html" not in names
    with app.app_context():
        page_shells().clear()
    assert admin_client.get("/modules").get_data(as_text=True) == html  # the same as rendered afresh


def test_every_session_gets_its_own_token_in_a_kept_page(app, admin_client):
    install_sample(app, "hello")
    mine = admin_client.get("/modules").get_data(as_text=True)
    second = app.test_client()
    second.csrf = sign_in(second)
    theirs = second.get("/modules").get_data(as_text=True)
    assert token_of(mine) != token_of(theirs)
    assert token_of(mine) not in theirs and token_of(theirs) not in mine
    assert theirs.count(token_of(theirs)) == mine.count(token_of(mine)) > 1  # head, forms: every one filled
    assert htmx_post(second, "/modules/hello/enable", token=token_of(mine)).status_code == 400
    assert htmx_post(second, "/modules/hello/enable", token=token_of(theirs)).status_code == 200


def test_a_message_is_shown_once_even_on_a_kept_page(app, admin_client):
    install_sample(app, "hello")
    install_sample(app, "notes")
    admin_client.get("/modules")
    response = admin_client.post("/modules/notes/uninstall", data={"csrf_token": admin_client.csrf})
    assert response.status_code == 303
    shown = admin_client.get("/modules").get_data(as_text=True)
    assert "Notes was uninstalled" in shown
    again = admin_client.get("/modules").get_data(as_text=True)
    assert "Notes was uninstalled" not in again and 'id="module-hello"' in again


def test_the_top_bar_and_the_language_follow_the_request(app, admin_client):
    admin_client.get("/modules")
    searched = admin_client.get("/modules?q=zzz").get_data(as_text=True)
    assert 'name="next" value="/modules?q=zzz"' in searched  # the language switch comes back here
    admin_client.post("/language", data={"locale": "fr", "next": "/modules", "csrf_token": admin_client.csrf})
    assert "Modules installés" in admin_client.get("/modules").get_data(as_text=True)


def module_function():
    return None


@dataclass
class Point:
    x: int
    label: str


def test_freeze_tells_apart_what_renders_differently_and_refuses_what_it_cannot_vouch_for():
    assert freeze({"a": [1, "x"]}) == freeze({"a": [1, "x"]})
    assert freeze({"a": "<b>"}) != freeze({"a": Markup("<b>")})  # escaped, or not
    assert freeze([1, 2]) != freeze([2, 1]) and freeze({"a": 1, "b": 2}) != freeze({"b": 2, "a": 1})
    assert freeze(Point(1, "p")) == freeze(Point(1, "p")) != freeze(Point(2, "p"))
    assert freeze({"f": module_function}) == freeze({"f": module_function})
    hash(freeze({"p": Point(1, "p"), "t": (None, 1.5, True)}))
    for refused in (lambda: None, object(), module_function.__code__):
        with pytest.raises(Unfreezable):
            freeze({"value": refused})
