"""The typed fast path of catalog validation (entries.fast_entry) gives exactly what the full rule
(validate_entry) gives, and leaves every entry it does not fit to that rule."""

import json

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panel.marketplace.catalog_rows import row_values
from panel.marketplace.entries import (FastEntry, Malformed, Validated, as_dict, catalog_entries, decode_catalog,
                                     validate_entry)

COMMON = {"slug": "hello_world", "name": "Hello", "version": "1.2.0", "summary": "Says hello", "category": "Tools",
          "author": "Vendor", "paid": False, "price": "", "trial_days": 0, "icon": "box",
          "docs_url": "https://example.org/docs", "homepage": "", "requires_core": ">=1.0", "requires": {},
          "has_eula": False, "description": "not stored",
          "versions": [{"version": "1.0.0", "date": "2025-01-01", "requires_core": ">=1.0", "sha256": "a" * 64,
                        "signature": "", "size": 10, "download_url": "api/modules/hello_world/1.0.0/download"},
                       {"version": "1.2.0", "date": "2025-02-01", "requires_core": ">=1.0", "sha256": "",
                        "signature": "sig", "size": 0, "download_url": "https://cdn.example.org/h.zip"}]}

# Values that each break the common shape one way (the full rule cuts, normalises, fills in or refuses).
ODD_TOP = {
    "slug": ["Bad", "", None, 7, "hello_world\n", "hello\x00world", "hello_world\n\n"], "name": ["  Hello ", "x" * 130, "", None, 5],
    "version": ["1.2", "v1.2.0", "", None, "banana"], "summary": [None, "s" * 400, 3],
    "category": [" Tools", "c" * 70, None], "paid": [1, None, "yes", True], "trial_days": [None, False, 1.5, -3],
    "icon": ["", "Big Icon", None, "x" * 50, 3, "box\n", "\n"], "docs_url": ["ftp://x", "http://exa mple.org", "//x.org/a",
                                                         "HTTP://X.ORG", "http://[", None, "h" * 600, "\n",
                                                         "https://x.org/a\n", "https://x.org\x00/"],
    "homepage": ["https://user@x.org/", ""], "requires_core": ["not a spec", None, ">= 1.0", "r" * 120],
    "requires": [None, {"Bad": ">=1"}, {"ok": 1}, {"ok": "v" * 150}, {f"m{i:02d}": "" for i in range(60)}, []],
    "has_eula": [1, None, "no", True], "versions": [None, [], "x", [1]],
}
ODD_RELEASE = {
    "version": ["1.0", None, "x"], "date": [None, "d" * 40, 3], "requires_core": [None, "??"],
    "sha256": ["A" * 64, "abc", None], "signature": [None, "s" * 250], "size": [-1, True, 1.0, None],
    "download_url": ["", None, "u" * 600],
}


@st.composite
def entries(draw):
    entry = json.loads(json.dumps(COMMON))
    for key in draw(st.sets(st.sampled_from(sorted(ODD_TOP)), max_size=3)):
        choice = draw(st.sampled_from(ODD_TOP[key] + ["<absent>"]))
        if choice == "<absent>":
            entry.pop(key)
        else:
            entry[key] = choice
    if isinstance(entry.get("versions"), list) and entry["versions"] and isinstance(entry["versions"][0], dict):
        release = entry["versions"][draw(st.integers(0, len(entry["versions"]) - 1))]
        for key in draw(st.sets(st.sampled_from(sorted(ODD_RELEASE)), max_size=2)):
            release[key] = draw(st.sampled_from(ODD_RELEASE[key]))
        if draw(st.booleans()):
            entry["versions"].reverse()  # out of order: the full rule sorts them
    return entry


def full_rule(entry):
    try:
        return validate_entry(entry)
    except Malformed:
        return None


def through_bytes(entry):
    validated = Validated(decode_catalog(json.dumps([entry]).encode()))
    found = [as_dict(e) for e in validated]
    return found[0] if found else None


def test_the_common_shape_takes_the_typed_path_and_gives_what_the_full_rule_gives():
    found = list(Validated(catalog_entries(decode_catalog(json.dumps({"modules": [COMMON]}).encode()))))
    assert isinstance(found[0], FastEntry)
    assert as_dict(found[0]) == validate_entry(COMMON)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries())
def test_any_entry_gets_the_same_result_through_either_path(entry):
    assert through_bytes(entry) == full_rule(entry)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries(), st.booleans(), st.sampled_from([">=1.0", ">=99", ""]))
def test_any_entry_is_stored_as_the_same_row_through_either_path(entry, one_release, requires_core):
    if one_release and isinstance(entry.get("versions"), list):
        entry["versions"] = entry["versions"][-1:]
    if isinstance(entry.get("versions"), list) and entry["versions"] and isinstance(entry["versions"][-1], dict):
        entry["versions"][-1]["requires_core"] = requires_core  # compatible with this panel, or not
    expected = full_rule(entry)
    found = Validated(decode_catalog(json.dumps([entry]).encode()))
    assert [row_values(1, e) for e in found] == ([] if expected is None else [row_values(1, expected)])


def test_a_document_msgspec_refuses_is_read_as_json_loads_reads_it():
    body = b'{"modules": [{"slug": "nan_size", "name": "N", "version": "1.0.0", "versions": [{"version": "1.0.0", ' \
           b'"size": NaN}]}, ' + json.dumps(COMMON).encode() + b'], "since": "v1", "removed": ["gone"]}'
    document = decode_catalog(body)
    assert document["since"] == "v1" and document["removed"] == ["gone"]
    validated = Validated(document["modules"])
    assert [as_dict(e) for e in validated] == [validate_entry(COMMON)] and validated.skipped == 1


def test_a_repeated_slug_is_skipped_whichever_path_read_it():
    odd = {**COMMON, "name": "  Hello again "}  # the full rule's path
    validated = Validated(decode_catalog(json.dumps([COMMON, odd, COMMON]).encode()))
    assert [e["name"] for e in map(as_dict, validated)] == ["Hello"] and validated.skipped == 2


def test_a_change_list_keeps_its_since_and_removed():
    document = decode_catalog(json.dumps({"since": "abc", "removed": ["x", 3], "modules": []}).encode())
    assert document == {"since": "abc", "removed": ["x", 3], "modules": []}
    assert not isinstance(decode_catalog(b'{"modules": 5}')["modules"], list)  # refused later, as before
    assert msgspec.json.encode(validate_entry(COMMON)) == msgspec.json.encode(Validated(decode_catalog(
        json.dumps([COMMON]).encode())).__iter__().__next__())  # the stored JSON is the same text
