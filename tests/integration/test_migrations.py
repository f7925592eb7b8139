"""The migrations build exactly the schema the models describe (the suite runs on the migrated
database, so a model change without its migration would otherwise pass here and fail in production)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from listening.core.models import Base
from tests.support.apps import services_of


def test_models_and_migrations_agree(app):
    with services_of(app).db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
