"""The semantic diff: each kind of change an admin makes, as the line they read."""

from __future__ import annotations

import pytest

from engine.compile import loads
from engine.diff import Action, diff, render
from tests.conftest import TEMPLATES

REPAIR = (TEMPLATES / "repair.yaml").read_text(encoding="utf-8")
V2 = ("\nversion: 1\n", "\nversion: 2\n")

# (name, replacements applied to the repair template, expected lines after the version)
CASES = [
    ("field-added", [("  - id: contact_email\n",
                      "  - {id: vip, type: boolean}\n  - id: contact_email\n")],
     ["+ field vip"]),
    ("field-removed", [("  - id: reported_on\n    type: date\n"
                        "    label: {en: Fault noticed on, zh: 发现故障日期}\n", "")],
     ["- field reported_on"]),
    ("field-changed", [("    min_length: 10\n", "    min_length: 20\n")],
     ["~ field description: min_length: 10 → 20"]),
    ("option-added", [("      - {value: normal, label: {en: Normal, zh: 普通}}\n",
                       "      - {value: low, label: {en: Low, zh: 低}}\n"
                       "      - {value: normal, label: {en: Normal, zh: 普通}}\n")],
     ["+ field priority option low"]),
    ("column-changed", [("min: 0, decimals: 2}", "min: 0, decimals: 3}")],
     ["~ field parts column unit_price: decimals: 2 → 3"]),
    ("state-added", [("  - {id: resolved, sla: stop, label",
                      "  - {id: on_hold, sla: pause}\n  - {id: resolved, sla: stop, label"),
                     ("  - id: auto_close\n",
                      "  - {id: hold, from: repairing, to: on_hold}\n"
                      "  - {id: unhold, from: on_hold, to: repairing}\n  - id: auto_close\n")],
     ["+ state on_hold", "+ transition hold", "+ transition unhold"]),
    ("branch-added", [("      - {state: hardware_check}\n    requires",
                       "      - {when: \"category == 'network'\", state: waiting_customer}\n"
                       "      - {state: hardware_check}\n    requires")],
     ["+ branch submit when \"category == 'network'\" → waiting_customer"]),
    ("branch-retargeted", [("{when: \"fault == 'software'\", state: repairing}",
                            "{when: \"fault == 'software'\", state: resolved}")],
     ["~ branch submit when \"fault == 'software'\": state: repairing → resolved"]),
    ("roles-changed", [("    roles: [requester, agent]\n", "    roles: [agent]\n")],
     ["~ transition customer_replied: roles: [requester, agent] → [agent]"]),
    ("rule-removed", [("rules:\n  - id: finish_after_start\n"
                       "    check: \"repair_finished >= repair_started\"\n"
                       "    field: repair_finished\n"
                       "    message: {en: The repair cannot finish before it started, "
                       "zh: 完成时间不能早于开始时间}\n", "")],
     ["- rule finish_after_start"]),
    ("sla-target", [("resolution: 4h}", "resolution: 2h}")],
     ["~ sla target when \"priority != 'normal'\": resolution: 4h → 2h"]),
    ("sla-warning", [("warn_before: 30m", "warn_before: 1h")],
     ["~ sla: warn_before: 30m → 1h"]),
    ("escalation-added", [("  escalate:\n",
                           "  escalate:\n    - {on: warning, notify: [assignee]}\n")],
     ["+ escalation warning"]),
    ("assignment-changed", [("{team: repair, strategy: skill_match",
                             "{team: repair, strategy: round_robin")],
     ["~ assignment default: strategy: skill_match → round_robin"]),
    ("repeat-window", [("within: 30d", "within: 14d")],
     ["~ duplicate check: within: 30d → 14d"]),
]


@pytest.mark.parametrize(("edits", "expected"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_each_change_is_one_readable_line(edits: list[tuple[str, str]],
                                          expected: list[str]) -> None:
    after = REPAIR.replace(*V2)
    for old, new in edits:
        assert after.count(old) == 1, old
        after = after.replace(old, new)
    lines = render(diff(loads(REPAIR), loads(after))).splitlines()
    assert lines[0] == "~ definition: version: 1 → 2"
    assert sorted(lines[1:]) == sorted(expected)


def test_moving_a_field_is_no_change() -> None:
    moved = REPAIR.replace("  - id: contact_email\n    type: email\n"
                           "    label: {en: Contact e-mail, zh: 联系邮箱}\n", "")
    moved = moved.replace("  - id: reported_on\n",
                          "  - id: contact_email\n    type: email\n"
                          "    label: {en: Contact e-mail, zh: 联系邮箱}\n  - id: reported_on\n")
    assert moved != REPAIR
    assert diff(loads(REPAIR), loads(moved)) == []
    assert render([]) == "no differences"


def test_changes_are_data_for_the_api() -> None:
    after = REPAIR.replace(*V2).replace("within: 30d", "within: 14d")
    changes = diff(loads(REPAIR), loads(after))
    assert changes[1].to_dict() == {"action": "changed", "area": "duplicate check", "key": "",
                                    "attribute": "within", "before": "30d", "after": "14d"}
    assert {change.action for change in changes} == {Action.CHANGED}
