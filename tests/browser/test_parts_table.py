"""A table field in the browser: a spare-parts row typed into a repair's edit form shows
its computed total while it is typed, and the saved ticket shows the amounts."""

from __future__ import annotations

from pathlib import Path

from tests.browser.test_repair_flow import log_in

EDIT = "编辑信息"  # wang reads Chinese: "Edit details"


def test_a_parts_row_is_totalled_as_it_is_typed(chromium, server: str, shots: Path) -> None:
    page = chromium.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, server, "wang")
    page.goto(f"{server}/work/all")
    for href in [link.get_attribute("href") for link in page.locator("a[href^='/t/REP']").all()]:
        page.goto(server + str(href))
        if page.locator("summary", has_text=EDIT).count():
            break
    page.locator("summary", has_text=EDIT).click()
    form = page.locator("details.step[open] form")
    form.locator("button[hx-vals*=add_row]").click()
    row = form.locator("table.rows tbody tr").first
    row.locator("input[name='parts.0.part_no']").fill("RL-100")
    row.locator("input[name='parts.0.qty']").fill("2")
    row.locator("input[name='parts.0.unit_price']").fill("12.5")
    output = row.locator("output")
    output.filter(has_text="25.00").wait_for()  # the engine's total, while still typing
    assert row.locator("input[name='parts.0.unit_price']").input_value() == "12.5"
    page.screenshot(path=str(shots / "parts-typing.png"), full_page=True)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    details = page.locator("dl.values").inner_text()
    assert "12.50" in details  # the unit price with its two decimals
    assert "备件合计（元）\n25.00" in details
    assert errors == []
