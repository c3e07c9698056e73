"""Notes: list and add notes, stored in the module's own table `mod_notes_notes`."""


def setup(api):
    table = api.table("notes")

    @api.page("/", methods=["GET", "POST"])
    def index():
        error = None
        if api.request.method == "POST":
            body = (api.request.form.get("body") or "").strip()
            if not body or len(body) > 500:
                error = api.gettext("A note is 1 to 500 characters.")
            else:
                api.db.execute(f"INSERT INTO {table} (body, author) VALUES (:body, :author)",
                               body=body, author=api.current_user_name())
                api.db.commit()
                return api.redirect(api.url_for("index"))
        limit = int(api.settings.get("max_notes") or 50)
        notes = api.db.fetchall(f"SELECT id, body, author, created_at FROM {table} ORDER BY id DESC LIMIT :n",
                                n=limit)
        return api.render("index.html", notes=notes, error=error), 422 if error else 200
