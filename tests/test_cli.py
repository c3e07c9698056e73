"""The command line: `admin` and `modules` (list, switch, install from a folder, a file or the marketplace,
update, roll back, uninstall); every error is one line and a non-zero exit."""

import json
import re
import shutil
from pathlib import Path

from installer_kit import package

from conftest import SOURCES
from panel.extensions import db
from panel.models import Module
from panel.services import modules


def row(app, slug):
    with app.app_context():
        module = db.session.get(Module, slug)
        return None if module is None else {"version": module.version, "state": module.state,
                                            "previous": module.previous_version, "error": module.error}


def modules_folder(app) -> Path:
    return Path(app.config["MODULES_PATH"])


def assert_one_line_error(result):
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


# --- admin ----------------------------------------------------------------------------------------

def test_cli_admin_create(app, runner):
    result = runner.invoke(args=["admin", "create", "root", "--password", "long enough pw"])
    assert result.exit_code == 0 and "root" in result.output
    assert "already exists" in assert_one_line_error(
        runner.invoke(args=["admin", "create", "root", "--password", "long enough pw"]))
    assert "8 characters" in assert_one_line_error(
        runner.invoke(args=["admin", "create", "other", "--password", "short"]))
    assert "user name" in assert_one_line_error(
        runner.invoke(args=["admin", "create", "bad name!", "--password", "long enough pw"]))
    with app.app_context():
        from panel.services import users
        assert users.authenticate("root", "long enough pw") is not None


# --- modules: installed ---------------------------------------------------------------------------

def test_cli_install_list_enable_disable(app, runner):
    result = runner.invoke(args=["modules", "install-dir", str(SOURCES / "hello")])
    assert result.exit_code == 0, result.output
    assert "hello installed" in result.output

    result = runner.invoke(args=["modules", "list"])
    assert result.exit_code == 0 and re.search(r"^hello\s+1\.2\.0\s+disabled\s+Hello$", result.output, re.M)
    result = runner.invoke(args=["modules", "enable", "hello"])
    assert result.exit_code == 0 and "hello enabled" in result.output
    result = runner.invoke(args=["modules", "list", "--json"])
    assert json.loads(result.output) == [
        {"slug": "hello", "name": "Hello", "version": "1.2.0", "state": "enabled", "error": None}]
    result = runner.invoke(args=["modules", "disable", "hello"])
    assert result.exit_code == 0 and "hello disabled" in result.output
    assert json.loads(runner.invoke(args=["modules", "list", "--json"]).output)[0]["state"] == "disabled"


def test_cli_list_when_empty(runner):
    result = runner.invoke(args=["modules", "list"])
    assert result.exit_code == 0 and "No modules installed." in result.output
    assert json.loads(runner.invoke(args=["modules", "list", "--json"]).output) == []


def test_discovery_through_the_command_line(app, runner):
    shutil.copytree(SOURCES / "notes", modules_folder(app) / "notes")
    result = runner.invoke(args=["modules", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"slug": "notes", "name": "Notes", "version": "1.0.0", "state": "disabled", "error": None}]


def test_cli_errors_are_one_line(app, runner, tmp_path):
    line = assert_one_line_error(runner.invoke(args=["modules", "enable", "nosuch"]))
    assert "There is no installed module named “nosuch”." in line
    assert "nosuch" in assert_one_line_error(runner.invoke(args=["modules", "disable", "nosuch"]))

    runner.invoke(args=["modules", "install-dir", str(SOURCES / "broken")])
    line = assert_one_line_error(runner.invoke(args=["modules", "enable", "broken"]))
    assert "broken failed to enable" in line and "RuntimeError" in line

    line = assert_one_line_error(runner.invoke(args=["modules", "install-dir", str(SOURCES / "broken")]))
    assert "already installed" in line
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "module.json").write_text('{"slug": "bad", "name": "Bad"}')
    line = assert_one_line_error(runner.invoke(args=["modules", "install-dir", str(tmp_path / "bad")]))
    assert "“version”" in line
    line = assert_one_line_error(runner.invoke(args=["modules", "install-dir", str(tmp_path / "missing")]))
    assert "missing" in line


def test_an_unexpected_failure_is_one_line_too(app, runner, monkeypatch):
    def broken_listing():
        raise OSError("disk unreadable")

    monkeypatch.setattr(modules, "listing", broken_listing)
    line = assert_one_line_error(runner.invoke(args=["modules", "list"]))
    assert line == "Error: Unexpected error (OSError): disk unreadable"


# --- modules: package files -----------------------------------------------------------------------

def test_cli_install_update_rollback_uninstall(app, runner, tmp_path):
    v1 = package(tmp_path, name="v1.zip")
    result = runner.invoke(args=["modules", "install-file", str(v1)])
    assert result.exit_code == 0, result.output
    assert "hello 1.2.0 installed" in result.output and "unsigned" in result.output
    v2 = package(tmp_path, name="v2.zip", version="1.3.0")
    result = runner.invoke(args=["modules", "install-file", str(v2)], input="n\n")
    assert result.exit_code != 0 and row(app, "hello")["version"] == "1.2.0"
    result = runner.invoke(args=["modules", "install-file", str(v2), "--yes"])
    assert result.exit_code == 0 and "1.2.0 → 1.3.0" in result.output
    result = runner.invoke(args=["modules", "rollback", "hello"])
    assert result.exit_code == 0 and "rolled back to 1.2.0" in result.output
    result = runner.invoke(args=["modules", "uninstall", "hello", "--delete-data"])
    assert result.exit_code == 0 and row(app, "hello") is None


def test_cli_package_errors_are_one_line(app, runner, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    for args in (["modules", "install-file", str(bad)], ["modules", "install-file", str(tmp_path / "none.zip")],
                 ["modules", "uninstall", "nothing"], ["modules", "rollback", "nothing"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0, args
        assert "Traceback" not in result.output and result.output.strip().count("\n") == 0, result.output
        assert result.output.startswith("Error:"), result.output


# --- modules: the marketplace ---------------------------------------------------------------------

def test_cli_install_and_update_all(app, runner, hub_server):
    result = runner.invoke(args=["modules", "install", "notes==1.0.0", "--yes"])
    assert result.exit_code == 0, result.output
    assert "1. install Notes 1.0.0" in result.output
    assert "download" in result.output and "Done: Notes 1.0.0." in result.output
    result = runner.invoke(args=["modules", "update", "--all"])
    assert result.exit_code == 0, result.output
    assert re.search(r"notes +1.0.0 +1.1.0 +updated", result.output), result.output
    with app.app_context():
        assert db.session.get(Module, "notes").version == "1.1.0"
    result = runner.invoke(args=["modules", "install", "hello==2.0.0"])
    assert result.exit_code != 0 and "needs panel" in result.output and "Traceback" not in result.output
    result = runner.invoke(args=["modules", "update", "--all"])
    assert result.exit_code == 0 and "up to date" in result.output


def test_cli_install_with_the_store_down_says_so_in_one_line(app, runner, hub_server):
    hub_server.stop()
    result = runner.invoke(args=["modules", "install", "hello"])
    assert result.exit_code != 0 and "could not be reached" in result.output and "Traceback" not in result.output
