"""No input gives a 500: arbitrary unicode and huge numbers in every route argument and query parameter."""

import re
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import install_sample

# What odd input looks like: any text, digits that are not ASCII, numbers too large for any column.
ODD = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["²", "①", "٣", "𝟗", "1e9", "-1", "0", "+5", " 7", "٠١", "%00", "../..", "\x00", "hello"]),
    st.integers(min_value=-10**40, max_value=10**40).map(str),
)
QUERY_NAMES = ["q", "state", "page", "tab", "dialog", "edit", "next", "category", "price", "sort", "version", "id"]
# Changes whose side effects reach outside the panel (the store) or end the session under test.
NOT_FUZZED = {"auth.logout", "auth.logout_everywhere", "auth.account", "marketplace.refresh",
              "marketplace.install", "static", "assets.vendor"}


def fuzzable_rules(app):
    return sorted(((rule.rule, sorted(rule.methods - {"HEAD", "OPTIONS"}), rule.arguments)
                   for rule in app.url_map.iter_rules() if rule.endpoint not in NOT_FUZZED), key=str)


def fill(rule: str, values) -> str:
    return re.sub(r"<[^>]+>", lambda _: quote(values.draw(ODD), safe="") or "x", rule)


def test_no_route_answers_500_to_odd_input(app, admin_client):
    install_sample(app, "hello")
    # Pages that ask the store find it closed at once instead of waiting for retries.
    app.config.update(MARKETPLACE_URL="http://127.0.0.1:9/store", MARKETPLACE_RETRIES=0)
    rules = fuzzable_rules(app)
    assert len(rules) > 20

    @settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.data())
    def check(values):
        rule, methods, arguments = values.draw(st.sampled_from(rules))
        path = fill(rule, values)
        query = {name: values.draw(ODD) for name in values.draw(st.lists(st.sampled_from(QUERY_NAMES), max_size=3))}
        method = values.draw(st.sampled_from(methods))
        form = {name: values.draw(ODD) for name in values.draw(st.lists(st.sampled_from(
            ["label", "section", "show_in_sidebar", "position", "slug", "version", "key", "code", "order",
             "direction", "locale", "name", "q"]), max_size=4))}
        headers = {"X-CSRFToken": admin_client.csrf, **({"HX-Request": "true"} if values.draw(st.booleans()) else {})}
        response = admin_client.open(path, method=method, query_string=query, data=form, headers=headers)
        assert response.status_code != 500, (method, path, query, form, response.get_data(as_text=True)[:300])
        body = response.get_data(as_text=True)
        assert "Traceback" not in body and "/work/" not in body and "/tmp/" not in body, (method, path)

    check()


def test_numbers_that_are_not_plain_digits_are_a_404_not_a_500(admin_client):
    for job_id in ["²", "①", "٣", "1" * 30, "-1", "1.5"]:
        assert admin_client.get(f"/jobs/{quote(job_id)}").status_code == 404, job_id
        assert admin_client.get(f"/jobs/{quote(job_id)}", headers={"Accept": "application/json"}).status_code == 404
    for page in ["²", "①", "9" * 30, "-3", "0"]:
        assert admin_client.get("/marketplace", query_string={"page": page}).status_code in (200, 400), page
