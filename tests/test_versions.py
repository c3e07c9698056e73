"""One rule for versions: an unreadable one never raises, sorts below every valid one and is never newer."""

import pytest

from panel import versions


@pytest.mark.parametrize("bad", ["not a version", "", None, 3, "1" * 80])
def test_an_unreadable_version_sorts_first_and_is_never_newer(bad):
    assert versions.parse(bad) is None and not versions.is_valid(bad)
    assert sorted(["1.0", bad, "0.1"], key=versions.sort_key) == [bad, "0.1", "1.0"]
    assert not versions.newer(bad, "0.0.1") and versions.newer("0.0.1", bad)
    assert versions.older(bad, "0.0.1") and not versions.newer(bad, "also bad")
    assert versions.compare(bad, "1.0") == "update" and versions.compare("1.0", bad) == "downgrade"
    assert not versions.matches(bad, ">=0") and versions.matches(bad, "")


def test_comparisons_follow_pep_440():
    assert versions.newer("1.10", "1.9") and versions.compare("1.0", "1.0.0") == "same"
    assert versions.newer("2.0", "2.0rc1") and versions.normalized("v1.2") == "1.2"
    assert versions.matches("1.5", ">=1,<2") and not versions.matches("2.0", ">=1,<2")
    assert not versions.matches("2.0rc1", ">=1") and versions.matches("2.0rc1", ">=2.0rc1")
    assert not versions.matches("1.0", "~=nope")


def test_the_panel_checks_requires_core_against_its_own_version():
    assert versions.core_compatible("") and versions.core_compatible(f"=={versions.CORE_VERSION}")
    assert not versions.core_compatible(">=99") and not versions.core_compatible("not a spec")
