"""WAL checkpoints of a SQLite file happen in the background, not inside commits.

What a commit writes goes to the `-wal` log; a checkpoint copies it into the database
file. The specification: what was committed reaches the database file without any
commit paying for it, the backstop setting is on every connection, a file that has gone
is never created again, and the thread ends with its database.
"""

from __future__ import annotations

import gc
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from runtime.checkpoint import BACKSTOP_PAGES, WalCheckpointer
from runtime.db import Database
from runtime.migrate import upgrade


def _committed_rows(database: Database, count: int) -> None:
    for i in range(count):
        with database.write() as session:
            session.execute(text("INSERT INTO notes (body) VALUES (:body)"),
                            {"body": f"note {i}"})


def _rows_in_the_main_file(path: Path, scratch: Path) -> int:
    """Rows readable from the database file alone, without its log."""
    alone = scratch / "alone.db"
    shutil.copy(path, alone)
    with sqlite3.connect(alone) as connection:
        return int(connection.execute("SELECT count(*) FROM notes").fetchone()[0])


def _notes_database(path: Path) -> Database:
    database = Database(f"sqlite:///{path}")
    with database.write() as session:
        session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    return database


@pytest.mark.parametrize("folder", ["plain", "with # and % in it"])
def test_committed_rows_reach_the_database_file_in_the_background(tmp_path: Path,
                                                                   folder: str) -> None:
    (tmp_path / folder).mkdir()
    path = tmp_path / folder / "t.db"
    database = _notes_database(path)
    _committed_rows(database, 20)  # far below SQLite's own 1,000-page checkpoint
    checkpointer = database.checkpointer
    assert checkpointer is not None
    checkpointer.stop()  # waits for the thread's last pass
    assert checkpointer.checkpoints >= 1
    assert _rows_in_the_main_file(path, tmp_path) == 20
    database.dispose()


def test_connections_leave_the_checkpoint_to_the_background(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 't.db'}")
    upgrade(database)
    with database.read() as session:
        assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == BACKSTOP_PAGES
    database.dispose()


def test_a_database_file_that_has_gone_is_not_created_again(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    checkpointer = WalCheckpointer(path)
    checkpointer.nudge()
    checkpointer.stop()
    assert not path.exists()


def test_the_thread_ends_with_its_database(tmp_path: Path) -> None:
    database = _notes_database(tmp_path / "ends-with-it.db")
    (thread,) = [thread for thread in threading.enumerate()
                 if thread.name == "wal-checkpoint:ends-with-it.db"]
    del database  # never disposed: garbage collection stops the thread
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


def test_postgresql_and_memory_databases_have_none() -> None:
    assert Database("sqlite://").checkpointer is None
    assert Database("postgresql+psycopg://nobody@127.0.0.1:1/none").checkpointer is None
