"""Headers every answer carries, who may see which page, and the signed session cookie."""

import time

from flask import redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from itsdangerous import BadSignature

from .extensions import login_manager
from .runtime.signed_once import SignedOnce
from .services import sessions, users

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: http: https:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = (("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("X-Content-Type-Options", "nosniff"),
                    ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"))
PUBLIC_ENDPOINTS = {"auth.login", "auth.setup", "static", "assets.vendor", "assets.favicon", "auth.language"}


class SecureCookiesOverHttps:
    """Marks every cookie `Secure` on a request that came over HTTPS (session, remember, CSRF).

    Flask-Login and Flask set their cookies after every `after_request` hook has run, and their
    `*_COOKIE_SECURE` settings are fixed per process, so this sits around the whole application."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("wsgi.url_scheme") != "https":
            return self.wsgi_app(environ, start_response)

        def secure_start_response(status, headers, exc_info=None):
            headers = [(name, value + "; Secure" if name.lower() == "set-cookie" and "; Secure" not in value
                        else value) for name, value in headers]
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, secure_start_response)


class CheckedOnceCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, each cookie's signature checked once per process (`SignedOnce`).

    A signed-in browser sends the same cookie with every request; checking its HMAC and decoding its
    tagged JSON each time was a tenth of a small page's work. A cookie that verified is remembered
    with the moment it was signed, so its age is still checked on every request; only sessions of
    plain values are remembered (a list, such as pending flash messages, could be changed in place)."""

    PLAIN = (str, int, float, bool, type(None))

    def __init__(self):
        self._checked = SignedOnce()

    def open_session(self, app, request):
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie or not app.secret_key:
            return super().open_session(app, request)
        max_age = app.permanent_session_lifetime.total_seconds()
        found = self._checked.get(app.secret_key, cookie)
        if found is not None and time.time() - found[1] <= max_age:
            return self.session_class(found[0])
        try:
            data, signed_at = self.get_signing_serializer(app).loads(cookie, max_age=int(max_age),
                                                                     return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if all(isinstance(value, self.PLAIN) for value in data.values()):
            self._checked.remember(app.secret_key, cookie, dict(data), signed_at.timestamp())
        return self.session_class(data)

    def save_session(self, app, session, response):
        # Flask adds `Vary: Cookie` through `response.vary`, which parses and re-writes the header
        # (tens of µs); this adds it the way `security_headers` adds `HX-Request`. The session is
        # done with after this call, so nothing else reads `accessed`.
        if session.accessed:
            add_vary(response.headers, "Cookie")
            session.accessed = False
        super().save_session(app, session, response)


def add_vary(headers, name: str) -> None:
    """`name` in the answer's `Vary` header, as `response.vary.add` would put it there, cheaply."""
    found = headers.get("Vary")
    if not found:
        headers["Vary"] = name
    elif name.lower() not in (part.strip().lower() for part in found.split(",")):
        headers["Vary"] = f"{found}, {name}"


def init_app(app) -> None:
    app.wsgi_app = SecureCookiesOverHttps(app.wsgi_app)
    app.session_interface = CheckedOnceCookieSessions()
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def load_user(session_token):
        return sessions.user_for(session_token)

    @app.before_request
    def require_administrator():
        if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
            return None
        target = url_for("auth.setup") if not users.exists() else url_for("auth.login", next=request.full_path.rstrip("?")
                                                                          if request.method == "GET" else None)
        if request.headers.get("HX-Request") == "true":
            response = app.response_class("", status=401)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target)

    @app.after_request
    def security_headers(response):
        # One look at the headers an answer already has, not one per header: every answer comes here.
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        for name, value in SECURITY_HEADERS:
            if name.lower() not in present:
                headers.add(name, value)
        add_vary(headers, "HX-Request")
        if "cache-control" not in present and response.mimetype == "text/html":
            headers.add("Cache-Control", "no-store")
        return response
