"""Notes export: the Notes module's table as a CSV download."""

import csv
import io


def setup(api):
    @api.page("/")
    def index():
        return api.render("index.html")

    @api.page("/notes.csv")
    def download():
        rows = api.db.fetchall("SELECT id, body, author, created_at FROM mod_notes_notes ORDER BY id")
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "body", "author", "created_at"])
        for row in rows:
            writer.writerow([row["id"], row["body"], row["author"], row["created_at"]])
        return out.getvalue(), 200, {"Content-Type": "text/csv; charset=utf-8",
                                     "Content-Disposition": "attachment; filename=notes.csv"}
