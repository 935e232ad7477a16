"""The account and administration pages in Chromium: each renders, its forms work with
the page's own script and the site's content security policy, and nothing reaches the
console."""

from __future__ import annotations

from pathlib import Path

from tests.browser.test_repair_flow import DESKTOP


def _logged_in(chromium, server: str, username: str, password: str):
    """A new English browser logged in as `username`, and the console errors it shows."""
    context = chromium.new_context(locale="en-GB", viewport=DESKTOP)
    page, errors = _watched(context)
    page.goto(f"{server}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("main form button[type=submit]")
    return context, page, errors


def _watched(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def test_an_administrator_adds_someone_who_then_makes_a_token(chromium, server: str,
                                                              shots: Path) -> None:
    context, page, errors = _logged_in(chromium, server, "admin", "demo-admin-2026")
    page.get_by_role("link", name="Administration").click()
    page.fill("#new-username", "browser-test")
    page.fill("#new-display-name", "Browser Test")
    page.fill("#new-email", "browser.test@example.com")
    page.select_option("#new-role", "agent")
    page.get_by_label("Repair 维修组").check()
    page.fill("#new-password", "a-long-password")
    page.click("#add-user button[type=submit]")
    page.wait_for_url("**/admin/users/browser-test")
    assert page.input_value("#display_name") == "Browser Test"
    page.screenshot(path=str(shots / "admin-user.png"), full_page=True)
    for tab in ("Teams", "Audit log"):
        page.get_by_role("navigation", name="Administration").get_by_role(
            "link", name=tab).click()
        page.wait_for_load_state()
    assert "user_created" in page.locator("table.audit").inner_text()
    context.close()

    context, page, more = _logged_in(chromium, server, "browser-test", "a-long-password")
    page.get_by_role("link", name="Browser Test").click()  # the header's name: the account
    page.get_by_role("link", name="API tokens").click()
    page.fill("#token-name", "nightly report")
    page.click("main form.card button[type=submit]")
    secret = page.input_value("#issued-token")
    assert secret.startswith("tf_")
    assert page.locator("table.tokens").inner_text().count("nightly report") == 1
    page.screenshot(path=str(shots / "api-tokens.png"), full_page=True)
    context.close()
    assert errors + more == []


def test_the_pages_without_an_account(chromium, server: str) -> None:
    context = chromium.new_context(locale="zh-CN", viewport=DESKTOP)
    page, errors = _watched(context)
    page.goto(f"{server}/login")
    page.get_by_role("link", name="忘记密码？").click()
    page.fill("#identifier", "nobody@example.com")
    page.click("main form button[type=submit]")
    assert "我们已向该地址发送了设置新密码的链接" in page.locator("main").inner_text()
    assert errors == []
    # Used or unknown links: a page that says so (the browser logs its 404 status).
    answer = page.goto(f"{server}/account/reset/not-a-real-link")
    assert answer is not None
    assert answer.status == 404
    assert "此链接已过期或已被使用" in page.locator("main").inner_text()
    answer = page.goto(f"{server}/portal/survey/not-a-real-link")
    assert answer is not None
    assert answer.status == 404
    assert page.locator("main .error").count() == 1
    context.close()
