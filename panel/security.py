"""Headers every answer carries, and who may see which page."""

from flask import redirect, request, url_for
from flask_login import current_user

from .extensions import db, login_manager
from .models import User
from .services import users

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
PUBLIC_ENDPOINTS = {"auth.login", "auth.setup", "static", "assets.vendor", "auth.language"}


def init_app(app) -> None:
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def load_user(user_id):
        return db.session.get(User, int(user_id)) if str(user_id).isdigit() else None

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
