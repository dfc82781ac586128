from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from wallet import migrate
from wallet.db import make_engine
from wallet.models import Base


def test_migrations_match_models_and_rerun(any_db_url):
    engine = make_engine(any_db_url)
    assert migrate.current_revision(engine) is None and not migrate.is_current(engine)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.is_current(engine) and migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()
