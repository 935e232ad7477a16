"""Scenarios: tickets of every bundled template run through the runtime services along
the main path and the important branches, with the roles, forms, field visibility and
repeat detection each template promises. On SQLite and PostgreSQL.

Each template also routes a ticket to the team its rules name, picks the agent its
strategy prefers, and runs its SLA clocks until they breach (the golden cases check
the exact instants); elsewhere tickets are claimed by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from runtime.models import Event
from runtime.services import attachments, surveys, templates, tickets, timers
from runtime.services.errors import Conflict, Forbidden, Invalid
from runtime.services.tickets import TicketView
from tests.runtime.conftest import Seed
from tests.runtime.test_attachments_service import png


class Desk:
    """Short calls for scenarios: who does what, at the seed's clock."""

    def __init__(self, seed: Seed, storage: Path) -> None:
        self.seed = seed
        self.storage = storage

    def create(self, user: str, ticket_type: str, values: dict[str, Any],
               **options: Any) -> TicketView:
        return tickets.create(self.seed.db, self.seed.request(user), ticket_type, values,
                              **options)

    def fire(self, user: str, ticket: TicketView, transition: str,
             values: dict[str, Any] | None = None) -> TicketView:
        return tickets.fire(self.seed.db, self.seed.request(user), ticket.number, transition,
                            values)

    def update(self, user: str, ticket: TicketView, values: dict[str, Any]) -> TicketView:
        return tickets.update_fields(self.seed.db, self.seed.request(user), ticket.number,
                                     values)

    def claim(self, user: str, ticket: TicketView) -> TicketView:
        return tickets.claim(self.seed.db, self.seed.request(user), ticket.number)

    def view(self, user: str, ticket: TicketView) -> TicketView:
        return tickets.get(self.seed.db, self.seed.request(user), ticket.number)

    def photo(self, user: str, name: str = "site.png") -> list[dict[str, str]]:
        info = attachments.upload(self.seed.db, self.seed.request(user), self.storage, png(),
                                  name, max_size=1024 * 1024)
        return [{"id": info.id}]

    def install(self, *names: str) -> None:
        for name in names:
            templates.install(self.seed.db, self.seed.request("admin"), name)


@pytest.fixture
def desk(seed: Seed, tmp_path: Path) -> Desk:
    return Desk(seed, tmp_path / "attachments")


def _codes(error: Invalid) -> set[tuple[str, str]]:
    return {(d.get("field"), d["code"]) for d in error.details}


# --- repair (维修工单) ------------------------------------------------------------------

LAPTOP = {"device": "LAP-0107", "category": "laptop", "symptom": "no_boot",
          "fault": "software", "description": "Blue screen after the latest update.",
          "contact_phone": "+86 138 0013 8000"}
PRINTER = {"device": "PRN-0042", "category": "printer", "symptom": "paper_jam",
           "fault": "hardware", "priority": "urgent",
           "description": "Paper jams on every second page since Monday.",
           "contact_phone": "+86 138 0013 8000"}


def _clocks(ticket: TicketView) -> dict[str, str]:
    return {clock.kind: clock.status for clock in ticket.sla}


def test_repair_hardware_fault_main_path(desk: Desk) -> None:
    ticket = desk.create("li", "repair", {**PRINTER, "photos": desk.photo("li")})
    assert (ticket.number, ticket.state) == ("REP-000001", "hardware_check")
    with pytest.raises(Forbidden):
        desk.fire("li", ticket, "checked", {"check_result": "Looks fine to me."})
    ticket = desk.fire("wang", ticket, "checked", {"check_result": "Worn pickup roller."})
    assert ticket.state == "repairing"
    ticket = desk.claim("wang", ticket)
    ticket = desk.update("wang", ticket, {"technician": "wang", "parts": [
        {"part_no": "RL-220", "qty": 2, "unit_price": 86.5}]})
    assert ticket.values["parts_total"] == 173.0
    ticket = desk.fire("wang", ticket, "resolve", {"resolution": "Replaced the roller."})
    ticket = desk.fire("li", ticket, "confirm", {"confirmed": True})
    assert ticket.state == "closed"
    assert ticket.closed_at == desk.seed.clock()


def test_repair_software_fault_skips_the_hardware_check(desk: Desk) -> None:
    assert desk.create("li", "repair", LAPTOP).state == "repairing"


def test_repair_hardware_fault_needs_photos_before_submit(desk: Desk) -> None:
    with pytest.raises(Invalid) as raised:
        desk.create("li", "repair", PRINTER)
    assert _codes(raised.value) == {("photos", "required-for-transition")}


def test_repair_repeat_within_30_days_is_flagged_and_checked(desk: Desk) -> None:
    clock = desk.seed.clock
    first = desk.create("li", "repair", LAPTOP)
    clock.advance(days=10)
    other = desk.create("zhou", "repair", {**LAPTOP, "device": "LAP-0999"})
    repeat = desk.create("zhou", "repair", LAPTOP)
    assert other.values.get("repeat_repair") is None
    assert (repeat.state, repeat.values["repeat_repair"], repeat.values["previous_ticket"]) \
        == ("hardware_check", True, first.number)
    clock.advance(days=35)  # 35 days after the last one: not a repeat any more
    later = desk.create("li", "repair", LAPTOP)
    assert (later.state, later.values.get("repeat_repair")) == ("repairing", None)


def test_repair_requesters_cannot_set_the_repeat_flag(desk: Desk) -> None:
    with pytest.raises(Invalid) as raised:
        desk.create("li", "repair", {**LAPTOP, "repeat_repair": False})
    assert _codes(raised.value) == {("repeat_repair", "not-editable")}


def test_repair_supervisor_clears_a_false_repeat(desk: Desk) -> None:
    desk.create("li", "repair", LAPTOP)
    repeat = desk.create("li", "repair", LAPTOP)
    repeat = desk.fire("wang", repeat, "checked", {})
    with pytest.raises(Invalid):
        desk.update("wang", repeat, {"repeat_repair": False})
    cleared = desk.update("zhao", repeat, {"repeat_repair": False})
    assert cleared.values["repeat_repair"] is False


# --- customer service (客户服务工单) -----------------------------------------------------

COMPLAINT = {"customer_name": "Wang Fang", "category": "complaint",
             "subject": "Rude delivery driver",
             "description": "The driver threw the parcel over the gate."}


def test_service_complaint_is_assessed_then_answered_closed_and_rated(desk: Desk) -> None:
    desk.install("service")
    ticket = desk.create("li", "service", COMPLAINT)
    assert (ticket.number, ticket.state) == ("SRV-000001", "complaint_review")
    assert ticket.title == COMPLAINT["subject"]  # not the customer's name
    with pytest.raises(Conflict):
        desk.fire("wang", ticket, "respond", {"first_reply": "Sorry."})
    with pytest.raises(Forbidden):
        desk.fire("wang", ticket, "review_complaint", {"complaint_assessment": "Valid."})
    ticket = desk.fire("zhao", ticket, "review_complaint",
                       {"complaint_assessment": "Valid; the driver was briefed."})
    assert "complaint_assessment" not in desk.view("li", ticket).values  # internal
    ticket = desk.fire("wang", ticket, "respond", {"first_reply": "We are sorry."})
    ticket = desk.fire("wang", ticket, "resolve", {"resolution_code": "answered",
                                                   "resolution": "Apologised; coupon sent."})
    assert _clocks(ticket)["resolution"] == "met"  # resolving meets it; confirming is not work
    ticket = desk.fire("li", ticket, "confirm")
    assert ticket.state == "closed"
    surveys.answer_as_requester(desk.seed.db, desk.seed.request("li"), ticket.number,
                                surveys.parse_answer(4, 8, "Thanks"))


def test_service_waiting_on_the_customer_is_a_detour(desk: Desk) -> None:
    desk.install("service")
    ticket = desk.create("li", "service", {
        "customer_name": "Li Lei", "customer_email": "li@example.cn",
        "category": "technical", "subcategory": "setup", "subject": "Pairing",
        "description": "The speaker does not show up in the app."})
    ticket = desk.fire("wang", ticket, "respond", {"first_reply": "Which phone?"})
    ticket = desk.fire("wang", ticket, "ask_customer",
                       {"question_to_customer": "Which phone model?"})
    assert ticket.state == "waiting_customer"
    ticket = desk.fire("li", ticket, "customer_replied", {"customer_reply": "iPhone 15"})
    assert ticket.state == "in_progress"


def test_service_staff_take_a_call_for_a_vip_whose_tier_customers_never_see(
        desk: Desk) -> None:
    desk.install("service")
    ticket = desk.create("wang", "service", {
        "channel": "phone", "customer_name": "Zhang Wei", "customer_phone": "+86 137 0000 1111",
        "customer_tier": "vip", "category": "billing", "subcategory": "refund",
        "order_number": "SO-20261120-0042", "subject": "Refund",
        "description": "Refund for the returned blender."}, requester="li")
    assert (ticket.requester, ticket.values["customer_tier"]) == ("li", "vip")
    assert "customer_tier" not in desk.view("li", ticket).values


@pytest.mark.parametrize(("who", "values", "expected"), [
    ("wang", {"channel": "phone"}, {("customer_phone", "required")}),  # a call, logged
    ("wang", {"channel": "email"}, {("customer_email", "required")}),
    ("li", {"category": "delivery", "subcategory": "late"}, {("order_number", "required")}),
    ("li", {"channel": "phone"}, {("channel", "unknown-field")}),  # staff say how it came
], ids=["phone-needs-number", "email-needs-address", "delivery-needs-order",
        "customers-do-not-choose-the-channel"])
def test_service_intake_follows_the_channel_and_category(desk: Desk, who: str,
                                                         values: dict[str, Any],
                                                         expected: set) -> None:
    desk.install("service")
    base = {"customer_name": "Li Lei", "category": "other",
            "subject": "A question", "description": "When do you open on Sundays?"}
    with pytest.raises(Invalid) as raised:
        desk.create(who, "service", {**base, **values})
    assert _codes(raised.value) == expected


# --- production exception (生产异常工单) -------------------------------------------------

EXCEPTION = {"line": "smt1", "station": "OP30 reflow", "work_order": "MO-2026112301",
             "exception_type": "quality", "severity": "major", "line_stopped": True,
             "stopped_at": "2026-11-23T22:05:00+08:00", "affected_qty": 120,
             "description": "Solder bridges on U7 on every board since 21:50."}


def test_production_exception_check_qa_review_resume(desk: Desk) -> None:
    desk.install("production-process")
    ticket = desk.create("li", "production-process", EXCEPTION)
    assert (ticket.number, ticket.state) == ("PRD-000001", "initial_check")
    ticket = desk.fire("wang", ticket, "checked", {
        "initial_findings": "Stencil worn at U7.", "containment": "quarantine",
        "quality_impact": True})
    assert ticket.state == "qa_review"
    with pytest.raises(Forbidden):
        desk.fire("wang", ticket, "qa_decided", {"qa_decision": "release"})
    ticket = desk.fire("zhao", ticket, "qa_decided", {"qa_decision": "rework",
                                                      "root_cause": "Stencil too old."})
    with pytest.raises(Invalid) as raised:
        desk.fire("wang", ticket, "resume", {"corrective_action": "New stencil.",
                                             "resumed_at": "2026-11-23T21:00:00+08:00"})
    assert _codes(raised.value) == {("resumed_at", "rule-failed")}
    ticket = desk.fire("wang", ticket, "resume", {"corrective_action": "New stencil.",
                                                  "resumed_at": "2026-11-23T23:35:00+08:00"})
    assert (ticket.state, ticket.values["downtime_minutes"]) == ("closed", 90)


def test_production_minor_equipment_fault_skips_qa_and_qa_may_hold(desk: Desk) -> None:
    desk.install("production-process")
    minor = desk.create("li", "production-process", {
        **EXCEPTION, "exception_type": "equipment", "equipment_id": "RF-0302",
        "severity": "minor", "line_stopped": False})
    minor = desk.fire("wang", minor, "checked", {"initial_findings": "Loose sensor.",
                                                 "containment": "none", "quality_impact": False})
    assert minor.state == "resuming"
    held = desk.create("li", "production-process", EXCEPTION)
    held = desk.fire("wang", held, "checked", {"initial_findings": "Bridges.",
                                               "containment": "quarantine",
                                               "quality_impact": True})
    held = desk.fire("zhao", held, "qa_decided", {"qa_decision": "hold"})
    assert held.state == "on_hold"
    held = desk.fire("zhao", held, "release_hold", {"engineering_note": "Rework all."})
    assert held.state == "resuming"


# --- after-sales (售后工单) -------------------------------------------------------------

WASHER = {"service_type": "repair", "product": "washing_machine",
          "serial_number": "WM80BD2024117", "under_warranty": False,
          "customer_name": "Li Na", "customer_phone": "+86 135 2222 3333", "region": "north",
          "address": "3-2-501 Huilongguan, Changping, Beijing",
          "problem_description": "Drum does not turn; error E21."}
FIRST_VISIT = {"visited_on": "2026-11-24", "done_by": "wang",
               "work_done": "Motor board failed; ordered one.", "outcome": "needs_parts"}


def test_after_sales_two_visits_parts_and_sign_off(desk: Desk) -> None:
    desk.install("after-sales")
    order = desk.create("li", "after-sales", WASHER)
    assert (order.number, order.state) == ("AS-000001", "dispatching")
    order = desk.fire("wang", order, "dispatch", {"technician": "wang",
                                                  "visit_date": "2026-11-24"})
    order = desk.claim("wang", order)
    order = desk.fire("wang", order, "start_visit")
    order = desk.fire("wang", order, "record_visit", {"visit_result": "needs_parts",
                                                      "service_record": [FIRST_VISIT]})
    assert order.state == "waiting_parts"
    order = desk.fire("chen", order, "parts_arrived", {"visit_date": "2026-11-27"})
    # The next handler sees the record of every earlier visit.
    assert desk.view("chen", order).values["service_record"] == [FIRST_VISIT]
    order = desk.fire("wang", order, "start_visit")
    order = desk.fire("wang", order, "record_visit", {
        "visit_result": "done", "labor_fee": 80,
        "service_record": [FIRST_VISIT, {**FIRST_VISIT, "visited_on": "2026-11-27",
                                         "work_done": "Replaced the board.", "outcome": "done"}],
        "parts_replaced": [{"part_no": "MB-E21", "qty": 1, "unit_price": 320}]})
    assert (order.state, order.values["amount_due"]) == ("awaiting_sign_off", 400)
    with pytest.raises(Invalid) as raised:
        desk.fire("li", order, "sign_off", {"customer_confirms": False, "signed_by": "Li Na"})
    assert _codes(raised.value) == {("customer_confirms", "rule-failed")}
    order = desk.fire("li", order, "sign_off", {"customer_confirms": True, "signed_by": "Li Na",
                                                "signature": desk.photo("li", "sign.png")})
    assert order.state == "closed"


def test_after_sales_repeat_dispatch_is_reviewed_first(desk: Desk) -> None:
    desk.install("after-sales")
    first = desk.create("li", "after-sales", WASHER)
    desk.seed.clock.advance(days=60)
    repeat = desk.create("li", "after-sales", WASHER)
    assert (repeat.state, repeat.values["repeat_dispatch"], repeat.values["previous_order"]) \
        == ("repeat_review", True, first.number)
    with pytest.raises(Forbidden):
        desk.fire("wang", repeat, "review_repeat", {"repeat_review_note": "Same board."})
    repeat = desk.fire("zhao", repeat, "review_repeat", {"repeat_review_note": "Same board."})
    assert repeat.state == "dispatching"
    desk.seed.clock.advance(days=91)
    assert desk.create("li", "after-sales", WASHER).state == "dispatching"


# --- IT support (IT支持) ----------------------------------------------------------------


def test_it_support_urgent_network_fault_skips_triage(desk: Desk) -> None:
    desk.install("it-support")
    urgent = desk.create("li", "it-support", {
        "category": "network", "network_symptom": "no_connection", "urgency": "urgent",
        "affected": "team", "location": "Building B, 3F",
        "summary": "No network on the 3rd floor"})
    assert (urgent.number, urgent.state) == ("IT-000001", "network_response")
    assert urgent.title == "No network on the 3rd floor"  # its title_field, not the location
    urgent = desk.fire("sun", urgent, "resolve", {"solution": "Replaced switch B3-SW2.",
                                                  "root_cause": "hardware_fault"})
    assert _clocks(urgent)["resolution"] == "met"
    assert desk.fire("li", urgent, "confirm").state == "closed"


def test_it_support_normal_tickets_are_triaged_and_may_wait_for_the_user(desk: Desk) -> None:
    desk.install("it-support")
    ticket = desk.create("li", "it-support", {
        "category": "network", "network_symptom": "wifi", "location": "A-2F",
        "summary": "Wi-Fi drops in meeting room 2-05"})
    assert ticket.state == "triage"
    ticket = desk.fire("wang", ticket, "take")
    ticket = desk.fire("wang", ticket, "ask_user", {"question_to_user": "Which laptop?"})
    ticket = desk.fire("li", ticket, "user_replied", {"user_reply": "NB-2231"})
    ticket = desk.fire("wang", ticket, "resolve", {"solution": "5 GHz band.",
                                                   "root_cause": "config"})
    ticket = desk.fire("li", ticket, "reopen")
    assert (ticket.state, ticket.reopen_count) == ("in_progress", 1)


def test_it_support_access_needs_the_managers_approval(desk: Desk) -> None:
    desk.install("it-support")
    with pytest.raises(Invalid) as raised:
        desk.create("li", "it-support", {"category": "access", "access_system": "Finance",
                                         "manager_approved": False, "location": "5F",
                                         "summary": "Finance share"})
    assert _codes(raised.value) == {("manager_approved", "rule-failed")}


def test_every_scenario_leaves_its_events(desk: Desk) -> None:
    desk.install("it-support")
    ticket = desk.create("li", "it-support", {"category": "email", "location": "5F",
                                              "summary": "Mailbox full"})
    desk.fire("wang", ticket, "take")
    with desk.seed.db.read() as session:
        kinds = list(session.scalars(select(Event.kind).where(
            Event.kind.in_(["template_installed", "created", "transitioned"]))
            .order_by(Event.id)))
    assert kinds == ["template_installed", "created", "transitioned"]


# --- routing and SLA, template by template ---------------------------------------------

IT_URGENT = {"category": "network", "network_symptom": "no_connection", "urgency": "urgent",
             "affected": "team", "location": "Building B, 3F",
             "summary": "No network on the 3rd floor"}
ROUTED = [
    # template, values, the team its rules name, who is in it with which skills, winner
    ("repair", LAPTOP, "repair", {"wang": ["laptop", "software"], "chen": ["printer"]},
     "wang"),
    ("service", COMPLAINT, "customer-relations", {"chen": [], "zhao": []}, "chen"),
    ("production-process", EXCEPTION, "production-qa", {"wang": []}, "wang"),
    ("after-sales", WASHER, "field-service", {"chen": ["north", "washing_machine"],
                                              "wang": ["south"]}, "chen"),
    ("it-support", IT_URGENT, "network-l1", {"sun": []}, "sun"),
]


def _staff(desk: Desk, team: str, members: dict[str, list[str]]) -> None:
    from runtime.services import accounts, agents

    db, admin = desk.seed.db, desk.seed.request("admin")
    if team not in ("repair", "network"):
        accounts.create_team(db, admin, team, team.replace("-", " ").title(),
                             now=desk.seed.clock())
    for name, skills in members.items():
        current = tuple(t for t in agents.profile(db, admin, name).teams if t != team)
        accounts.change_user(db, admin, name, teams=(*current, team))
        agents.set_profile(db, admin, name, skills=skills)


@pytest.mark.parametrize(("template", "values", "team", "members", "winner"), ROUTED,
                         ids=[row[0] for row in ROUTED])
def test_each_template_routes_and_runs_its_clocks(desk: Desk, template: str,
                                                  values: dict[str, Any], team: str,
                                                  members: dict[str, list[str]],
                                                  winner: str) -> None:
    desk.install(template)
    _staff(desk, team, members)
    ticket = desk.create("li", template, dict(values))
    assert (ticket.team, ticket.assignee) == (team, winner)
    staff = desk.view(winner, ticket)
    assert staff.sla, "every bundled template sets SLA targets"
    assert all(clock.status == "running" for clock in staff.sla)
    assert desk.view("li", ticket).sla == []  # deadlines are the staff's business
    # Nobody acts for a fortnight: every running clock breaches, once, on the timeline.
    desk.seed.clock.advance(days=14)
    while timers.run_due(desk.seed.db, now=desk.seed.clock(), owner="scenario").claimed:
        pass
    kinds = [e.kind for e in tickets.timeline(desk.seed.db, desk.seed.request(winner),
                                              ticket.number)]
    assert kinds.count("sla_breached") == len(staff.sla)
    assert "sla_breached" not in [e.kind for e in tickets.timeline(
        desk.seed.db, desk.seed.request("li"), ticket.number)]
