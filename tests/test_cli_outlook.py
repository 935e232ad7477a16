"""`ticketflow simulate` with candidates and instants: routing and SLA in the report."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import TEMPLATES
from tests.test_cli import REPAIR, run

EXAMPLES = TEMPLATES / "examples"


def test_simulate_reports_routing_and_sla_on_the_bundled_calendar():
    code, output = run("simulate", str(REPAIR), "--data", str(EXAMPLES / "repair-hardware.json"),
                       "--candidates", str(EXAMPLES / "repair-candidates.json"),
                       "--created-at", "2025-09-30T16:30:00+08:00")
    assert code == 0, output
    assert "team repair, skill_match: assigned to chen" in output
    assert "   zhou: on_leave" in output
    assert "on calendar cn-workdays (Asia/Shanghai)" in output
    assert "resolution: running, due 2025-10-09T11:30+08:00" in output
    assert "days off skipped: 2025-10-01 National Day" in output


def test_simulate_steps_may_carry_instants(tmp_path: Path):
    values = json.loads((EXAMPLES / "repair-hardware.json").read_text(encoding="utf-8"))
    intake = {k: v for k, v in values.items()
              if k not in ("check_result", "resolution", "confirmed", "parts")}
    data = tmp_path / "steps.json"
    data.write_text(json.dumps({
        "create": {"transition": "submit", "values": intake, "at": "2025-06-02T09:00:00+08:00"},
        "steps": [{"transition": "ask_customer", "roles": ["agent"],
                   "at": "2025-06-02T10:00:00+08:00"}],
    }))
    code, output = run("simulate", str(REPAIR), "--data", str(data))
    assert code == 1, output  # not finished: waiting for the customer
    assert "resolution: paused" in output
    assert "paused in waiting_customer: 2025-06-02T10:00+08:00 → -" in output


def test_simulate_refuses_bad_outlook_input(tmp_path: Path):
    data = str(EXAMPLES / "repair-hardware.json")
    code, output = run("simulate", str(REPAIR), "--data", data, "--created-at", "2025-06-02")
    assert code == 1
    assert "needs a time zone offset" in output
    missing = tmp_path / "cal.yaml"
    missing.write_text("calendar: x\ntimezone: Mars/Base\nhours: {mon: ['09:00-17:00']}\n")
    code, output = run("simulate", str(REPAIR), "--data", data, "--created-at",
                       "2025-06-02T09:00:00+08:00", "--calendar", str(missing))
    assert code == 1
    assert f"{missing}:2:11: /timezone: unknown time zone 'Mars/Base'" in output
