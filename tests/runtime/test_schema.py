"""The migrations and the models describe the same schema, on SQLite and PostgreSQL: a
model changed without a migration (or the reverse) fails here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from runtime.db import Database
from runtime.models import Base


def test_the_migrated_schema_is_the_models_schema(database: Database):
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
