"""SQLite's WAL checkpoints, taken off the commit path by a background thread.

In WAL mode a commit appends the pages it changed to the `-wal` file; a checkpoint
copies them back into the database file and, with `synchronous=NORMAL`, is the only
moment anything is fsynced. SQLite's default runs that checkpoint inside whichever commit
pushes the log past 1,000 pages: with a ticket's ~33 pages that was every ~30th
creation, and its two fsyncs made the commit, averaged, cost three times its own writes
(bench/create.py: 604 µs per commit, 200 µs with checkpoints elsewhere).

So each process that writes a database file keeps one `WalCheckpointer`: after a commit
it is nudged, and its thread, on a connection of its own, runs a PASSIVE checkpoint
(which never waits for readers or writers, so nobody waits for it) at most once per
`interval`. That also bounds how much a power loss can take: the log is fsynced within
about `interval` of a commit, however quiet the system (before, a quiet system could
keep 1,000 pages unsynced for hours). The connections keep a far larger automatic
checkpoint (`BACKSTOP_PAGES`) as a backstop: under a write load that never lets the
background pass catch up with the end of the log, a commit does the last, short catch-up,
and the log starts again from its beginning.

Nothing depends on the thread for correctness: without it SQLite's own checkpoint at
the backstop keeps the log bounded.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

# Connections' automatic checkpoint: 8,192 pages (32 MiB of log at 4 KiB a page).
BACKSTOP_PAGES = 8_192
# After a reset the log file is cut back to this size (SQLite otherwise keeps its peak).
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
DEFAULT_INTERVAL = 0.1


def configure_connection(cursor: Any) -> None:
    """The checkpoint settings of an application (or benchmark floor) connection."""
    cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")


class WalCheckpointer:
    """Checkpoints one SQLite database file from a background thread of this process.

    `nudge()` after a commit is all a writer does (it sets an event). The thread starts on
    the first nudge in each process (so a fork gets its own) and stops with `stop()` or
    when the owner is garbage collected (see `attach`).
    """

    def __init__(self, path: str | Path, interval: float = DEFAULT_INTERVAL) -> None:
        self.path = str(path)
        self.interval = interval
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.checkpoints = 0  # completed passes, for tests and curiosity

    def attach(self, owner: object) -> WalCheckpointer:
        """Stop the thread when `owner` (the Database) is garbage collected."""
        weakref.finalize(owner, self.stop)
        return self

    def nudge(self) -> None:
        """A commit happened: checkpoint soon (at most once per interval)."""
        if self._pid != os.getpid():
            self._start()
        self._wanted.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread after a last checkpoint of what is pending."""
        self._stopping.set()
        self._wanted.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _start(self) -> None:
        with self._guard:
            if self._pid == os.getpid() or self._stopping.is_set():
                return
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"wal-checkpoint:{Path(self.path).name}")
            self._pid = os.getpid()
            self._thread.start()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                # Read after the clear: a stop asked for during the pass below is answered
                # by one more pass, which sees every commit made before the stop.
                stopping = self._stopping.is_set()
                connection = connection or self._connect()
                if connection is not None:
                    self._checkpoint(connection)
                if stopping:
                    break
                # Pacing; a stop during it finds `_wanted` set: one last pass, then out.
                self._stopping.wait(self.interval)
        finally:
            if connection is not None:
                connection.close()

    def _connect(self) -> sqlite3.Connection | None:
        try:
            # mode=rw: never create a file that has gone (a test's folder, a moved database).
            # Quoted: a '?', '#' or '%' in a folder's name would end the URI's path.
            return sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True,
                                   isolation_level=None, timeout=0)
        except sqlite3.Error as error:
            log.warning("WAL checkpoints of %s are off: %s", self.path, error)
            return None

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as error:  # busy with another process's checkpoint, say
            log.debug("WAL checkpoint of %s skipped: %s", self.path, error)
