"""Everything that turns data into HTML: Jinja's set-up (the one place that registers template
globals and filters), the module card, the sidebar, the context builders of every page, and the
page-or-fragment, toast and error answers."""

from flask_babel import get_locale
from jinja2 import ChoiceLoader

from ..i18n import LANGUAGE_NAMES
from ..versions import CORE_VERSION
from .cards import cards_html
from .dashboard import audit_action_label
from .fragments import request_token
from .jinja import ModuleTemplateLoader, install_translations
from .layout import layout_assets, layout_header
from .market_cards import market_cards_html
from .page_shells import hole
from .sidebar import sidebar_html


def init_app(app) -> None:
    app.jinja_loader = ChoiceLoader([app.jinja_loader, ModuleTemplateLoader(app.extensions["module_registry"])])
    install_translations(app.jinja_env)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    # The parts of a page that change with more than its context are holes in a kept page
    # (ui.page_shells): filled on every request.
    app.add_template_global(hole(sidebar_html), "sidebar_html")
    app.add_template_global(hole(layout_header), "layout_header")
    app.add_template_global(layout_assets)
    app.add_template_global(cards_html)
    app.add_template_global(market_cards_html)
    # Flask-WTF's `csrf_token`, asked once per request; Flask-WTF also puts its own in every
    # template's context, which this context processor, registered after it, replaces.
    app.add_template_global(request_token, "csrf_token")
    app.context_processor(lambda: {"csrf_token": request_token})
    app.add_template_global(audit_action_label)
    app.add_template_global(CORE_VERSION, "core_version")
    app.add_template_global(get_locale)
    app.add_template_global(LANGUAGE_NAMES, "language_names")
