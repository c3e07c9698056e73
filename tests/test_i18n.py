"""The catalogs keep up with the code: every message translated in French and Russian."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "panel" / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "panel/babel.cfg",
                    "-k", "_l", "--no-location", "-o", str(pot), "."], cwd=ROOT, check=True,
                   capture_output=True)
    with pot.open("rb") as fh:
        return read_po(fh)


@pytest.mark.parametrize("locale", ["fr", "ru"])
def test_catalog_translates_every_message(extracted, locale):
    po_file = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    assert po_file.exists(), f"missing catalog {po_file}"
    with po_file.open("rb") as fh:
        catalog = read_po(fh)
    problems = []
    for message in extracted:
        if not message.id:
            continue
        entry = catalog.get(message.id, message.context)
        if entry is None:
            problems.append(f"missing: {message.id!r}")
        elif not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
            problems.append(f"untranslated: {message.id!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        else:
            source = message.id if isinstance(message.id, str) else message.id[0]
            target = entry.string if isinstance(entry.string, str) else entry.string[0]
            if set(PLACEHOLDER.findall(source)) != set(PLACEHOLDER.findall(target)):
                problems.append(f"placeholders differ: {message.id!r}")
    assert not problems, f"{locale} catalog is behind the code ({len(problems)}): " + "; ".join(problems[:20])


@pytest.mark.parametrize("locale", ["fr", "ru"])
def test_pages_are_served_in_the_browsers_language(client, locale):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        expected = read_po(fh).get("Create the administrator").string
    html = client.get("/setup", headers={"Accept-Language": f"{locale},en;q=0.5"}).get_data(as_text=True)
    assert f'lang="{locale}"' in html
    assert expected and expected in html
