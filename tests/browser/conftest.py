"""Browser tests: Debian's Chromium driven by Playwright against a real server.

The server is the app under Werkzeug's threaded WSGI server on 127.0.0.1, port 0 (the
system picks a free one), on a fresh SQLite database seeded with the demo. Chromium is
Debian's (`/usr/bin/chromium`, installed by bin/setup); Playwright never downloads a
browser. Without Chromium the tests skip with the reason, except under CI=true, where a
missing or failing browser fails the run.

Screenshots go to `artifacts/screenshots/` (ignored by git), for people to look at.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TICKETFLOW_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI") == "true"

pytestmark = pytest.mark.browser


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium is not installed at {CHROMIUM} (bin/setup installs Debian's chromium)"
    if not (ROOT / "static" / "vendor" / "htmx.min.js").exists():
        return "static/vendor/htmx.min.js is missing: run bin/setup (npm ci)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed: run bin/setup"
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """A headless Chromium; skipped without one (failed under CI=true)."""
    reason = _unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        try:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as error:
            if IN_CI:
                pytest.fail(f"Chromium did not start: {error}")
            pytest.skip(f"Chromium did not start: {error}")
        yield browser
        browser.close()


@contextmanager
def demo_server(folder: Path, slow_live_forms: float = 0.0) -> Iterator[str]:
    """The app, seeded with the demo in `folder`, served on 127.0.0.1 on a free port.
    `slow_live_forms`: seconds each live-form answer is held back (a busy server)."""
    from werkzeug.serving import make_server

    from runtime.app import create_app
    from runtime.config import Settings
    from runtime.db import Database
    from runtime.demo import seed_demo
    from runtime.migrate import upgrade

    database = Database(f"sqlite:///{folder / 'ticketflow.db'}")
    upgrade(database)
    seed_demo(database, datetime.now(UTC), folder / "attachments")
    settings = Settings(database_url=database.url, instance_path=folder,
                        secret_key="browser-tests", attachment_dir=folder / "attachments",
                        max_upload_bytes=2 * 1024 * 1024, max_request_bytes=4 * 1024 * 1024)
    app = create_app(settings, database=database)
    if slow_live_forms:
        app.wsgi_app = _holding_back_live_forms(app.wsgi_app, slow_live_forms)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)
        database.dispose()


def _holding_back_live_forms(wsgi_app: Any, seconds: float) -> Any:
    def held_back(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST" and "/form" in environ.get("PATH_INFO", ""):
            time.sleep(seconds)
        return wsgi_app(environ, start_response)

    return held_back


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo, served on 127.0.0.1 on a free port."""
    with demo_server(tmp_path_factory.mktemp("browser-server")) as url:
        yield url


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where screenshots go (each run overwrites the files of the same name)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
