"""Hello: one page that greets the administrator with the configured greeting."""


def setup(api):
    @api.page("/")
    def index():
        greeting = api.settings.get("greeting") or "Hello"
        return api.render("index.html", greeting=greeting)
