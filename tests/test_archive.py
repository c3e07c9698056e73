"""Hostile archives are refused with a clear sentence; nothing is installed or written anywhere.

Each archive is built here, byte by byte when no zip library would write it. For every one:
the message says what is wrong, the installed version stays byte-identical, nothing changes
outside (or inside) the instance folder, and staging is left empty.
"""

import json
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from installer_kit import (make_zip, module_entries, module_files, package, raw_zip, stored, tree,
                           zeros_bomb)

from conftest import install_sample
from panel.errors import PanelError
from panel.extensions import db
from panel.installer import Limits, archive, inspect_package, install_package
from panel.models import Module


def files_plus(*extra, slug="hello", top=None):
    files = list(module_files(slug).items()) + list(extra)
    return files, top


def zip_of(tmp_path, files, top=None):
    return make_zip(tmp_path / "hostile.zip", files, top=top).read_bytes()


def traversal(tmp_path):
    return zip_of(tmp_path, *files_plus(("../evil.py", b"x = 1")))


def traversal_in_folder(tmp_path):
    return zip_of(tmp_path, *files_plus(("lib/../../../evil.py", b"x = 1")))


def absolute(tmp_path):
    return zip_of(tmp_path, *files_plus(("/tmp/evil.py", b"x = 1")))


def drive_path(tmp_path):
    return zip_of(tmp_path, *files_plus(("C:/evil.py", b"x = 1")))


def backslash(tmp_path):
    return zip_of(tmp_path, *files_plus(("..\\evil.py", b"x = 1")))


def symlink(tmp_path):
    link = stored("templates/link.html", b"/etc/passwd", external_attr=(stat.S_IFLNK | 0o777) << 16)
    return raw_zip(module_entries() + [link])


def special_file(tmp_path):
    fifo = stored("pipe", b"", external_attr=(stat.S_IFIFO | 0o644) << 16)
    return raw_zip(module_entries() + [fifo])


def through_a_file(tmp_path):
    return zip_of(tmp_path, *files_plus(("lib", b"a file"), ("lib/inner.py", b"x = 1")))


def file_then_folder(tmp_path):
    return zip_of(tmp_path, *files_plus(("lib/inner.py", b"x = 1"), ("lib", b"a file")))


def ratio_bomb(tmp_path):
    stream, size = zeros_bomb(2)
    return raw_zip(module_entries() + [{"name": b"zeros.bin", "payload": stream, "method": 8, "crc": 0,
                                        "size": size}])


def lying_bomb(tmp_path):
    """The header says 10 MB (a ratio of 5:1); the stream holds 2 GB: refused while streaming."""
    stream, _ = zeros_bomb(2)
    return raw_zip(module_entries() + [{"name": b"zeros.bin", "payload": stream, "method": 8, "crc": 0,
                                        "size": 10 * 1024 * 1024}])


def many_entries(tmp_path):
    return raw_zip(module_entries() + [stored(f"d/{i:06d}", b"") for i in range(200_000)])


def duplicate(tmp_path):
    return raw_zip(module_entries() + [stored("extra.py", b"a = 1"), stored("extra.py", b"a = 2")])


def case_collision(tmp_path):
    return zip_of(tmp_path, *files_plus(("Readme.txt", b"a"), ("README.txt", b"b")))


def unicode_collision(tmp_path):
    return zip_of(tmp_path, *files_plus(("caf\u00e9.txt", b"a"), ("cafe\u0301.txt", b"b")))


def two_top_folders(tmp_path):
    files = [(f"hello/{n}", d) for n, d in module_files().items()] + [("other/x.py", b"x = 1")]
    return zip_of(tmp_path, files)


def folder_mismatch(tmp_path):
    return zip_of(tmp_path, list(module_files().items()), top="goodbye")


def manifest_with(**changes):
    def build(tmp_path):
        files = module_files()
        manifest = json.loads(files["module.json"])
        manifest.update(changes)
        files["module.json"] = json.dumps(manifest).encode()
        return zip_of(tmp_path, list(files.items()))
    return build


def raw_manifest(raw: bytes):
    def build(tmp_path):
        files = module_files()
        files["module.json"] = raw
        return zip_of(tmp_path, list(files.items()))
    return build


def no_manifest(tmp_path):
    files = module_files()
    del files["module.json"]
    return zip_of(tmp_path, list(files.items()))


def no_init(tmp_path):
    files = module_files()
    del files["__init__.py"]
    return zip_of(tmp_path, list(files.items()))


def truncated(tmp_path):
    whole = zip_of(tmp_path, list(module_files().items()))
    return whole[: len(whole) // 2]


def random_after_signature(tmp_path):
    import random

    rng = random.Random(7)
    return b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(4000))


def damaged_content(tmp_path):
    entries = module_entries()
    entries[-1]["crc"] = 12345  # the bytes do not match their checksum
    return raw_zip(entries)


def encrypted(tmp_path):
    return raw_zip(module_entries()[:-1] + [dict(module_entries()[-1], flags=0x1)])


def nul_in_name(tmp_path):
    return raw_zip(module_entries() + [stored("evil\x00.py", b"x = 1")])


def control_char(tmp_path):
    return zip_of(tmp_path, *files_plus(("bell\x07.py", b"x = 1")))


def invisible_char(tmp_path):
    return zip_of(tmp_path, *files_plus(("admin\u200b.py", b"x = 1")))


def bidi_override(tmp_path):
    return zip_of(tmp_path, *files_plus(("gpj.\u202eexe.py", b"x = 1")))


def windows_device(tmp_path):
    return zip_of(tmp_path, *files_plus(("con.py", b"x = 1")))


def bzip2(tmp_path):
    entries = module_entries()
    return raw_zip(entries + [stored("data.bin", b"BZh9", method=12)])


def deep_manifest(tmp_path):
    nested = {}
    for _ in range(12):
        nested = {"n": nested}
    return manifest_with(extra=nested)(tmp_path)


HOSTILE = [
    ("path traversal", traversal, "not a plain relative path"),
    ("traversal inside a folder", traversal_in_folder, "not a plain relative path"),
    ("absolute path", absolute, "absolute path"),
    ("drive path", drive_path, "absolute path"),
    ("backslash name", backslash, "backslash"),
    ("symlink entry", symlink, "symlinks"),
    ("special file", special_file, "not a regular file"),
    ("path through a file", through_a_file, "passes through the file"),
    ("file after its folder's files", file_then_folder, "same file"),
    ("2 GB ratio bomb", ratio_bomb, "MB"),
    ("bomb with a lying header", lying_bomb, "damaged"),
    ("200,000 entries", many_entries, "more than 5000 entries"),
    ("duplicate names", duplicate, "twice"),
    ("case-only collision", case_collision, "same file"),
    ("unicode normalisation collision", unicode_collision, "same file"),
    ("two top-level folders", two_top_folders, "more than one top-level folder"),
    ("folder does not match the slug", folder_mismatch, "does not match"),
    ("slug ..", manifest_with(slug=".."), "field “slug”"),
    ("slug core", manifest_with(slug="core"), "reserved name “core”"),
    ("truncated file", truncated, "not a valid zip"),
    ("random bytes after a zip signature", random_after_signature, "not a valid zip"),
    ("damaged content", damaged_content, "damaged"),
    ("encrypted entry", encrypted, "encrypted"),
    ("NUL in a name", nul_in_name, "control or invisible"),
    ("control character in a name", control_char, "control or invisible"),
    ("invisible character in a name", invisible_char, "control or invisible"),
    ("right-to-left override in a name", bidi_override, "control or invisible"),
    ("Windows device name", windows_device, "cannot hold"),
    ("unsupported compression", bzip2, "unsupported compression"),
    ("missing manifest", no_manifest, "no module.json"),
    ("oversized manifest", manifest_with(description="x" * 70_000), "larger than 64 KB"),
    ("deeply nested manifest", deep_manifest, "nested too deeply"),
    ("manifest of the wrong type", raw_manifest(b"[1, 2, 3]"), "JSON object"),
    ("manifest field of the wrong type", manifest_with(version=1.3), "must be text"),
    ("manifest that is not JSON", raw_manifest(b"{slug: hello"), "not valid JSON"),
    ("no __init__.py", no_init, "no __init__.py"),
    ("requires_core the panel does not satisfy", manifest_with(requires_core=">=99"), "needs panel version >=99"),
]


@pytest.mark.parametrize("build,expected", [pytest.param(b, e, id=i) for i, b, e in HOSTILE])
def test_hostile_archive_is_refused_and_changes_nothing(app, tmp_path, build, expected):
    install_sample(app, "hello")
    instance = Path(app.instance_path)
    hostile = tmp_path / "upload.zip"
    hostile.write_bytes(build(_scratch(tmp_path)))
    before_all = tree(tmp_path)
    live_before = tree(instance / "modules" / "hello")

    with app.app_context(), pytest.raises(PanelError) as caught:
        install_package(hostile, "test")
    message = str(caught.value)
    assert expected in message, message
    assert "\n" not in message and len(message) < 400

    assert tree(instance / "modules" / "hello") == live_before  # previous version byte-identical
    assert tree(tmp_path) == before_all  # nothing written anywhere, inside or outside the instance
    staging = instance / "staging"
    assert sorted(p.name for p in staging.iterdir() if any(p.iterdir()) or p.is_file()) == []
    assert not (tmp_path / "evil.py").exists() and not Path("/tmp/evil.py").exists()
    with app.app_context():
        assert [(m.slug, m.version) for m in db.session.query(Module)] == [("hello", "1.2.0")]


def _scratch(tmp_path):
    folder = tmp_path / "build"
    folder.mkdir(exist_ok=True)
    return folder


def test_honest_2gb_bomb_and_200k_entries_are_refused_from_the_central_directory(app, tmp_path, monkeypatch):
    """Neither is read past its directory: opening an entry would fail the test."""
    for build, expected in ((ratio_bomb, "MB"), (many_entries, "entries")):
        path = tmp_path / "hostile.zip"
        path.write_bytes(build(_scratch(tmp_path)))
        monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("entry data was read"))
        with app.app_context(), pytest.raises(PanelError, match=expected):
            inspect_package(path)
        monkeypatch.undo()


def test_ratio_limit_applies_below_the_size_limits(app, tmp_path):
    """A 64 MB file of zeros fits the unpacked limit but compresses 1000:1: refused by the ratio."""
    stream, _ = zeros_bomb(1)
    bomb = raw_zip(module_entries() + [{"name": b"zeros.bin", "payload": stream[: len(stream) // 16],
                                        "method": 8, "crc": 0, "size": 64 * 1024 * 1024}])
    path = tmp_path / "bomb.zip"
    path.write_bytes(bomb)
    with app.app_context(), pytest.raises(PanelError, match="compressed more than 200:1"):
        inspect_package(path)


def test_limits_come_from_the_configuration(app, tmp_path):
    path = package(tmp_path, extra={f"static/f{i}.txt": b"x" for i in range(20)})
    app.config["MAX_ARCHIVE_ENTRIES"] = 10
    with app.app_context(), pytest.raises(PanelError, match="more than 10 entries"):
        inspect_package(path)
    app.config.update(MAX_ARCHIVE_ENTRIES=5000, MAX_PACKAGE_BYTES=1000)
    with app.app_context(), pytest.raises(PanelError, match="larger than"):
        inspect_package(path)
    app.config.update(MAX_PACKAGE_BYTES=50 << 20, MAX_UNPACKED_BYTES=500)
    with app.app_context(), pytest.raises(PanelError, match="unpacks to more than"):
        inspect_package(path)


def test_a_module_in_its_own_top_folder_is_accepted(app, tmp_path):
    path = package(tmp_path, top="hello", version="2.0.0")
    with app.app_context():
        report = inspect_package(path)
    assert (report.slug, report.version, report.top_folder, report.files) == ("hello", "2.0.0", "hello", 3)
    assert not report.signed and report.core_ok and report.problems == []


def test_the_client_file_name_is_never_used(app, tmp_path):
    path = package(tmp_path, name="..%2f..%2fevil.zip")
    with app.app_context():
        module = install_package(path, "test")
    assert module.slug == "hello"
    assert not any("evil" in p for p in tree(Path(app.instance_path)))


# --- property: whatever the entry names, nothing lands outside the target ------------------------------

SEGMENTS = st.one_of(
    st.sampled_from(["..", ".", "", "a", "A", "b", "con", "x ", "C:", "é", "e\u0301", "\u200b", "~", "$", "a.b",
                     "%2e%2e", "\\", "..\\..", "/", "//"]),
    st.text(min_size=1, max_size=6),
)
NAMES = st.lists(SEGMENTS, min_size=1, max_size=5).map("/".join)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAMES, min_size=1, max_size=6), as_folder=st.booleans())
def test_no_entry_name_writes_outside_the_target(names, as_folder):
    with tempfile.TemporaryDirectory() as box:
        box = Path(box)
        (box / "canary.txt").write_text("keep")
        zip_path = box / "pkg.zip"
        files = list(module_files().items())
        try:
            with zipfile.ZipFile(zip_path, "w") as zf:
                for name, data in files:
                    zf.writestr(name, data)
                for name in names:
                    zf.writestr(name + ("/" if as_folder and not name.endswith("/") else ""), b"payload")
        except (ValueError, IndexError, UnicodeEncodeError, OSError):
            return  # names no zip library writes; raw_zip cases above cover the byte-level ones
        target = box / "out" / "target"
        target.parent.mkdir()
        before = tree(box)
        try:
            archive.extract(zip_path, target, Limits())
        except PanelError:
            pass
        after = tree(box)
        outside = {k: v for k, v in after.items() if not k.startswith("out/target")}
        assert outside == {k: v for k, v in before.items()}
        for path in target.rglob("*") if target.exists() else []:
            assert not path.is_symlink()
            assert target.resolve() in path.resolve().parents
