"""The one meaning of "satisfied" for a module's `requires`: installed, enabled, and in a version
the specifier accepts (a pre-release only when the specifier names one). Enabling, installing,
the upload report, uninstalling and the uninstall page all follow it.

Before, installing and the upload report accepted a required module that was merely installed,
and a pre-release of it, while enabling refused both: the tests below showed that disagreement
and now hold the stricter meaning everywhere."""

import pytest
from installer_kit import make_zip, module_files, package

from conftest import install_sample
from panel.errors import Conflict, PanelError
from panel.extensions import db
from panel.installer import inspect_package, install_package
from panel.models import Module
from panel.services import dependencies, modules


def needs_hello(tmp_path, spec=">=1.0"):
    return make_zip(tmp_path / "notes.zip", module_files("notes", requires={"hello": spec}))


def test_a_disabled_requirement_stops_install_report_and_enable_alike(app, tmp_path):
    install_sample(app, "hello")  # installed, left disabled
    with app.app_context():
        report = inspect_package(needs_hello(tmp_path))
        assert not report.can_install and report.missing == ["hello>=1.0"]
        assert "needs hello>=1.0 enabled first" in report.problems[0]
        with pytest.raises(PanelError, match="needs hello>=1.0 enabled first"):
            install_package(needs_hello(tmp_path), "test")
        assert db.session.get(Module, "notes") is None


def test_a_prerelease_does_not_satisfy_a_plain_specifier(app, tmp_path):
    with app.app_context():
        install_package(package(tmp_path, name="h.zip", version="2.0.0rc1"), "test")
        assert modules.enable("hello", "test").state == "enabled"
        report = inspect_package(needs_hello(tmp_path))
        assert not report.requires[0].ok and report.missing == ["hello>=1.0"]
        with pytest.raises(PanelError, match="needs these modules installed first: hello>=1.0"):
            install_package(needs_hello(tmp_path), "test")
        # …unless the specifier itself names a pre-release.
        install_package(needs_hello(tmp_path, ">=2.0.0rc1"), "test")
        assert modules.enable("notes", "test").state == "enabled"


def test_enable_refuses_once_a_requirement_is_disabled_again(app, tmp_path):
    install_sample(app, "hello")
    with app.app_context():
        modules.enable("hello", "test")
        install_package(needs_hello(tmp_path), "test")
        modules.disable("hello", "test")
        with pytest.raises(Conflict, match="needs hello>=1.0 enabled first"):
            modules.enable("notes", "test")


def test_an_update_that_breaks_an_enabled_dependant_is_refused(app, tmp_path):
    install_sample(app, "hello")
    with app.app_context():
        modules.enable("hello", "test")
        install_package(needs_hello(tmp_path, "<2"), "test")
        modules.enable("notes", "test")
        report = inspect_package(package(tmp_path, name="h2.zip", version="2.0.0"))
        assert "would break modules that require another version: Notes (hello<2)" in report.problems[0]
        with pytest.raises(PanelError, match="would break"):
            install_package(package(tmp_path, name="h2.zip", version="2.0.0"), "test")


def test_disable_refuses_while_an_enabled_module_needs_it(app, tmp_path):
    """On PostgreSQL the disable reads the enabled modules with its lock (one statement): the same
    ones, by the same rule, as `dependants` reads by itself."""
    install_sample(app, "hello")
    with app.app_context():
        modules.enable("hello", "test")
        install_package(needs_hello(tmp_path), "test")
        modules.enable("notes", "test")
        module, enabled_others = modules.read_for_switch("hello", with_others=True)
        db.session.rollback()
        assert [m.slug for m in dependencies.dependants("hello", enabled_others)] == ["notes"]
        assert [m.slug for m in dependencies.dependants("hello")] == ["notes"]
        with pytest.raises(Conflict, match="Hello is needed by Notes; disable those first"):
            modules.disable("hello", "test")
        assert db.session.get(Module, "hello").state == "enabled"
        modules.disable("notes", "test")
        assert modules.disable("hello", "test").state == "disabled"


def test_a_disable_finds_its_dependants_through_the_index_of_requiring_modules(app, tmp_path):
    """The dependants' read states the partial index's own condition, so the database reads the few
    modules that require others, not every enabled module's manifest."""
    install_sample(app, "hello")
    with app.app_context():
        modules.enable("hello", "test")
        install_package(needs_hello(tmp_path), "test")
        modules.enable("notes", "test")
        connection = db.session.connection()
        statement = dependencies._ENABLED_OTHERS.compile(dialect=connection.dialect)
        params = statement.construct_params({"target": "hello"})
        if connection.dialect.name == "sqlite":
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement.string,
                                              tuple(params[name] for name in statement.positiontup)).all()
            assert "ix_modules_requiring" in str(plan)
        else:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = connection.exec_driver_sql("EXPLAIN " + statement.string, params).all()
            assert "ix_modules_requiring" in str(plan)
        assert [row.slug for row in dependencies.dependants("hello")] == ["notes"]
        with pytest.raises(Conflict, match="needed by"):
            modules.disable("hello", "test")
