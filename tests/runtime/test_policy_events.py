"""What of an event each role reads (runtime/policy.py `visible_event`): a branch's
condition is the definition's reasoning, for staff who may see every field it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.compile import loads
from runtime import policy
from runtime.models import EventKind

VETTING = loads((Path(__file__).parent.parent / "data" / "branch_visibility.yaml").read_text(),
                "branch_visibility.yaml")
CUSTOMER = frozenset({"requester"})
AGENT = frozenset({"agent"})
ADMIN = frozenset({"admin"})


def created(branch: str | None, transition: str = "submit") -> dict[str, Any]:
    return {"values": {"title": "t"}, "state": "review", "transition": transition,
            "branch": branch}


@pytest.mark.parametrize(("data", "roles", "shown"), [
    (created("urgent"), AGENT, "urgent"),
    (created("urgent"), ADMIN, "urgent"),
    (created("urgent"), CUSTOMER, None),  # customers learn where, never why
    (created("risk_score > 80"), ADMIN, "risk_score > 80"),
    (created("risk_score > 80"), AGENT, None),  # it speaks of a field hidden from agents
    (created("risk_score > 80"), CUSTOMER, None),
    (created("title == 'x'"), AGENT, None),  # not a condition of this version
    (created("urgent", transition="gone"), AGENT, None),
])
def test_a_branch_condition_is_read_by_staff_who_see_every_field_it_names(
        data: dict[str, Any], roles: frozenset[str], shown: str | None) -> None:
    event = policy.visible_event(EventKind.CREATED, data, VETTING, roles)
    assert event is not None
    assert event.get("branch") == shown
    assert event["state"] == "review"  # where the ticket went stays for everyone


def test_a_transition_event_keeps_its_branch_for_staff_only() -> None:
    data = {"transition": "submit", "from": "new", "to": "fast", "branch": "urgent"}
    assert policy.visible_event(EventKind.TRANSITIONED, data, VETTING, AGENT) == data
    assert "branch" not in (policy.visible_event(EventKind.TRANSITIONED, data, VETTING,
                                                 CUSTOMER) or {})
