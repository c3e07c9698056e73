"""Compiled module code: kept where a module lands, and used only for the very source it came from."""

import importlib.util
import marshal
import os
from pathlib import Path

from conftest import htmx_post, install_sample, sign_in
from installer_kit import make_zip
from test_loader import PAGE, make_module, modules_folder

CHECKED_HASH = (0b11).to_bytes(4, "little")  # PEP 552: checked against a hash of its source


def kept(folder: Path, name: str = "__init__.py") -> Path:
    return Path(importlib.util.cache_from_source(str(folder / name)))


def other_worker(app):
    """A second app object on the same database and folders: another worker process, which has
    imported nothing yet."""
    from panel import create_app

    other = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret"})
    client = other.test_client()
    sign_in(client)
    return client


def no_compiling(monkeypatch):
    from panel.runtime import importer

    def refuse(source, path, *args, **kwargs):
        raise AssertionError(f"{path} was compiled again")
    monkeypatch.setattr(importer, "compile", refuse, raising=False)


def test_an_installed_module_is_compiled_once_and_a_worker_reads_that(app, admin_client, tmp_path, monkeypatch):
    install_sample(app, "clock", make_module(tmp_path, "clock", PAGE % "clock"))
    data = kept(modules_folder(app) / "clock").read_bytes()
    assert data[4:8] == CHECKED_HASH
    htmx_post(admin_client, "/modules/clock/enable")

    no_compiling(monkeypatch)
    other = other_worker(app)
    assert "clock works" in other.get("/m/clock/").get_data(as_text=True)


def test_a_folder_copied_by_hand_is_compiled_when_discovered(app, admin_client, monkeypatch):
    folder = make_module(modules_folder(app), "copied", PAGE % "copied")
    assert not kept(folder).exists()
    admin_client.get("/modules")  # discovered
    assert kept(folder).read_bytes()[4:8] == CHECKED_HASH
    no_compiling(monkeypatch)
    assert 'data-state="enabled"' in htmx_post(admin_client, "/modules/copied/enable").get_data(as_text=True)
    assert "copied works" in admin_client.get("/m/copied/").get_data(as_text=True)


def test_a_file_fixed_by_hand_runs_at_once_even_at_the_same_size_and_time(app, admin_client):
    """Python's own cache would run the old code here: it checks the change time and the size."""
    folder = make_module(modules_folder(app), "fixed", PAGE % "old")
    admin_client.get("/modules")
    source = folder / "__init__.py"
    stat = source.stat()
    source.write_text(PAGE % "new")  # as long as before
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_size == stat.st_size and source.stat().st_mtime_ns == stat.st_mtime_ns

    htmx_post(admin_client, "/modules/fixed/enable")
    assert "new works" in admin_client.get("/m/fixed/").get_data(as_text=True)


def test_a_package_cannot_bring_compiled_code_of_its_own(app, admin_client, tmp_path):
    """A compiled file in a package could hold code other than its source's; the source is what runs,
    here a file that does not compile (so nothing of ours replaces the package's compiled file)."""
    source = b"def setup(api):\n    return (\n"
    planted = tmp_path / "planted"
    forged = compile("import pathlib\npathlib.Path(%r).write_text('ran')\ndef setup(api):\n    pass\n"
                     % str(planted), str(modules_folder(app) / "forged" / "__init__.py"), "exec")
    header = importlib.util.MAGIC_NUMBER + CHECKED_HASH + importlib.util.source_hash(source)
    manifest = b'{"slug": "forged", "name": "Forged", "version": "1.0.0"}'
    package = make_zip(tmp_path / "forged.zip", {
        "module.json": manifest, "__init__.py": source,
        f"__pycache__/{kept(Path('.')).name}": header + marshal.dumps(forged)})
    with app.app_context():
        from panel.installer import install_package

        install_package(package, "test")

    assert not planted.exists()
    html = htmx_post(admin_client, "/modules/forged/enable").get_data(as_text=True)
    assert 'data-state="failed"' in html and "SyntaxError" in html
    assert not planted.exists()


def test_a_module_whose_code_does_not_compile_keeps_no_compiled_file_and_says_why(app, admin_client):
    folder = make_module(modules_folder(app), "broken", "def setup(api):\n    return (\n")
    admin_client.get("/modules")
    assert not kept(folder).exists()
    html = htmx_post(admin_client, "/modules/broken/enable").get_data(as_text=True)
    assert 'data-state="failed"' in html and "SyntaxError" in html


def test_compiled_code_serves_only_its_own_source_where_it_was_compiled(app, admin_client):
    from panel.runtime.bytecode import cached_code

    folder = make_module(modules_folder(app), "placed", PAGE % "placed")
    admin_client.get("/modules")
    path, source = str(folder / "__init__.py"), (folder / "__init__.py").read_bytes()
    assert cached_code(path, source) is not None
    assert cached_code(path, source + b"\n") is None  # changed since
    assert cached_code(str(Path("/elsewhere/placed/__init__.py")), source) is None  # its tracebacks would lie
