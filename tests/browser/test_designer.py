"""An administrator designs a ticket type in Chromium: starts one, adds a conditional field
in the definition's text, is shown where a typo is and taken there, tries the customer's
form as it will be, publishes — with the page's own script, the site's content security
policy and nothing on the console."""

from __future__ import annotations

from pathlib import Path

from tests.browser.test_account_pages import _logged_in

PARTS = """  - id: kind
    type: choice
    label: {en: Kind, zh: 类别}
    options:
      - {value: visitor, label: {en: Visitor, zh: 访客}}
      - {value: contractor, label: {en: Contractor, zh: 承包商}}
  - {id: company, type: string, label: {en: Company, zh: 公司}, required: true,
     visible_when: "knd == 'contractor'"}
"""


def test_an_administrator_designs_and_publishes_a_ticket_type(chromium, server: str,
                                                             shots: Path) -> None:
    context, page, errors = _logged_in(chromium, server, "admin", "demo-admin-2026")
    page.get_by_role("link", name="Design").click()
    page.wait_for_url("**/design/")
    page.fill("#new-key", "visitor_pass")
    page.fill("#new-name", "Visitor pass")
    page.fill("#new-prefix", "VP")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url("**/design/visitor_pass")
    assert page.locator("#no-problems").is_visible()

    editor = page.locator("#source")
    text = editor.input_value()
    editor.fill(text.replace("fields:\n", "fields:\n" + PARTS, 1))
    with page.expect_response(lambda answer: answer.url.endswith("/design/visitor_pass")):
        page.get_by_role("button", name="Check").click()  # htmx: only the check is redrawn
    problem = page.locator("#issues li")
    problem.wait_for()
    assert "knd" in problem.inner_text()
    problem.get_by_role("button").click()  # "line 12, column …": the cursor goes there
    cursor = page.evaluate("() => document.querySelector('#source').selectionStart")
    line = editor.input_value()[:cursor].count("\n") + 1
    assert "knd ==" in editor.input_value().splitlines()[line - 1]
    page.screenshot(path=str(shots / "designer-problem.png"), full_page=True)

    editor.fill(editor.input_value().replace("knd ==", "kind =="))
    page.get_by_role("button", name="Check").click()
    page.locator("#no-problems").wait_for()
    company = page.locator("#w-preview-company")
    assert company.is_hidden()
    page.get_by_label("Contractor", exact=True).check()  # the preview asks the engine again
    company.wait_for(state="visible")
    page.screenshot(path=str(shots / "designer-preview.png"), full_page=True)

    # A field from the form, for whoever would rather not write YAML.
    page.locator("#add-field summary").click()
    page.fill("#field-label", "Badge number")
    page.select_option("#field-type", "string")
    page.get_by_role("button", name="Add to the definition").click()
    page.locator("#w-preview-badge_number").wait_for(state="visible")
    assert "id: badge_number" in page.locator("#source").input_value()
    # A step where tickets end, and the button that leads there.
    page.locator("#add-state summary").click()
    page.fill("#state-label", "Badge returned")
    page.get_by_label("Tickets end here").check()
    page.locator("#add-state").get_by_role("button", name="Add to the definition").click()
    page.locator("#add-transition summary").click()
    page.fill("#transition-label", "Return the badge")
    page.locator("#add-transition").get_by_label("In progress").check()
    page.select_option("#transition-to", "badge_returned")
    page.locator("#add-transition").get_by_label("agent", exact=True).check()
    page.locator("#add-transition").get_by_role("button", name="Add to the definition").click()
    page.locator("#no-problems").wait_for()
    assert "Return the badge → Badge returned" in page.locator("#outline").inner_text()
    page.screenshot(path=str(shots / "designer-steps.png"), full_page=True)

    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/design/visitor_pass")
    assert "Version 1 of visitor_pass is published" in page.inner_text("main")
    page.goto(f"{server}/design/")
    assert "version 1" in page.locator("#type-visitor_pass").inner_text()
    context.close()
    assert errors == []
