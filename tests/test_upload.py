"""Upload page: the validation report, current vs uploaded, replace / downgrade / cancel."""

import io
import re
import time
from pathlib import Path

from installer_kit import module_files, package, raw_zip, stored

from conftest import htmx_post, install_sample
from panel.extensions import db
from panel.models import Module


def upload(client, path, htmx=False, filename="pkg.zip", token=None):
    data = {"package": (io.BytesIO(Path(path).read_bytes()), filename), "csrf_token": token or client.csrf}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post("/modules/upload", data=data, content_type="multipart/form-data", headers=headers)


def token_of(html):
    match = re.search(r"/modules/upload/([0-9a-f]{32})/install", html)
    assert match, html
    return match.group(1)


def pending_files(app):
    folder = Path(app.config["STAGING_PATH"]) / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def version_of(app, slug="hello"):
    with app.app_context():
        module = db.session.get(Module, slug)
        return module and (module.version, module.state)


def test_modules_page_has_the_upload_form(admin_client):
    html = admin_client.get("/modules").get_data(as_text=True)
    assert 'id="upload-form"' in html and 'name="package"' in html and 'enctype="multipart/form-data"' in html
    assert "Upload module" in html and "upload.js" in html


def test_report_before_anything_is_installed(app, admin_client, tmp_path):
    response = upload(admin_client, package(tmp_path), filename="<b>evil</b>.zip")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" in html  # a full page without htmx
    for fact in ("Hello", "hello", "1.2.0", "Module Panel team", "Unsigned", "Compatible with this panel"):
        assert fact in html, fact
    assert re.search(r'report-files">3<', html)
    assert "&lt;b&gt;evil&lt;/b&gt;.zip" in html and "<b>evil</b>" not in html  # the client's name, escaped
    assert version_of(app) is None  # nothing installed yet
    assert len(pending_files(app)) == 2 and not any("evil" in n for n in pending_files(app))
    assert not any(Path(app.config["MODULES_PATH"]).iterdir())


def test_htmx_upload_answers_the_fragment_then_install(app, admin_client, tmp_path):
    response = upload(admin_client, package(tmp_path), htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="upload-report"' in html
    token = token_of(html)
    response = htmx_post(admin_client, f"/modules/upload/{token}/install")
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/modules"
    assert version_of(app) == ("1.2.0", "disabled")
    assert pending_files(app) == []
    assert "Hello 1.2.0 is installed" in admin_client.get("/modules").get_data(as_text=True)


def test_newer_upload_shows_current_vs_uploaded_and_replaces(app, admin_client, tmp_path):
    install_sample(app, "hello")
    admin_client.post("/modules/hello/enable", data={"csrf_token": admin_client.csrf})
    newer = package(tmp_path, version="1.3.0", author="Someone Else", requires_core=">=1.0,<3")
    html = upload(admin_client, newer).get_data(as_text=True)
    assert "report-comparison" in html and "Replace current with uploaded" in html
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th><td class="current-value">[^<]*</td>'
                           r'<td class="uploaded-value">([^<]+)</td>', html))
    current = dict(re.findall(r'<th scope="row">([^<]+)</th><td class="current-value">([^<]+)</td>', html))
    assert (current["Version"], rows["Version"]) == ("1.2.0", "1.3.0")
    assert (current["Author"], rows["Author"]) == ("Module Panel team", "Someone Else")
    assert current["Files"] == rows["Files"] == "3"
    assert "core &gt;=1.0" in current["Requirements"] and "&lt;3" in rows["Requirements"]
    response = admin_client.post(f"/modules/upload/{token_of(html)}/install", data={"csrf_token": admin_client.csrf})
    assert response.status_code == 303
    assert version_of(app) == ("1.3.0", "enabled")
    card = admin_client.get("/modules").get_data(as_text=True)
    assert "Roll back to 1.2.0" in card


def test_downgrade_needs_the_box_ticked(app, admin_client, tmp_path):
    install_sample(app, "hello")
    html = upload(admin_client, package(tmp_path, version="1.0.0")).get_data(as_text=True)
    assert "this upload is a downgrade" in html and "Downgrade to 1.0.0" in html and 'name="confirm_downgrade"' in html
    token = token_of(html)
    response = htmx_post(admin_client, f"/modules/upload/{token}/install")
    assert response.status_code == 422 and "confirm installing an older version" in response.get_data(as_text=True)
    assert version_of(app)[0] == "1.2.0"
    response = htmx_post(admin_client, f"/modules/upload/{token}/install", {"confirm_downgrade": "1"})
    assert response.status_code == 204 and version_of(app)[0] == "1.0.0"


def test_cancel_discards_the_upload(app, admin_client, tmp_path):
    html = upload(admin_client, package(tmp_path)).get_data(as_text=True)
    token = token_of(html)
    response = htmx_post(admin_client, f"/modules/upload/{token}/cancel")
    assert response.status_code == 204 and pending_files(app) == [] and version_of(app) is None
    response = htmx_post(admin_client, f"/modules/upload/{token}/install")
    assert response.status_code == 404 and "expired" in response.get_data(as_text=True)


def test_pending_uploads_expire(app, admin_client, tmp_path):
    token = token_of(upload(admin_client, package(tmp_path)).get_data(as_text=True))
    app.config["PENDING_UPLOAD_TTL_SECONDS"] = 0
    time.sleep(0.01)
    response = htmx_post(admin_client, f"/modules/upload/{token}/install")
    assert response.status_code == 404 and version_of(app) is None and pending_files(app) == []


def test_hostile_upload_is_refused_with_its_reason(app, admin_client, tmp_path):
    hostile = tmp_path / "h.zip"
    hostile.write_bytes(raw_zip([stored(n, d) for n, d in module_files().items()] + [stored("../evil.py", b"x")]))
    response = upload(admin_client, hostile, htmx=True)
    assert response.status_code == 422 and "not a plain relative path" in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#toasts"
    assert pending_files(app) == [] and version_of(app) is None


def test_incompatible_package_gets_a_report_without_install_button(app, admin_client, tmp_path):
    html = upload(admin_client, package(tmp_path, requires_core=">=9", requires={"notes": ">=1"})).get_data(as_text=True)
    assert "Needs panel &gt;=9" in html and "cannot be installed" in html and "(not installed)" in html
    assert "/install" not in html and "upload-cancel" in html


def test_oversized_and_missing_uploads(app, admin_client, tmp_path):
    response = admin_client.post("/modules/upload", data={"csrf_token": admin_client.csrf},
                                 content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a module package" in response.get_data(as_text=True)
    app.config["MAX_PACKAGE_BYTES"] = 1000
    response = upload(admin_client, package(tmp_path, extra={"big.bin": bytes(range(256)) * 40}))
    assert response.status_code in (413, 422)
    assert pending_files(app) == []


def test_upload_needs_csrf_and_sign_in(app, admin_client, tmp_path):
    response = upload(admin_client, package(tmp_path), token="wrong")
    assert response.status_code == 400 and pending_files(app) == []
    stranger = app.test_client()
    stranger.csrf = "none"
    response = upload(stranger, package(tmp_path))
    assert response.status_code in (302, 400, 401) and pending_files(app) == []


def test_bad_tokens_are_not_found(admin_client):
    for token in ("..", "a" * 32, "ZZ" * 16):
        response = htmx_post(admin_client, f"/modules/upload/{token}/install")
        assert response.status_code == 404
