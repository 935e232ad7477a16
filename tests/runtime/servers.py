"""Real servers the tests talk to, on 127.0.0.1 and an ephemeral port: an SMTP server
(aiosmtpd) that keeps what it receives, an HTTP receiver whose answers a test scripts (a
status, a robot's JSON, or hanging until the test lets it go), a TCP proxy in front of
PostgreSQL that a test takes down to play an outage, and `ticketflow serve` itself; and
the log of a process a test starts, read as it comes."""

from __future__ import annotations

import email
import email.policy
import http.client
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import ROOT

HANG_LIMIT_S = 30  # a hanging receiver gives up by itself if a test forgets to release it
READY_S = 30  # `ticketflow serve` answers well within this, or the test fails with its log


class _EphemeralController(Controller):
    """aiosmtpd's controller, bound to port 0: it learns its port from the socket."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpSink:
    """Accepts mail for anyone, except addresses at refuse.example (550, permanent) and
    busy.example (451, try later)."""

    messages: list[EmailMessage] = field(default_factory=list)
    port: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address.endswith("@refuse.example"):
            return "550 5.1.1 no such mailbox"
        if address.endswith("@busy.example"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content,
                                           policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    controller = _EphemeralController(sink, hostname="127.0.0.1", port=0)
    controller.start()
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records every POST. `answers` is consumed one per request (then `default`):
    an int is a status with an empty JSON body; a dict is a 200 with that JSON body;
    "hang" holds the request until `release()`, then answers `default`."""

    answers: list[int | dict[str, Any] | str] = field(default_factory=list)
    default: int | dict[str, Any] | str = 200
    received: list[Received] = field(default_factory=list)
    port: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    _release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def release(self) -> None:
        """Let hanging requests go on (they answer with `default`)."""
        self._release.set()

    def hang_next(self) -> None:
        """The next request hangs (until `release()`)."""
        self._release.clear()
        self.arrived.clear()
        self.answers.insert(0, "hang")

    def next_answer(self) -> int | dict[str, Any] | str:
        return self.answers.pop(0) if self.answers else self.default


def _handler(receiver: HttpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            answer = receiver.next_answer()
            receiver.arrived.set()
            if answer == "hang":  # a slow receiver: answers only once released
                receiver._release.wait(HANG_LIMIT_S)
                answer = receiver.default
            status, payload = (200, answer) if isinstance(answer, dict) else (int(answer), {})
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def http_receiver(*answers: int | dict[str, Any] | str,
                  default: int | dict[str, Any] | str = 200) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(list(answers), default)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()
        thread.join()


class TcpProxy:
    """A TCP forwarder to a database server that a test can take down and bring back:
    while down it cuts every open connection and refuses new ones (an outage as the
    worker sees it, with the real server untouched)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = False
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def set_up(self, up: bool) -> None:
        self.up = up
        if not up:
            with self._lock:
                doomed, self._open = self._open, []
            for end in doomed:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def close(self) -> None:
        self.set_up(False)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        self._thread.join()


# --- processes we start ---------------------------------------------------------------


SAYS_WITHIN_S = 60  # a process that has not said it by then never will: the test fails


class Log:
    """A child process's standard error, read line by line as it comes (a thread reads,
    so waiting for a line has a deadline and a silent process fails the test instead of
    hanging it)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        stream = process.stderr or process.stdout  # stdout when stderr goes there too
        assert stream is not None
        self.process, self.lines = process, list[str]()
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Iterator[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)  # the end: every process writing to the pipe has exited

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def until(self, text: str) -> None:
        """Read up to a line containing `text`, without sleeping: the process tells us."""
        deadline = time.monotonic() + SAYS_WITHIN_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"the output ended before {text!r}:\n{self.text}")
            self.lines.append(line)
            if text in line:
                return
        raise AssertionError(f"nothing said {text!r} in {SAYS_WITHIN_S} s:\n{self.text}")

    def to_the_end(self) -> str:
        """Everything up to the end of the output (every writer has exited)."""
        while (line := self._queue.get(timeout=SAYS_WITHIN_S)) is not None:
            self.lines.append(line)
        return self.text


# --- ticketflow serve ----------------------------------------------------------------


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(port: int) -> bool:
    """Whether a server on `port` answers the login page with 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/login")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):  # not listening yet, or cut off
        return False
    finally:
        connection.close()


@contextmanager
def ticketflow_serve(env: dict[str, str], log: Path, *, workers: int = 1, threads: int = 1
                     ) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`ticketflow serve` with `env` added to this process's environment, on a free port
    of 127.0.0.1, once it answers, without a scheduler (each test drives its own worker);
    yields the port and the process. On the way out it is
    stopped as a process manager would, and must exit cleanly."""
    port = free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "serve", "--port", str(port),
             "--workers", str(workers), "--threads", str(threads), "--no-access-log",
             "--no-scheduler"],
            cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_S
        while not answers(port):
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"no answer in {READY_S} s: {log.read_text()}"
            time.sleep(0.1)
        yield port, server
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert server.returncode == 0, log.read_text()
