"""Settings: defaults, then instance/config.py, then the environment, which wins (typed like the default)."""

import re
import subprocess
import sys

import pytest

from panel import create_app
from panel.config import DEFAULTS, ENV_KEYS, ConfigError

from conftest import ROOT


def test_the_environment_sets_a_string(tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETPLACE_URL", "http://127.0.0.1:5999/store")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["MARKETPLACE_URL"] == "http://127.0.0.1:5999/store"


def test_the_environment_sets_an_int(tmp_path, monkeypatch):
    monkeypatch.setenv("MAX_PACKAGE_BYTES", "1234")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["MAX_PACKAGE_BYTES"] == 1234


def test_the_environment_sets_a_float(tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETPLACE_BACKOFF", "1.5")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["MARKETPLACE_BACKOFF"] == 1.5


@pytest.mark.parametrize("text, expected", [("false", False), ("0", False), ("Yes", True), ("on", True)])
def test_the_environment_sets_a_bool(tmp_path, monkeypatch, text, expected):
    monkeypatch.setenv("EMBEDDED_HUB", text)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["EMBEDDED_HUB"] is expected


def test_the_environment_wins_over_instance_config(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text("CATALOG_TTL_SECONDS = 10\nMARKETPLACE_RETRIES = 5\n")
    monkeypatch.setenv("CATALOG_TTL_SECONDS", "20")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["CATALOG_TTL_SECONDS"] == 20
    assert app.config["MARKETPLACE_RETRIES"] == 5


def test_a_bad_value_is_one_sentence_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("MAX_PACKAGE_BYTES", "fifty megabytes")
    with pytest.raises(ConfigError) as caught:
        create_app({"INSTANCE_PATH": str(tmp_path)})
    assert str(caught.value) == "MAX_PACKAGE_BYTES from the environment must be a whole number, not 'fifty megabytes'."


def test_a_bad_value_stops_the_command_line_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PANEL_INSTANCE_PATH": str(tmp_path), "EMBEDDED_HUB": "maybe"}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "modules", "list"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "EMBEDDED_HUB from the environment must be true or false, not 'maybe'." in result.stderr


def test_every_setting_the_readme_documents_has_a_default_and_is_read_from_the_environment():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    documented = {name for row in table.splitlines()[2:] for name in re.findall(r"`([A-Z_]+)`", row.split("|")[1])}
    documented.discard("PANEL_INSTANCE_PATH")  # read before the config exists (environment only)
    assert documented and documented <= set(ENV_KEYS)
    assert documented <= set(DEFAULTS)
