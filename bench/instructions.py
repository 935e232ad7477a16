"""Instructions per ticket created, counted by valgrind: a figure a noisy machine cannot move.

Wall-clock rates on a shared 2-core VM swing by a third from one run to the next, which
hides a 10 % change. `valgrind --tool=callgrind` counts the instructions a process runs,
the same whatever else the machine is doing. This script runs itself under callgrind
twice per path — creating 0 and then N repair tickets after the same set-up and warm-up —
and prints the difference divided by N: the instructions one more ticket costs. To keep
the count the same from run to run, the runs fix PYTHONHASHSEED, freeze what the warm-up
left for the garbage collector, and stop the background WAL checkpointer (whose passes
follow the wall clock, which valgrind stretches).

    .venv/bin/python bench/instructions.py            # N=100, both paths (~3 min)
    .venv/bin/python bench/instructions.py --n 50 --path service

Paths: `service` is `tickets.create` in this process; `app` is `POST /api/v1/tickets`
through Flask's test client (the WSGI app with its token lookup and JSON, without a
network or server). Counts exclude the kernel (the commit's writes) and are not time:
a cache miss costs more than an add. SQLite only (PostgreSQL's work is in its server).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WARM_UP = 50
START = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # a Monday: the same clocks every run
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def create(path: str, count: int) -> None:
    """Set up a database and create WARM_UP + count tickets along `path` (run inside
    valgrind by `measure`)."""
    bench = _load_create_bench()
    from runtime.context import Request
    from runtime.services import accounts, tickets

    with tempfile.TemporaryDirectory(prefix="tf-instructions-") as scratch:
        url = f"sqlite:///{scratch}/create.db"
        setup = bench.prepare("sqlite", url, START)
        if path == "service":
            _steady(setup.db)

            def one(i: int) -> None:
                tickets.create(setup.db, Request(setup.customer, START, "127.0.0.1"),
                               "repair", bench.submission(i))
        else:
            token = accounts.create_token(setup.db, setup.request(), "bench").token
            os.environ.update(DATABASE_URL=url, TICKETFLOW_INSTANCE=scratch)
            from runtime.app import create_app

            app = create_app(clock=lambda: START)  # the same clocks every run, as the service path
            _steady(app.extensions["ticketflow"].db)
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

            def one(i: int) -> None:
                body = json.dumps({"ticket_type": "repair", "values": bench.submission(i)})
                response = client.post("/api/v1/tickets", data=body, headers=headers)
                if response.status_code != 201:
                    raise SystemExit(f"POST answered {response.status_code}: "
                                     f"{response.data!r}")

        for i in range(WARM_UP):
            one(i)
        # What the warm-up left is frozen: a full collection then costs the same in every
        # run instead of landing at a different ticket each time (~100k instructions).
        gc.collect()
        gc.freeze()
        try:
            for i in range(WARM_UP, WARM_UP + count):
                one(i)
        finally:
            gc.unfreeze()  # a caller's process (the smoke test's) collects as before


def _steady(database: Any) -> None:
    # The background WAL checkpointer runs on wall-clock time, which valgrind stretches
    # unevenly: left on, each run would count a different number of its passes. Off, the
    # log stays far below SQLite's own backstop for these few tickets.
    if database.checkpointer is not None:
        database.checkpointer.stop()


def _load_create_bench() -> ModuleType:
    # bench/create.py by path: the same set-up and submissions. (Its folder must not head
    # sys.path, where bench/engine.py would shadow the engine package.)
    spec = importlib.util.spec_from_file_location("bench_create", ROOT / "bench" / "create.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def instructions(path: str, count: int) -> int:
    """Instructions of one run creating `count` tickets (after the warm-up)."""
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--inside", path, "--n", str(count)],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=1800,
        env={**os.environ, "PYTHONHASHSEED": "0"})  # the same set and dict orders each run
    found = COLLECTED.search(run.stderr)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"valgrind run failed ({run.returncode}): {run.stderr[-800:]}")
    return int(found.group(1))


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="tickets counted per path")
    parser.add_argument("--path", choices=("service", "app", "both"), default="both")
    parser.add_argument("--inside", choices=("service", "app"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    if args.inside:
        create(args.inside, args.n)
        return
    paths = ("service", "app") if args.path == "both" else (args.path,)
    for path in paths:
        base, loaded = instructions(path, 0), instructions(path, args.n)
        print(f"{path:8} {(loaded - base) / args.n:>12,.0f} instructions per ticket "
              f"(callgrind; {args.n} tickets after {WARM_UP})", flush=True)


if __name__ == "__main__":
    main()
