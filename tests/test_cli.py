"""The command line, as an integrator uses it in CI: exit codes and located messages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime.cli import cli
from tests.conftest import TEMPLATES

LOCATED = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<ptr>/\S*): .+ \[(?P<code>[a-z0-9-]+)\]$"
)
REPAIR = TEMPLATES / "repair.yaml"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_validate_passes_on_the_bundled_templates():
    code, output = run("validate", str(TEMPLATES))
    assert code == 0, output


# (name, how the template text is broken, expected code)
BROKEN = [
    ("invalid-yaml", lambda t: t.replace("fields:\n", "fields:\n  - [\n", 1), "yaml-syntax"),
    ("python-tag", lambda t: t + "hook: !!python/object/apply:os.system [id]\n",
     "unsupported-tag"),
    ("yaml-1.1-no", lambda t: t.replace("default: normal", "default: no"), "bad-default"),
    ("duplicate-key", lambda t: t.replace("version: 1\n", "version: 1\nversion: 2\n"),
     "duplicate-key"),
    ("alias", lambda t: t.replace("number_prefix: REP", "number_prefix: &p REP\nx: *p"),
     "yaml-alias"),
    ("unknown-key", lambda t: t.replace("    required: true\n    max_length: 64",
                                        "    requird: true\n    max_length: 64"), "unknown-key"),
    ("unknown-field-in-condition", lambda t: t.replace("\"fault == 'software'\", state",
                                                       "\"falt == 'software'\", state"),
     "unknown-name"),
    ("no-default-branch", lambda t: t.replace("      - {state: hardware_check}\n",
                                              "      - {when: 'true', state: hardware_check}\n"),
     "missing-default-branch"),
    ("unknown-state", lambda t: t.replace("to: waiting_customer", "to: waiting_custmer"),
     "unknown-state"),
    ("expression-forbidden", lambda t: t.replace("\"qty * unit_price\"", "\"qty ** 99\""),
     "forbidden-construct"),
    ("expression-too-long", lambda t: t.replace("\"qty * unit_price\"",
                                                "\"qty" + " + qty" * 120 + "\""),
     "expression-too-long"),
    ("expression-too-deep", lambda t: t.replace("\"qty * unit_price\"",
                                                "\"" + "-" * 50 + "qty\""),
     "expression-too-deep"),
    ("unsupported-language", lambda t: t.replace("{en: Resolve, zh: 解决}",
                                                 "{en: Resolve, de: Lösen}"),
     "unsupported-language"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_validate_fails_with_located_errors(tmp_path: Path, mutate, expected: str):
    broken = tmp_path / "repair.yaml"
    broken.write_text(mutate(REPAIR.read_text(encoding="utf-8")), encoding="utf-8")
    code, output = run("validate", str(broken), str(REPAIR))
    assert code == 1
    lines = [line for line in output.splitlines() if not line.endswith("with problems")]
    matches = [LOCATED.match(line) for line in lines]
    assert all(matches), output
    assert expected in {m["code"] for m in matches}
    assert all(m["file"] == str(broken) for m in matches)
    assert "Traceback" not in output


def test_validate_json_syntax_error_and_oversized_file(tmp_path: Path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{\n  "ticket_type": "x",\n  "version": 1,,\n}\n')
    huge = tmp_path / "huge.yaml"
    huge.write_text("ticket_type: x\n" + "# padding\n" * 200_000)
    code, output = run("validate", str(bad_json), str(huge))
    assert code == 1
    assert f"{bad_json}:3:16: /: invalid JSON" in output
    assert "[too-large]" in output


def test_validate_checks_the_bundled_calendars_too():
    code, output = run("validate", str(TEMPLATES))
    assert code == 0, output
    assert "7 file(s) checked, 0 with problems" in output  # five templates, two calendars


# (where the file goes, its text, the located problem expected)
CALENDARS = [
    ("calendars/x.yaml", 'calendar: x\ntimezone: Asia/Shanghai\nhours: {mon: ["09:00-25:00"]}\n',
     ":3:15: /hours/mon/0: ", "bad-value"),
    ("calendars/tz.yaml", 'calendar: tz\ntimezone: Mars/Base\nhours: {mon: ["09:00-18:00"]}\n',
     ":2:11: /timezone: ", "unknown-time-zone"),
    ("office.yaml", '# beside definitions\ncalendar: office\ntimezone: Asia/Shanghai\n'
     'hours: {mon: ["09:00-18:00"]}\nholidays: [{date: "2026-02-30", name: x}]\n',
     ":5:19: /holidays/0/date: ", "bad-date"),
]


@pytest.mark.parametrize(("name", "text", "where", "code"), CALENDARS,
                         ids=["bad-hours", "unknown-zone", "calendar-keys-at-the-top"])
def test_validate_locates_problems_in_calendar_files(tmp_path: Path, name: str, text: str,
                                                     where: str, code: str):
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    (tmp_path / "repair.cases.yaml").write_text("cases: []\n", encoding="utf-8")  # skipped
    code_, output = run("validate", str(tmp_path))
    assert code_ == 1
    assert f"{path}{where}" in output
    assert output.splitlines()[0].endswith(f"[{code}]")
    assert "1 file(s) checked, 1 with problems" in output


def test_validate_without_files_is_an_error(tmp_path: Path):
    code, _ = run("validate", str(tmp_path))
    assert code == 1


def test_console_script_prints_no_traceback(tmp_path: Path):
    broken = tmp_path / "b.yaml"
    broken.write_text("ticket_type: [\n")
    result = subprocess.run([Path(sys.executable).parent / "ticketflow", "validate", str(broken)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert LOCATED.match(result.stdout.splitlines()[0])


HARDWARE_TICKET = {
    "device": "PRN-7", "category": "laptop", "symptom": "screen", "fault": "hardware",
    "description": "The screen flickers badly.", "contact_phone": "13800138000",
    "photos": [{"name": "a.jpg", "size": 1000, "content_type": "image/jpeg"}],
    "check_result": "bad panel", "resolution": "replaced the panel", "confirmed": True,
}


def test_simulate_follows_the_main_path(tmp_path: Path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps(HARDWARE_TICKET))
    code, output = run("simulate", str(REPAIR), "--data", str(data))
    assert code == 0, output
    assert output.splitlines()[-1] == (
        "path: new → hardware_check → repairing → resolved → closed; finished in 'closed'")
    assert "form (* required): device*, category*, fault*" in output


def test_simulate_reports_the_problems_it_would_hit(tmp_path: Path):
    data = tmp_path / "data.yaml"
    data.write_text("device: prn 7\nfault: hardware\ncategory: printer\n")
    code, output = run("simulate", str(REPAIR), "--data", str(data), "--lang", "zh")
    assert code == 1
    assert "problem /device: 设备编号格式不正确 [pattern-mismatch]" in output
    assert "problem /photos:" in output
    assert "stopped in 'new': creation failed" in output


def test_simulate_explicit_steps_with_roles(tmp_path: Path):
    steps = {
        "create": {"transition": "submit", "roles": ["requester"],
                   "values": {k: v for k, v in HARDWARE_TICKET.items()
                              if k not in ("check_result", "resolution", "confirmed")}},
        "steps": [
            {"transition": "checked", "roles": ["agent"], "values": {"check_result": "ok"}},
            {"transition": "resolve", "roles": ["requester"], "values": {"resolution": "x"}},
        ],
    }
    data = tmp_path / "steps.json"
    data.write_text(json.dumps(steps))
    code, output = run("simulate", str(REPAIR), "--data", str(data))
    assert code == 1
    assert "refused: role-not-allowed" in output
    assert "stopped in 'repairing': step 3 (resolve) failed" in output


def test_simulate_with_malformed_data(tmp_path: Path):
    data = tmp_path / "data.json"
    data.write_text('{"device": }')
    code, output = run("simulate", str(REPAIR), "--data", str(data))
    assert code == 1
    assert f"{data}:1:12: /: invalid JSON" in output


def test_schema_prints_the_compiled_json_schema():
    code, output = run("schema", str(REPAIR))
    assert code == 0
    document = json.loads(output)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "device" in document["properties"]
    assert "check_result" not in document["properties"]
    code, output = run("schema", str(REPAIR), "--transition", "checked")
    assert code == 0
    assert list(json.loads(output)["properties"]) == ["check_result"]
    code, output = run("schema", str(REPAIR), "--transition", "nope")
    assert code == 1


# --- golden cases and diffs ------------------------------------------------------------


def test_golden_cases_of_the_library_pass():
    code, output = run("test", str(TEMPLATES))
    assert code == 0, output
    assert "case(s) in 5 file(s)" in output
    assert "FAIL" not in output


def _copy_repair(tmp_path: Path, cases: str) -> Path:
    (tmp_path / "repair.yaml").write_text(REPAIR.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "repair.cases.yaml"
    path.write_text(cases, encoding="utf-8")
    return path


def test_a_failing_golden_case_exits_1_with_the_difference(tmp_path: Path):
    path = _copy_repair(tmp_path, """\
cases:
  - name: hardware goes straight to repair
    create:
      transition: submit
      values: {device: PRN-1, category: printer, fault: software, description: Jams all day.,
               contact_phone: "+86 138 0013 8000"}
    expect: {path: [new, hardware_check]}
""")
    code, output = run("test", str(path))
    assert code == 1
    assert f"FAIL  hardware goes straight to repair   ({path}:2)" in output
    assert "path: expected new → hardware_check" in output
    assert "got new → repairing" in output
    assert "1 case(s) in 1 file(s): 0 passed, 1 failed" in output


def test_a_broken_cases_file_exits_1_located(tmp_path: Path):
    path = _copy_repair(tmp_path, "cases:\n  - name: x\n    expect: {sate: new}\n")
    code, output = run("test", str(tmp_path))
    assert code == 1
    assert f"{path}:3:14: /cases/0/expect/sate: unknown key 'sate'" in output


TIMED = """\
cases:
  - name: software on Monday morning
    created_at: "2026-11-23T09:00:00+08:00"
    values: {device: LAP-1, category: laptop, fault: software, description: Blue screen.,
             contact_phone: "+86 138 0013 8000"}
    expect:
      team: repair
      due: {first_response: "2026-11-23T14:00:00+08:00"}
"""
MONDAY_AT_TEN = """\
calendar: cn-workdays
timezone: Asia/Shanghai
hours: {mon: ["10:00-12:00", "13:00-18:00"]}
"""
# (calendar files beside the cases, a change to the definition, cases, exit code, output)
TIMED_RUNS = [
    ({}, ("", ""), TIMED, 0, ["ok    software on Monday morning"]),
    ({"cn-workdays.yaml": MONDAY_AT_TEN}, ("", ""), TIMED, 1,
     ["due.first_response: expected 2026-11-23T14:00:00+08:00, got 2026-11-23T15:00:00+08:00"]),
    ({}, ("calendar: cn-workdays", "calendar: lab-hours"), TIMED, 1,
     ["due: the definition's calendar 'lab-hours' is neither in a calendars/ folder beside "
      "the cases nor bundled (known: 24x7, cn-workdays, us-business)"]),
    ({"cn-workdays.yaml": MONDAY_AT_TEN.replace("10:00-12:00", "10:00-12:61")}, ("", ""),
     TIMED, 1, ["/calendars/cn-workdays.yaml:3:15: /hours/mon/0: ", "1 file(s) could not run"]),
    ({}, ("", ""), TIMED.replace("team: repair", "assignee: wang"), 1,
     ["repair.cases.yaml:7:7: /cases/0/expect/assignee: an `assignee` expectation needs "
      "`candidates`"]),
]


@pytest.mark.parametrize(("calendars", "change", "cases", "exit_code", "lines"), TIMED_RUNS,
                         ids=["bundled-calendar", "calendar-beside-the-cases-wins",
                              "unknown-calendar", "broken-calendar-beside",
                              "assignee-without-candidates"])
def test_golden_cases_check_due_instants_on_the_right_calendar(
        tmp_path: Path, calendars: dict[str, str], change: tuple[str, str], cases: str,
        exit_code: int, lines: list[str]):
    path = _copy_repair(tmp_path, cases)
    if change[0]:
        definition = tmp_path / "repair.yaml"
        definition.write_text(definition.read_text("utf-8").replace(*change), "utf-8")
    for name, text in calendars.items():
        (tmp_path / "calendars").mkdir(exist_ok=True)
        (tmp_path / "calendars" / name).write_text(text, encoding="utf-8")
    code, output = run("test", str(path))
    assert code == exit_code, output
    for line in lines:
        assert line in output
    assert "not checked" not in output


def test_no_golden_cases_is_an_error(tmp_path: Path):
    code, output = run("test", str(tmp_path))
    assert code == 1
    assert "no golden cases" in output


def test_diff_of_two_files(tmp_path: Path):
    changed = tmp_path / "repair.yaml"
    changed.write_text(REPAIR.read_text(encoding="utf-8").replace("\nversion: 1\n",
                                                                  "\nversion: 2\n")
                       .replace("within: 30d", "within: 7d"), encoding="utf-8")
    assert run("diff", str(REPAIR), str(REPAIR)) == (0, "no differences\n")
    code, output = run("diff", str(REPAIR), str(changed))
    assert (code, output) == (1, "~ definition: version: 1 → 2\n"
                                 "~ duplicate check: within: 30d → 7d\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("ticket_type: [\n", encoding="utf-8")
    code, output = run("diff", str(REPAIR), str(broken))
    assert code == 2
    assert LOCATED.match(output.splitlines()[0])
