"""`ticketflow serve` as a client meets it: the production server (granian) in front of the
app, on 127.0.0.1, over real sockets.

The app's own behaviour is specified elsewhere through the WSGI interface; these tests
hold what only a real server can break: keep-alive connections, the headers and the
uniform JSON errors on the wire, an oversized upload refused before its body is sent,
tickets created over HTTP by a token holder, and a worker process that dies started again.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runtime.context import Request
from runtime.db import Database
from runtime.migrate import upgrade
from runtime.models import Role
from runtime.services import accounts, definitions
from tests.conftest import ROOT
from tests.runtime.conftest import VALID_REPAIR
from tests.runtime.servers import READY_S, SAYS_WITHIN_S, Log, answers, free_port, ticketflow_serve

MAX_UPLOAD_MB = 1  # the server then refuses bodies over 6 MiB (upload + 5 MiB of form)


@dataclass(frozen=True)
class Served:
    port: int
    token: str

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)


def _prepared_database(url: str) -> str:
    """A database with the repair template and a customer's API token."""
    db = Database(url)
    try:
        upgrade(db)
        now = datetime.now(UTC)
        admin = accounts.create_user(db, None, username="admin", role=Role.ADMIN,
                                     password="a-long-enough-password", now=now)
        customer = accounts.create_user(db, None, username="alice", role=Role.REQUESTER,
                                        password="a-long-enough-password", now=now)
        definitions.install(db, Request(accounts.actor_for(admin), now),
                            (ROOT / "templates_library" / "repair.yaml").read_text("utf-8"))
        return accounts.create_token(db, Request(accounts.actor_for(customer), now),
                                     "serve-test").token
    finally:
        db.dispose()


@contextmanager
def _serving(folder: Path) -> Iterator[tuple[Served, subprocess.Popen[bytes]]]:
    """`ticketflow serve` (one process, one thread) on a prepared SQLite database."""
    url = f"sqlite:///{folder / 'serve.db'}"
    token = _prepared_database(url)
    env = {"DATABASE_URL": url, "TICKETFLOW_INSTANCE": str(folder),
           "TICKETFLOW_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB)}
    with ticketflow_serve(env, folder / "serve.log") as (port, process):
        yield Served(port, token), process


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with _serving(tmp_path_factory.mktemp("serve")) as (server, _process):
        yield server


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux: read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_one_keep_alive_connection_carries_many_requests(served: Served) -> None:
    connection = served.connect()
    try:
        for _ in range(5):
            connection.request("GET", "/login")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Connection", "keep-alive").lower() != "close"
    finally:
        connection.close()


def test_an_api_error_is_uniform_json_with_the_security_headers(served: Served) -> None:
    connection = served.connect()
    try:
        connection.request("GET", "/api/v1/tickets")
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 401
    assert body["error"]["code"] == "unauthorized"
    assert response.getheader("WWW-Authenticate") == 'Bearer realm="ticketflow"'
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Frame-Options") == "DENY"
    assert "frame-ancestors 'none'" in (response.getheader("Content-Security-Policy") or "")
    assert response.getheader("Cache-Control") == "no-store"


def test_an_oversized_body_is_refused_before_it_is_sent(served: Served) -> None:
    declared = (MAX_UPLOAD_MB + 6) * 1024 * 1024
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as raw:
        raw.sendall(b"POST /api/v1/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Authorization: Bearer " + served.token.encode() + b"\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Content-Length: " + str(declared).encode() + b"\r\n\r\n")
        # Not one byte of the body follows: the answer must come anyway.
        response = http.client.HTTPResponse(raw, method="POST")
        response.begin()
        body = json.loads(response.read())
    assert response.status == 413
    assert body["error"]["code"] == "too-large"


def test_a_token_holder_creates_a_ticket_over_http(served: Served) -> None:
    connection = served.connect()
    try:
        connection.request("POST", "/api/v1/tickets",
                           json.dumps({"ticket_type": "repair", "values": VALID_REPAIR}),
                           {"Authorization": f"Bearer {served.token}",
                            "Content-Type": "application/json"})
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 201, body
    assert body["ticket"]["number"].startswith("REP-")
    assert body["ticket"]["requester"] == "alice"
    assert response.getheader("Location", "").endswith(body["ticket"]["number"])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_a_worker_that_dies_is_started_again(tmp_path: Path) -> None:
    with _serving(tmp_path) as (served, process):
        (worker,) = _children(process.pid)
        os.kill(worker, signal.SIGKILL)

        def replaced() -> bool:
            # Until it is reaped, the killed worker is still listed among the children.
            return _children(process.pid) not in ([], [worker]) and answers(served.port)

        deadline = time.monotonic() + READY_S
        while not replaced() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert replaced()


def test_ctrl_c_stops_the_server_and_its_scheduler_gracefully(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    _prepared_database(url)
    port = free_port()
    log = Log(subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "serve", "--port", str(port), "--workers", "1",
         "--threads", "1"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": url, "TICKETFLOW_INSTANCE": str(tmp_path)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True))
    log.until("started; every")  # the scheduler
    deadline = time.monotonic() + READY_S
    while not answers(port):  # the web worker has built the app
        assert time.monotonic() < deadline, log.text
        time.sleep(0.1)
    os.killpg(log.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    log.process.wait(timeout=SAYS_WITHIN_S)
    text = log.to_the_end()
    assert log.process.returncode == 0, text
    assert "refused to gracefully stop" not in text  # granian then kills its workers
    assert "Traceback" not in text
    assert re.search(r"INFO worker \S+ stopped", text), text
