"""The migrations and the models describe the same schema, on both databases: after
`upgrade`, Alembic's comparison of the live database with the models finds nothing to
change. (A migration forgotten in a merge, or a model column without one, fails here.)
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from runtime.db import Database
from runtime.models import Base


def _differences(database: Database) -> list[Any]:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_the_migrated_schema_is_the_models_schema(database: Database) -> None:
    assert _differences(database) == []
