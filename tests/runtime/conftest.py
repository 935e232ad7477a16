"""Fixtures for the runtime: a fresh database per test on SQLite and on PostgreSQL, a
frozen clock, the app and its client, seeded users and the repair template.

PostgreSQL: each test gets its own database, copied from a template database that was
migrated once per run (`CREATE DATABASE ... TEMPLATE`), so tests never see each other's
rows and the append-only event table never needs emptying. Without a reachable server
the PostgreSQL cases skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from runtime.config import Settings
from runtime.context import Request
from runtime.db import Database
from runtime.migrate import upgrade
from runtime.models import Role
from runtime.services import accounts, definitions
from tests.conftest import TEMPLATES

PG_ADMIN_URL = os.environ.get("TICKETFLOW_TEST_PG",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Shanghai
PASSWORD = "correct-horse-battery"


class Clock:
    """A clock tests move by hand; nothing sleeps."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests hash passwords with a smaller scrypt cost (the stored hash records its own
    parameters, so verification is unchanged); production keeps `accounts.SCRYPT`."""
    monkeypatch.setattr(accounts, "SCRYPT", {"n": 2**8, "r": 8, "p": 1})


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as error:  # any failure to connect means "not available"
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {type(error).__name__}"
    return None


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = _pg_available()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the PostgreSQL suite")
        pytest.skip(reason)
    name = f"tf_template_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    upgrade(database)
    database.dispose()
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated database: SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        path = tmp_path / "ticketflow.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
        return
    template = request.getfixturevalue("pg_template")
    name = f"tf_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    database = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    yield database
    database.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class Seed:
    """The people and teams every runtime test starts with."""

    db: Database
    clock: Clock

    def request(self, username: str, address: str | None = "127.0.0.1") -> Request:
        """A service request as `username`, at the clock's current time."""
        with self.db.read() as session:
            user = accounts.find_user(session, username)
            assert user is not None, username
            return Request(accounts.actor_for(user), self.clock(), address)


USERS = [
    ("admin", Role.ADMIN, ()),
    ("zhao", Role.SUPERVISOR, ("repair",)),
    ("wang", Role.AGENT, ("repair",)),
    ("chen", Role.AGENT, ("repair",)),
    ("sun", Role.AGENT, ("network",)),
    ("li", Role.REQUESTER, ()),
    ("zhou", Role.REQUESTER, ()),
]


@pytest.fixture
def seed(database: Database, clock: Clock) -> Seed:
    """Teams repair and network, one user per role, the repair template published."""
    for key, name in (("repair", "Repair"), ("network", "Network")):
        accounts.create_team(database, None, key, name, now=clock())
    for username, role, teams in USERS:
        accounts.create_user(database, None, username=username, role=role, password=PASSWORD,
                             teams=teams, now=clock(), language="en")
    seeded = Seed(database, clock)
    definitions.install(database, seeded.request("admin"),
                        (TEMPLATES / "repair.yaml").read_text(encoding="utf-8"))
    return seeded


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return Settings(database_url=database.url, instance_path=tmp_path,
                    secret_key="test-secret", attachment_dir=tmp_path / "attachments",
                    max_upload_bytes=1024 * 1024, max_request_bytes=2 * 1024 * 1024,
                    testing=True)


@pytest.fixture
def app(settings: Settings, database: Database, clock: Clock, seed: Seed):
    from runtime.app import create_app

    return create_app(settings, clock=clock, database=database)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token_for(seed: Seed) -> Callable[[str], str]:
    """An API token for a seeded user."""

    def issue(username: str) -> str:
        return accounts.create_token(seed.db, seed.request(username), "test").token

    return issue


VALID_REPAIR = {
    "device": "PRN-0042", "category": "printer", "symptom": "paper_jam", "fault": "software",
    "description": "Jams on every second page.", "contact_phone": "+86 138 0013 8000",
}
