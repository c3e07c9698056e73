"""The notes table."""


def upgrade(db):
    db.execute(
        "CREATE TABLE IF NOT EXISTS mod_notes_notes ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " body TEXT NOT NULL,"
        " author VARCHAR(64) NOT NULL DEFAULT '',"
        " created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
