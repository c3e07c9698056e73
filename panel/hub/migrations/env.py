"""Alembic environment of the hub's own database (not the panel's): the engine comes from the hub."""

from alembic import context

from panel.hub.db import VERSION_TABLE, metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
