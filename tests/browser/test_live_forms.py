"""Live forms on a busy server: the form asks the engine again while the user types, and
an answer that a newer question overtook never lands (it would put back what was typed
over since), without a console error for the question left unanswered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import demo_server
from tests.browser.test_repair_flow import DESKTOP

HELD_BACK = 0.4  # seconds each live-form answer takes on this "busy" server


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(tmp_path_factory.mktemp("busy-server"), slow_live_forms=HELD_BACK) as url:
        yield url


def _is_live_form_post(request) -> bool:
    return request.method == "POST" and request.url.endswith("/form")


def test_an_overtaken_answer_never_puts_back_old_values(chromium, busy_server: str) -> None:
    context = chromium.new_context(locale="en-GB", viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    answers: list[str] = []
    page.on("requestfinished", lambda request: answers.append(request.url)
            if _is_live_form_post(request) else None)
    page.goto(f"{busy_server}/portal/new/repair")
    with page.expect_request(_is_live_form_post):  # the first question, held back
        page.fill("#intake-device", "PRN-7003")
    # Typed while it is out; leaving the field asks again, overtaking the first question,
    # whose answer (with no description) must not land on the field just left.
    page.fill("#intake-description", "The printer jams on every page.")
    page.keyboard.press("Tab")
    for _ in range(200):  # both answers back: the overtaken one, then the newer one's
        if len(answers) >= 2:
            break
        page.wait_for_timeout(50)
    # ... and merged into the page (htmx ends a request after its swap).
    page.wait_for_function("() => !document.querySelector('[data-live-form]').liveRequest")
    assert page.input_value("#intake-description") == "The printer jams on every page."
    assert page.input_value("#intake-device") == "PRN-7003"
    assert errors == []
    context.close()
