"""`module.json`: each bad field is refused with a message that names it; the rest is kept."""

import json

import pytest
from packaging.version import Version

from panel import manifest
from panel.errors import ManifestError

GOOD = {
    "slug": "payments_demo",
    "name": "Payments demo",
    "version": "1.2.0",
    "description": "Takes payments.",
    "author": "Someone",
    "category": "Payments",
    "homepage": "https://example.org/demo",
    "docs_url": "https://example.org/docs",
    "requires_core": ">=1.0",
    "requires": {"hello": ">=1.0,<2"},
    "menu": {"label": "Demo", "icon": "credit-card", "section": "payments"},
    "settings": [
        {"key": "api_key", "type": "secret", "label": "API key"},
        {"key": "mode", "type": "choice", "choices": ["live", "test"]},
        {"key": "retries", "type": "integer", "min": 0, "max": 5},
    ],
}


@pytest.fixture(autouse=True)
def _app_context(app):
    """Messages are lazy translations: render them in a request context (English)."""
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        yield


def refused(**changes) -> str:
    data = {**GOOD, **changes}
    data = {k: v for k, v in data.items() if v is not DROP}
    with pytest.raises(ManifestError) as info:
        manifest.validate(data)
    assert info.value.status == 422
    return str(info.value)


DROP = object()


def test_a_good_manifest_is_parsed():
    parsed = manifest.parse(json.dumps(GOOD).encode())
    assert parsed.slug == "payments_demo"
    assert parsed.version == Version("1.2.0")
    assert "1.5" in parsed.requires["hello"] and "2.0" not in parsed.requires["hello"]
    assert parsed.requires_core.contains("1.0")
    assert parsed.menu == {"label": "Demo", "icon": "credit-card", "section": "payments"}
    assert [f["key"] for f in parsed.settings] == ["api_key", "mode", "retries"]
    assert parsed.settings[0]["type"] == "secret"


def test_unknown_fields_are_kept_not_rejected():
    parsed = manifest.validate({**GOOD, "x_vendor": {"tier": "gold"}, "licence": "MIT"})
    assert parsed.raw["x_vendor"] == {"tier": "gold"}
    assert parsed.raw["licence"] == "MIT"


@pytest.mark.parametrize("field", ["slug", "name", "version"])
def test_missing_required_field_is_named(field):
    message = refused(**{field: DROP})
    assert f"“{field}”" in message and "missing" in message
    assert f"“{field}”" in refused(**{field: ""})


@pytest.mark.parametrize("version", ["1.0", "2.3.4", "1.0.0rc1", "1!2.0", "0.1.dev3", "1.0.post2", "v1.2"])
def test_pep440_versions_are_accepted_and_normalised(version):
    parsed = manifest.validate({**GOOD, "version": version})
    assert parsed.version == Version(version)
    assert parsed.version_str == str(Version(version))


def test_versions_compare_by_pep440_not_as_text():
    old = manifest.validate({**GOOD, "version": "1.9.0"})
    new = manifest.validate({**GOOD, "version": "1.10.0"})
    pre = manifest.validate({**GOOD, "version": "1.10.0rc1"})
    assert old.version < pre.version < new.version


@pytest.mark.parametrize("version", ["latest", "1.0-beta-x", "1..2", "not a version"])
def test_a_bad_version_is_named(version):
    message = refused(version=version)
    assert "“version”" in message and version[:20] in message


@pytest.mark.parametrize("value", [12, 1.5, ["1.0"]])
def test_version_must_be_text(value):
    assert "“version”" in refused(version=value)


@pytest.mark.parametrize("slug", ["Hello", "1abc", "a", "has-dash", "spaces here", "x" * 49, 7])
def test_a_bad_slug_is_named(slug):
    assert "“slug”" in refused(slug=slug)


@pytest.mark.parametrize("slug", ["panel", "admin", "os", "static"])
def test_reserved_slugs_are_refused(slug):
    message = refused(slug=slug)
    assert "“slug”" in message and slug in message


@pytest.mark.parametrize("field, value, words", [
    ("name", 5, "text"),
    ("name", "   ", "missing"),
    ("name", "n" * 121, "too long"),
    ("description", ["a"], "text"),
    ("description", "d" * 2001, "too long"),
    ("author", {"n": 1}, "text"),
    ("category", False, "text"),
    ("homepage", "javascript:alert(1)", "http(s)"),
    ("homepage", "ftp://example.org", "http(s)"),
    ("docs_url", "example.org/docs", "http(s)"),
    ("docs_url", 3, "text"),
])
def test_bad_text_fields_are_named(field, value, words):
    message = refused(**{field: value})
    assert f"“{field}”" in message and words in message


@pytest.mark.parametrize("value", [">=banana", "=>1.0", 10, ["1.0"]])
def test_a_bad_requires_core_is_named(value):
    assert "“requires_core”" in refused(requires_core=value)


def test_bad_requires_are_named():
    assert "“requires”" in refused(requires=["hello"])
    assert "“requires”" in refused(requires={"Not-A-Slug": ">=1"})
    assert "“requires.hello”" in refused(requires={"hello": "~=nope"})
    assert "“requires.hello”" in refused(requires={"hello": 2})


def test_bad_menu_is_named():
    assert "“menu”" in refused(menu="Demo")
    assert "“menu.label”" in refused(menu={"label": 5})
    assert "“menu.icon”" in refused(menu={"icon": "<script>"})
    assert "“menu.section”" in refused(menu={"section": ["a"]})


@pytest.mark.parametrize("settings, field", [
    ("api_key", "“settings”"),
    (["api_key"], "“settings[0]”"),
    ([{"type": "text"}], "“settings[0].key”"),
    ([{"key": "Bad Key"}], "“settings[0].key”"),
    ([{"key": "a"}, {"key": "a"}], "“settings[1].key”"),
    ([{"key": "a"}, {"key": "b", "type": "colour"}], "“settings[1].type”"),
    ([{"key": "mode", "type": "choice"}], "“settings[0].choices”"),
    ([{"key": "mode", "type": "choice", "choices": [1, 2]}], "“settings[0].choices”"),
    ([{"key": "n", "type": "integer", "min": "0"}], "“settings[0].min”"),
    ([{"key": "n", "type": "integer", "max": True}], "“settings[0].max”"),
])
def test_bad_settings_are_named(settings, field):
    assert field in refused(settings=settings)


def test_not_an_object_and_not_json():
    with pytest.raises(ManifestError, match="JSON object"):
        manifest.validate(["slug"])
    with pytest.raises(ManifestError, match="not valid JSON"):
        manifest.parse(b"{slug: hello")
    with pytest.raises(ManifestError, match="not valid JSON"):
        manifest.parse(b"\xff\xfe{}")


def test_huge_or_deep_manifests_are_refused():
    with pytest.raises(ManifestError, match="larger than"):
        manifest.parse(b" " * (manifest.MAX_MANIFEST_BYTES + 1))
    deep = {}
    node = deep
    for _ in range(20):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ManifestError, match="nested too deeply"):
        manifest.validate({**GOOD, "extra": deep})
    with pytest.raises(ManifestError):
        manifest.parse(b"[" * 100_000 + b"]" * 100_000)


def test_messages_name_the_field_in_every_language(app):
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        try:
            manifest.validate({**GOOD, "version": "latest"})
        except ManifestError as exc:
            french = str(exc)
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        try:
            manifest.validate({**GOOD, "version": "latest"})
        except ManifestError as exc:
            english = str(exc)
    assert "“version”" in french and "“version”" in english
