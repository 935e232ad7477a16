"""Notifications as people see them: a supervisor @mentions an agent on a ticket; the
agent's header counts one more unread notification, the inbox shows the mention, and
opening it leads to the ticket and marks it read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_repair_flow import DESKTOP, log_in

pytestmark = pytest.mark.browser


def unread(page) -> int:
    badge = page.locator(".inbox-link .count")
    return int(badge.inner_text()) if badge.count() else 0


def test_a_mention_arrives_in_the_inbox(chromium, server: str, shots: Path) -> None:
    agent_context = chromium.new_context(locale="en-GB", viewport=DESKTOP)
    agent = agent_context.new_page()
    log_in(agent, server, "chen")
    before = unread(agent)

    lead_context = chromium.new_context(locale="zh-CN", viewport=DESKTOP)
    lead = lead_context.new_page()
    log_in(lead, server, "zhao")
    lead.goto(f"{server}/t/REP-000009")
    lead.locator("#comment-body").press_sequentially("@ch")  # the completion offers chen
    lead.locator('.mention-list li[data-username="chen"]').wait_for()
    lead.fill("#comment-body", "@chen 请先确认这台笔记本是否还在保修期内。")
    lead.check("input[name=internal]")
    lead.locator(".comment-form button[type=submit]").click()
    lead.wait_for_load_state()
    lead_context.close()

    agent.reload()
    assert unread(agent) == before + 1
    agent.click(".inbox-link")
    item = agent.locator(".notification.unread", has_text="请先确认这台笔记本").first
    item.wait_for()
    assert "Mention" in item.inner_text()
    agent.screenshot(path=str(shots / "inbox-en.png"), full_page=True)
    item.locator("button.title").click()
    agent.wait_for_url(f"{server}/t/REP-000009")
    assert unread(agent) == before
    agent_context.close()
