"""Sessions with a server side, and sign-in that resists guessing (issue 13, points 1 and 2)."""

from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import time_machine

from conftest import PASSWORD, create_admin, csrf_token, sign_in
from panel.models import utcnow


def cookies_of(client) -> dict[str, str]:
    return {name: client.get_cookie(name).value for name in ("session", "remember_token") if client.get_cookie(name)}


def with_cookies(app, cookies: dict[str, str]):
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def login(client, name="admin", password=PASSWORD, remember=False, **kwargs):
    token = csrf_token(client, "/login")
    data = {"username": name, "password": password, "csrf_token": token, **({"remember": "1"} if remember else {})}
    return client.post("/login", data=data, **kwargs)


def test_signing_out_ends_the_session_and_the_remember_cookie_for_good(app, client):
    create_admin(app)
    assert login(client, remember=True).status_code == 302
    stolen = cookies_of(client)
    assert set(stolen) == {"session", "remember_token"}
    assert with_cookies(app, stolen).get("/").status_code == 200  # a copy works while signed in
    assert with_cookies(app, {"remember_token": stolen["remember_token"]}).get("/").status_code == 200

    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert with_cookies(app, stolen).get("/").status_code == 302
    assert with_cookies(app, {"remember_token": stolen["remember_token"]}).get("/").status_code == 302


def test_the_remember_cookie_is_http_only_same_site_and_lasts_two_weeks(app, client):
    create_admin(app)
    response = login(client, remember=True)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert timedelta(days=13) < expires - datetime.now(timezone.utc) <= timedelta(days=14)  # not a year

    secure = app.test_client()
    token = csrf_token(secure, "/login")
    over_https = secure.post("/login", base_url="https://localhost",
                             data={"username": "admin", "password": PASSWORD, "csrf_token": token, "remember": "1"})
    assert all("; Secure" in c for c in over_https.headers.getlist("Set-Cookie"))


def test_a_session_without_keep_me_signed_in_ends_after_its_hours(app, client):
    create_admin(app)
    login(client)
    with time_machine.travel(utcnow() + timedelta(hours=11), tick=False):
        assert client.get("/").status_code == 200
    with time_machine.travel(utcnow() + timedelta(hours=13), tick=False):
        assert client.get("/").status_code == 302


def test_a_cookie_checked_once_is_still_refused_when_too_old_or_altered(app, client):
    """Each worker checks a session cookie's signature once and remembers it: its age is still
    checked on every request, and any other cookie is checked anew."""
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=1)
    create_admin(app)
    login(client)
    cookie = cookies_of(client)["session"]
    assert with_cookies(app, {"session": cookie}).get("/").status_code == 200  # checked, and remembered
    altered = cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]
    assert with_cookies(app, {"session": altered}).get("/").status_code == 302
    with time_machine.travel(utcnow() + timedelta(minutes=59), tick=False):
        assert with_cookies(app, {"session": cookie}).get("/").status_code == 200
    with time_machine.travel(utcnow() + timedelta(minutes=61), tick=False):
        assert with_cookies(app, {"session": cookie}).get("/").status_code == 302


def test_pages_carry_one_signed_csrf_token_per_session_and_it_is_accepted(app, client, monkeypatch):
    """Tokens have no time limit, so one signature of the session's token serves every page: a
    worker signs it once, not on every page, and a post with it from any page is accepted."""
    import itsdangerous.serializer

    create_admin(app)
    login(client)
    first = csrf_token(client, "/modules")
    signed = []
    real_dumps = itsdangerous.serializer.Serializer.dumps
    monkeypatch.setattr(itsdangerous.serializer.Serializer, "dumps",
                        lambda self, *args, **kwargs: signed.append(1) or real_dumps(self, *args, **kwargs))
    tokens = {csrf_token(client, page) for page in ("/modules", "/marketplace", "/", "/modules", "/license")}
    assert tokens == {first} and not signed
    response = client.post("/modules/nothing_here/enable", headers={"HX-Request": "true", "X-CSRFToken": first})
    assert response.status_code == 404  # past the CSRF check: the module is what is missing
    assert client.post("/modules/nothing_here/enable", headers={"HX-Request": "true",
                                                               "X-CSRFToken": first[:-2] + "xx"}).status_code == 400


def test_changing_the_password_ends_every_other_session(app, client):
    create_admin(app)
    other = app.test_client()
    sign_in(client)
    sign_in(other)
    page = client.get("/account").get_data(as_text=True)
    assert "2 browsers or devices are signed in as you." in page

    token = csrf_token(client, "/account")
    wrong = client.post("/account", data={"current": "not it", "password": "new password 1",
                                          "confirm": "new password 1", "csrf_token": token})
    assert wrong.status_code == 422 and "The current password is not right." in wrong.get_data(as_text=True)
    assert other.get("/").status_code == 200

    changed = client.post("/account", data={"current": PASSWORD, "password": "new password 1",
                                            "confirm": "new password 1", "csrf_token": token}, follow_redirects=True)
    assert "every other session is signed out" in changed.get_data(as_text=True)
    assert client.get("/").status_code == 200  # this browser goes on
    assert other.get("/").status_code == 302  # the other one is out
    assert login(app.test_client()).status_code == 401  # the old password is gone
    assert login(app.test_client(), password="new password 1").status_code == 302


def test_sign_out_everywhere(app, client):
    create_admin(app)
    other = app.test_client()
    sign_in(client)
    sign_in(other)
    out = client.post("/logout/everywhere", data={"csrf_token": csrf_token(client, "/account")}, follow_redirects=True)
    assert "signed out on every browser" in out.get_data(as_text=True)
    assert client.get("/").status_code == 302 and other.get("/").status_code == 302


def audit_actions(app) -> list[tuple[str, str, str]]:
    from panel.extensions import db
    from panel.models import AuditEvent

    with app.app_context():
        return [(e.actor, e.action, e.detail) for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]


def test_guessing_passwords_is_slowed_then_locked_out_and_audited(app, client):
    create_admin(app)
    answers = [login(client, password=f"guess {n}") for n in range(25)]
    statuses = [a.status_code for a in answers]
    assert statuses[:3] == [401, 401, 401]
    assert statuses.count(429) >= 20  # after three tries the password is not even checked
    throttled = next(a for a in answers if a.status_code == 429)
    assert "Too many failed sign-ins; wait" in throttled.get_data(as_text=True)
    assert int(throttled.headers["Retry-After"]) > 0
    assert login(client).status_code == 429  # even the right password waits

    actions = audit_actions(app)
    assert ("admin", "sign_in_failed", "127.0.0.1") in actions
    assert ("admin", "sign_in_throttled", "127.0.0.1") in actions

    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=False):
        assert login(client).status_code == 302
    assert ("admin", "signed_in", "127.0.0.1") in audit_actions(app)


def test_the_lock_out_grows_with_each_failure_and_never_says_whether_the_account_exists(app, client):
    create_admin(app)
    now = utcnow()
    waits = []
    for n in range(6):
        with time_machine.travel(now + timedelta(hours=n * 0.1), tick=False):  # each try after the last wait
            response = login(client, name="nobody-here", password="x" * 9)
            waits.append(int(response.headers.get("Retry-After", 0)) if response.status_code == 429 else 0)
            if response.status_code == 401:
                nxt = login(client, name="nobody-here", password="x" * 9)
                waits.append(int(nxt.headers.get("Retry-After", 0)))
    growing = [w for w in waits if w]
    assert growing == sorted(growing) and growing[-1] > growing[0], waits


def test_failures_from_one_address_are_counted_across_account_names(app):
    create_admin(app)
    client = app.test_client()
    for n in range(4):
        login(client, name=f"someone{n}", password="wrong password")
    assert login(client, name="another", password="wrong password").status_code == 429
    elsewhere = app.test_client()
    assert login(elsewhere, environ_base={"REMOTE_ADDR": "127.0.0.9"}).status_code == 302


def test_a_token_checked_once_is_still_tied_to_its_session_and_its_age(app, client, monkeypatch):
    """A worker checks a token's signature once (panel.extensions.CheckedOnceCSRF) and then only
    compares: another session's token is refused however often it passed before, and so is a
    remembered token older than a time limit, when one is set."""
    import itsdangerous.timed

    create_admin(app)
    login(client)
    token = csrf_token(client, "/modules")
    other = app.test_client()
    login(other)

    def post(by, with_token):
        return by.post("/modules/nothing_here/enable", headers={"HX-Request": "true", "X-CSRFToken": with_token})

    assert post(client, token).status_code == 404  # checked, and remembered
    checked = []
    real_loads = itsdangerous.timed.TimestampSigner.unsign
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "unsign",
                        lambda self, *args, **kwargs: checked.append(1) or real_loads(self, *args, **kwargs))
    assert [post(client, token).status_code for _ in range(3)] == [404] * 3 and not checked  # compared only
    assert post(other, token).status_code == 400  # the other session's value differs
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(hours=2), tick=False):
        assert post(client, token).status_code == 400
    assert post(client, token).status_code == 404
