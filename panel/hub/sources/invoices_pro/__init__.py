"""Invoices Pro: a page that previews an invoice with the configured company and tax rate."""


def setup(api):
    @api.page("/")
    def index():
        company = api.settings.get("company") or "Your company"
        rate = int(api.settings.get("tax_rate") or 0)
        return api.render("index.html", company=company, rate=rate, total=100 + rate)
