"""Alembic environment for the scanner's store: runs on the connection `compliance.migrate` hands over."""

from alembic import context

from compliance.migrate import VERSION_TABLE
from compliance.store import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
