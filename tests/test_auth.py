"""Sign-in: first-run set-up, login/logout, who may see what, security headers, secret key, language."""

import os
import re
import stat

import pytest

from conftest import PASSWORD, create_admin, csrf_token, htmx_post, install_sample, sign_in
from panel import create_app

# GET pages, with their URL arguments filled in; anything new the app grows is checked too.
SAMPLE_ARGS = {"slug": "hello", "rest": "x", "filename": "x.css", "path": "x", "id": "1", "version": "1.0",
               "package": "htmx", "job_id": "1", "key": "x"}
PUBLIC = {"/login", "/setup", "/favicon.ico"}  # the favicon: no 404 and no sign-in on a first visit


def get_pages(app):
    pages = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "assets.vendor"):
            continue
        values = {arg: SAMPLE_ARGS.get(arg, "1") for arg in rule.arguments}
        try:
            with app.test_request_context():
                from flask import url_for
                pages.add(url_for(rule.endpoint, **values))
        except Exception:  # noqa: BLE001 — a converter that refuses our sample value
            continue
    return pages


def test_first_run_shows_setup_then_never_again(app, client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/setup")
    assert client.get("/login").headers["Location"].endswith("/setup")
    page = client.get("/setup")
    assert page.status_code == 200 and "Create the administrator" in page.get_data(as_text=True)

    token = csrf_token(client, "/setup")
    bad = client.post("/setup", data={"username": "admin", "password": "short", "confirm": "short",
                                      "csrf_token": token})
    assert bad.status_code == 422 and "at least 8 characters" in bad.get_data(as_text=True)
    differ = client.post("/setup", data={"username": "admin", "password": PASSWORD, "confirm": PASSWORD + "x",
                                         "csrf_token": token})
    assert differ.status_code == 422 and "The two passwords differ." in differ.get_data(as_text=True)

    done = client.post("/setup", data={"username": "admin", "password": PASSWORD, "confirm": PASSWORD,
                                       "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # signed in straight away

    # Never again: not for the signed-in administrator, not for a stranger, not by POST.
    assert client.get("/setup").headers["Location"].endswith("/login")
    stranger = app.test_client()
    assert stranger.get("/setup").headers["Location"].endswith("/login")
    token = csrf_token(stranger, "/login")
    again = stranger.post("/setup", data={"username": "intruder", "password": PASSWORD, "confirm": PASSWORD,
                                          "csrf_token": token})
    assert again.status_code == 302 and again.headers["Location"].endswith("/login")
    with app.app_context():
        from panel.models import User
        assert [u.username for u in User.query.all()] == ["admin"]


def test_setup_needs_a_csrf_token(client):
    response = client.post("/setup", data={"username": "admin", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 400 and "security token" in response.get_data(as_text=True)


def test_login_and_logout(app, client):
    create_admin(app)
    token = csrf_token(client, "/login")
    wrong = client.post("/login", data={"username": "admin", "password": "nope-nope", "csrf_token": token})
    assert wrong.status_code == 401 and "Wrong user name or password." in wrong.get_data(as_text=True)
    assert client.get("/").status_code == 302
    nobody = client.post("/login", data={"username": "ghost", "password": PASSWORD, "csrf_token": token})
    assert nobody.status_code == 401

    ok = client.post("/login?next=/modules", data={"username": "admin", "password": PASSWORD,
                                                   "csrf_token": token})
    assert ok.status_code == 302 and ok.headers["Location"] == "/modules"
    assert client.get("/").status_code == 200
    assert client.get("/login").status_code == 302  # already signed in

    token = csrf_token(client, "/")
    assert client.get("/logout").status_code == 405  # signing out is a POST
    assert client.post("/logout").status_code == 400  # … with a CSRF token
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 302 and out.headers["Location"].endswith("/login")
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_login_never_redirects_off_site(app, client, target):
    create_admin(app)
    token = csrf_token(client, "/login")
    response = client.post("/login", query_string={"next": target},
                           data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location


def test_anonymous_users_are_sent_to_login_from_every_page(app, client):
    create_admin(app)
    install_sample(app, "hello")
    pages = get_pages(app) | {"/m/hello/", "/m/nosuch/", "/no-such-page"}
    assert {"/", "/modules", "/m/hello/x"} <= pages
    for path in sorted(pages - PUBLIC):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"], path
        assert client.get(path, headers={"HX-Request": "true"}).headers.get("HX-Redirect", "").startswith("/login")
    for path in ("/modules/hello/enable", "/modules/hello/disable"):
        response = client.post(path)
        assert response.status_code in (302, 400), path
        htmx = client.post(path, headers={"HX-Request": "true"})
        assert htmx.status_code in (400, 401)
    with app.app_context():
        from panel.extensions import db
        from panel.models import Module
        assert db.session.get(Module, "hello").state == "disabled"


def test_login_remembers_where_the_user_was_going(app, client):
    create_admin(app)
    response = client.get("/modules?state=enabled")
    assert response.headers["Location"].endswith("/login?next=/modules?state%3Denabled")
    token = csrf_token(client, "/login")
    landed = client.post(response.headers["Location"], data={"username": "admin", "password": PASSWORD,
                                                             "csrf_token": token})
    assert landed.headers["Location"] == "/modules?state=enabled"


def test_htmx_requests_get_hx_redirect(app, client):
    create_admin(app)
    response = client.get("/modules?q=x", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")
    assert response.data == b""
    fresh = app.test_client()
    with app.app_context():
        from panel.extensions import db
        from panel.models import User
        db.session.query(User).delete()
        db.session.commit()
    assert fresh.get("/", headers={"HX-Request": "true"}).headers["HX-Redirect"] == "/setup"


def test_passwords_are_hashed(app):
    create_admin(app)
    with app.app_context():
        from panel.models import User
        user = User.query.filter_by(username="admin").one()
        assert PASSWORD not in user.password_hash
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))
        assert user.check_password(PASSWORD) and not user.check_password(PASSWORD.upper())


def test_security_headers_and_a_csp_without_inline_scripts(app, admin_client):
    install_sample(app, "hello")
    htmx_post(admin_client, "/modules/hello/enable")
    for path in ("/", "/modules", "/m/hello/", "/no-such-page"):
        response = admin_client.get(path)
        csp = response.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["script-src"] == "'self'"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        html = response.get_data(as_text=True)
        # The pages keep to the policy: no inline script, handler or style attribute.
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert not re.search(r"\sstyle\s*=", html), path
    anonymous = app.test_client()
    for path in ("/login", "/setup"):
        response = anonymous.get(path)
        assert "Content-Security-Policy" in response.headers


def test_session_cookie_is_http_only_and_same_site(app, client):
    create_admin(app)
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_secret_key_is_generated_once_and_kept_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    first = create_app({"INSTANCE_PATH": str(instance)})
    key_file = instance / "secret_key"
    assert key_file.is_file()
    assert len(first.config["SECRET_KEY"]) >= 32
    assert key_file.read_text().strip() == first.config["SECRET_KEY"]
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    second = create_app({"INSTANCE_PATH": str(instance)})
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]  # every worker signs alike
    other = create_app({"INSTANCE_PATH": str(tmp_path / "other")})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_a_configured_secret_key_is_used_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance")})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "instance" / "secret_key").exists()


@pytest.mark.parametrize("header, expected", [
    ("fr-FR,fr;q=0.9,en;q=0.5", "fr"),
    ("ru", "ru"),
    ("en-GB", "en"),
    ("de-DE,de;q=0.9", "en"),
    ("de, ru;q=0.5, fr;q=0.8", "fr"),
])
def test_accept_language_chooses_the_language(app, client, header, expected):
    create_admin(app)
    html = client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
    assert f'<html lang="{expected}"' in html


def test_the_language_switch_beats_the_browser_and_sticks_to_the_administrator(app, admin_client):
    headers = {"Accept-Language": "fr"}
    assert '<html lang="fr"' in admin_client.get("/", headers=headers).get_data(as_text=True)
    response = admin_client.post("/language", data={"locale": "ru", "next": "/modules",
                                                    "csrf_token": admin_client.csrf}, headers=headers)
    assert response.status_code == 302 and response.headers["Location"] == "/modules"
    assert '<html lang="ru"' in admin_client.get("/modules", headers=headers).get_data(as_text=True)

    # Stored on the account: a new sign-in from another browser gets Russian too.
    other = app.test_client()
    sign_in(other)
    assert '<html lang="ru"' in other.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)

    htmx = htmx_post(admin_client, "/language", {"locale": "en"})
    assert htmx.status_code == 204 and htmx.headers["HX-Refresh"] == "true"
    assert '<html lang="en"' in admin_client.get("/", headers=headers).get_data(as_text=True)

    assert admin_client.post("/language", data={"locale": "xx", "csrf_token": admin_client.csrf}).status_code == 400
    off_site = admin_client.post("/language", data={"locale": "fr", "next": "https://evil.example/",
                                                    "csrf_token": admin_client.csrf})
    assert "evil" not in off_site.headers["Location"]


def test_the_language_switch_works_before_signing_in(app, client):
    create_admin(app)
    token = csrf_token(client, "/login")
    client.post("/language", data={"locale": "fr", "next": "/login", "csrf_token": token})
    assert '<html lang="fr"' in client.get("/login", headers={"Accept-Language": "ru"}).get_data(as_text=True)
