"""The notes table."""


def upgrade(db):
    key = "SERIAL PRIMARY KEY" if db.dialect == "postgresql" else "INTEGER PRIMARY KEY AUTOINCREMENT"
    db.execute(
        "CREATE TABLE IF NOT EXISTS mod_notes_notes ("
        f" id {key},"
        " body TEXT NOT NULL,"
        " author VARCHAR(64) NOT NULL DEFAULT '',"
        " created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
