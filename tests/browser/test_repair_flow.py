"""The repair flow as people live it, in English and in Chinese:

a customer opens a repair ticket in the portal (the photo field appears when the fault is
hardware, and sending is refused until a photo is attached), gets a number; the branch
sends the ticket to the hardware check; the assignment rules route it to the agent whose
skills match (the demo's chen knows laptops, wang printers), who finds it in their queue,
records the check and resolves it; the customer follows the ticket by number and secret,
confirms the repair and answers the satisfaction survey.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def png(width: int = 64, height: int = 48) -> bytes:
    """A small real PNG (the portal checks a photo's type from its bytes)."""
    rows = b"".join(b"\x00" + bytes((x * 4 % 256, y * 5 % 256, 120)) * 1
                    for y in range(height) for x in range(1)) if False else b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 120)) for x in range(width))
        for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


@dataclass(frozen=True)
class Words:
    """What a person reads on the way, per language (labels from the repair template and
    the UI's catalogue)."""

    locale: str
    agent: str
    start: str
    send: str
    hardware: str
    category: str  # routes the ticket to `agent` by skill
    symptom: str
    device: str  # one per language: the same device twice would be a repeat repair
    photos_required: str
    number_is: str
    hardware_check: str
    check_done: str
    resolve: str
    resolved: str
    confirm: str
    how_did_we_do: str
    send_answer: str
    thanks: str
    time_left: str  # the SLA countdown of a clock still running


ENGLISH = Words("en-GB", "chen", "Start", "Send", "Hardware", "Laptop", "no_boot", "LAP-7001",
                "On-site photos", "Your ticket number is", "Hardware check",
                "Check done", "Resolve", "Resolved", "Confirm", "How did we do?",
                "Send my answer", "Thank you for your feedback!", " left")
CHINESE = Words("zh-CN", "wang", "开始填写", "提交", "硬件", "打印机", "paper_jam", "PRN-7001",
                "现场照片",
                "您的工单编号是", "硬件检测", "检测完成", "解决", "已解决", "确认",
                "您对本次服务满意吗？", "提交评价", "感谢您的评价！", "剩余 ")


def log_in(page, server: str, username: str) -> None:
    page.goto(f"{server}/login")
    page.fill("#username", username)
    page.fill("#password", f"demo-{username}-2026")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/work/mine.*"))


@pytest.mark.parametrize("words", [ENGLISH, CHINESE], ids=["en", "zh"])
def test_a_repair_from_portal_to_survey(chromium, server: str, shots: Path, tmp_path: Path,
                                        words: Words) -> None:
    tag = words.locale[:2]
    photo = tmp_path / "printer.png"
    photo.write_bytes(png())
    customer = chromium.new_context(locale=words.locale, viewport=DESKTOP)
    page = customer.new_page()

    # The customer picks the repair type and fills the form in.
    page.goto(f"{server}/portal/")
    repair = page.locator(".type-card", has=page.locator('a[href$="/portal/new/repair"]'))
    repair.get_by_role("link", name=words.start).click()
    page.fill("#contact_name", "Zhou Xin 周鑫")
    page.fill("#contact_email", "zhou.xin@example.cn")
    page.fill("#intake-device", words.device)
    page.get_by_label(words.category, exact=True).check()
    photos = page.locator("#w-intake-photos")
    assert photos.is_hidden()
    page.get_by_label(words.hardware, exact=True).check()
    photos.wait_for(state="visible")  # the engine shows the photo field for hardware
    page.locator("#w-intake-symptom").wait_for(state="visible")  # options for the category
    page.select_option("#intake-symptom", words.symptom)
    page.fill("#intake-description", "Paper jams on every page since this morning.")
    page.fill("#intake-contact_phone", "+86 138 0013 8000")
    page.screenshot(path=str(shots / f"portal-form-{tag}.png"), full_page=True)

    # Sending without a photo is refused, next to the photo field; nothing typed is lost.
    page.get_by_role("button", name=words.send, exact=True).click()
    page.locator("#w-intake-photos .problems li").wait_for()
    assert page.input_value("#intake-device") == words.device
    assert page.input_value("#contact_email") == "zhou.xin@example.cn"
    page.screenshot(path=str(shots / f"portal-refused-{tag}.png"), full_page=True)

    # With a photo (uploaded at once, with progress), the ticket is opened.
    page.set_input_files("#intake-photos", str(photo))
    page.locator("#w-intake-photos .kept li").wait_for()
    page.get_by_role("button", name=words.send, exact=True).click()
    page.get_by_text(words.number_is).wait_for()
    number = page.inner_text("#ticket-number").strip()
    follow_link = page.input_value("#follow-link")
    assert re.fullmatch(r"REP-\d{6}", number)
    page.screenshot(path=str(shots / f"portal-done-{tag}.png"), full_page=True)

    # The branch sent it to the hardware check.
    page.goto(follow_link)
    assert words.hardware_check in page.inner_text(".facts")

    # Routed by skill, it waits in the agent's own queue; they record the check and resolve.
    staff = chromium.new_context(locale=words.locale, viewport=DESKTOP)
    agent = staff.new_page()
    log_in(agent, server, words.agent)
    agent.screenshot(path=str(shots / f"queue-mine-{tag}.png"), full_page=True)
    agent.locator("#queue-list").get_by_role("link", name=number).click()
    agent.wait_for_url(re.compile(rf".*/t/{number}.*"))
    assert words.time_left in agent.locator(".sla-left").first.inner_text()
    agent.get_by_text(words.check_done, exact=True).first.click()
    agent.fill("#checked-check_result", "Worn pick-up roller; replaced.")
    agent.get_by_role("button", name=words.check_done, exact=True).click()
    agent.wait_for_load_state()
    agent.get_by_text(words.resolve, exact=True).first.click()
    agent.fill("#resolve-resolution", "Replaced the pick-up roller; 50 test pages printed.")
    agent.screenshot(path=str(shots / f"ticket-agent-{tag}.png"), full_page=True)
    agent.get_by_role("button", name=words.resolve, exact=True).click()
    agent.wait_for_load_state()
    assert words.resolved in agent.inner_text(".facts")
    agent.goto(f"{server}/work/board?type=repair")
    agent.screenshot(path=str(shots / f"board-{tag}.png"), full_page=True)
    staff.close()

    # The customer follows it by number and secret, confirms and answers the survey.
    page.goto(f"{server}/portal/follow")
    page.fill("#number", number)
    page.fill("#token", follow_link)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(rf".*/portal/t/{number}/.*"))
    assert words.resolved in page.inner_text(".facts")
    confirm = page.locator("form", has=page.get_by_role("button", name=words.confirm, exact=True))
    confirm.locator("input[type=checkbox]").check()
    confirm.get_by_role("button", name=words.confirm, exact=True).click()
    page.get_by_text(words.how_did_we_do).wait_for()
    page.screenshot(path=str(shots / f"portal-survey-{tag}.png"), full_page=True)
    page.check("#csat-5")
    page.select_option("#nps", "9")
    page.get_by_role("button", name=words.send_answer).click()
    page.get_by_text(words.thanks).wait_for()
    assert page.locator("#survey").count() == 0
    customer.close()


def test_pages_read_on_a_phone(chromium, server: str, shots: Path) -> None:
    """The main pages at a phone's width: nothing wider than the screen."""
    context = chromium.new_context(locale="en-GB", viewport=PHONE)
    page = context.new_page()
    log_in(page, server, "zhao")
    for name, path in (("queue", "/work/all"), ("ticket", "/t/REP-000002"),
                       ("supervise", "/supervise"), ("board", "/work/board")):
        page.goto(server + path)
        page.screenshot(path=str(shots / f"phone-{name}.png"), full_page=True)
        if name != "board":  # the board scrolls sideways on purpose
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} is {overflow}px wider than a phone"
    context.close()


def test_dragging_a_card_takes_the_step_or_says_why_not(chromium, server: str,
                                                        shots: Path) -> None:
    # Wide enough for every column: a board that scrolls while dragging moves the card
    # from under the pointer.
    context = chromium.new_context(locale="en-GB", viewport={"width": 1900, "height": 1000})
    page = context.new_page()
    log_in(page, server, "chen")  # chen's language is English
    page.goto(f"{server}/work/board?type=repair")
    # REP-000009 (LAP-3310) is routed to chen by skill and waits in `repairing`.
    card = page.locator('.board-card[data-number="REP-000009"]')
    card.drag_to(page.locator('.column[data-state="closed"]'))
    page.locator(".flash-error").wait_for()
    assert "REP-000009 was not moved" in page.inner_text(".flashes")
    page.locator('.board-card[data-number="REP-000009"]').drag_to(
        page.locator('.column[data-state="waiting_customer"]'))
    page.get_by_text("REP-000009 is now Waiting for customer.").wait_for()
    moved = page.locator('.column[data-state="waiting_customer"] .board-card',
                         has_text="REP-000009")
    assert moved.count() == 1
    page.screenshot(path=str(shots / "board-after-drag-en.png"), full_page=True)
    context.close()


def test_a_file_over_the_limit_is_refused_before_it_is_sent(chromium, server: str,
                                                            tmp_path: Path) -> None:
    big = tmp_path / "huge.png"
    big.write_bytes(png() + b"\0" * (3 * 1024 * 1024))  # the server's limit is 2 MB
    context = chromium.new_context(locale="en-GB", viewport=DESKTOP)
    page = context.new_page()
    uploads: list[str] = []
    page.on("request", lambda request: uploads.append(request.url)
            if "/uploads" in request.url else None)
    page.goto(f"{server}/portal/new/repair")
    page.fill("#intake-device", "PRN-7002")
    page.get_by_label("Hardware", exact=True).check()
    page.locator("#w-intake-photos").wait_for(state="visible")
    page.set_input_files("#intake-photos", str(big))
    error = page.locator("#w-intake-photos .upload-error")
    error.wait_for(state="visible")
    assert "huge.png" in error.inner_text()
    assert uploads == []
    assert page.input_value("#intake-device") == "PRN-7002"
    context.close()
