"""Headers every answer carries, and who may see which page."""

from flask import redirect, request, url_for
from flask_login import current_user

from .extensions import login_manager
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


def init_app(app) -> None:
    app.wsgi_app = SecureCookiesOverHttps(app.wsgi_app)
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
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.vary.add("HX-Request")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
