"""A supervisor's day in Chromium: the service levels and survey results on the
supervisor's page, the queue narrowed to a few days by its date filters, and those
tickets downloaded as a spreadsheet — with the page's own script, the site's content
security policy and nothing on the console."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from tests.browser.test_account_pages import _logged_in


def test_a_supervisor_reads_the_surveys_and_downloads_the_queue(chromium, server: str,
                                                                shots: Path) -> None:
    context, page, errors = _logged_in(chromium, server, "zhao", "demo-zhao-2026")
    page.goto(f"{server}/supervise")
    panel = page.locator("#satisfaction")
    # zhao reads Chinese (the demo's language for him).
    assert "客户满意度" in panel.inner_text()
    assert "推荐者减贬损者" in panel.inner_text()
    assert "远程就解决了，很快，谢谢！" in panel.inner_text()
    levels = page.locator("#service-levels")
    assert "服务水平" in levels.inner_text()
    assert "按时" in levels.inner_text()  # the demo's closed tickets met their clocks
    page.get_by_role("link", name="最近 7 天").click()
    page.wait_for_url("**/supervise?days=7*")
    assert page.locator("#service-levels .periods a.current").inner_text() == "最近 7 天"
    assert "最近 7 天" in page.locator("#satisfaction h2").inner_text()
    page.screenshot(path=str(shots / "supervise-satisfaction.png"), full_page=True)

    page.goto(f"{server}/work/all")
    everything = page.locator("#queue-list table tbody tr").count()
    today = datetime.now(UTC).date().isoformat()
    with page.expect_response(lambda answer: "from=" in answer.url):
        page.fill("input[name=from]", today)  # htmx asks for the list again
    page.wait_for_url(f"**from={today}*")
    assert page.locator("#queue-list table tbody tr").count() < everything

    with page.expect_download() as download:
        page.get_by_role("link", name="导出全部（CSV）").click()
    saved = download.value
    assert saved.suggested_filename.startswith("tickets-")
    assert saved.suggested_filename.endswith(".csv")
    text = Path(saved.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == page.locator("#queue-list table tbody tr").count()
    assert "编号" in rows[0]  # headings in his language too
    context.close()
    assert errors == []
