"""The flow linter: graph checks and the finite-domain checks of `engine.domains`.

Each case is a small definition under tests/data/lint/ and the exact issues it must
produce (code, pointer, line); cases with no issues are the ones that must NOT be
reported — the linter stops a definition from compiling, so a false alarm is a bug.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compile import iter_issues, load, loads
from engine.domains import MAX_COMBINATIONS, finite_domains
from engine.errors import DefinitionError, IssueCode
from engine.model import TicketType

DATA = Path(__file__).parent.parent / "data" / "lint"
REPAIR = Path(__file__).parents[2] / "templates_library" / "repair.yaml"

Found = list[tuple[IssueCode, str, int | None]]


def _issues(name: str) -> Found:
    path = DATA / name
    return [(i.code, i.pointer, i.line) for i in iter_issues(path.read_text("utf-8"), name)]


BRANCH = IssueCode.BRANCH_NEVER_MATCHES
HIDDEN = IssueCode.REQUIRED_NEVER_VISIBLE

CASES: list[tuple[str, Found]] = [
    # graph checks
    ("unreachable_state.yaml", [(IssueCode.UNREACHABLE_STATE, "/states/1", 9)]),
    ("dead_end.yaml", [(IssueCode.DEAD_END, "/states/1", 9)]),
    ("transition_from_final.yaml",
     [(IssueCode.TRANSITION_FROM_FINAL, "/transitions/1/from", 12)]),
    # branches that can never be taken
    ("branch_shadowed.yaml", [(BRANCH, "/transitions/0/to/1", 18)]),
    ("branch_duplicate_condition.yaml", [(BRANCH, "/transitions/0/to/1", 18)]),
    ("branch_covered_by_earlier.yaml", [(BRANCH, "/transitions/0/to/2", 19)]),
    ("branch_impossible_condition.yaml", [(BRANCH, "/transitions/0/to/0", 17),
                                          (BRANCH, "/transitions/0/to/1", 18),
                                          (BRANCH, "/transitions/0/to/2", 19)]),
    ("branch_never_on_path.yaml", [(BRANCH, "/transitions/1/to/0", 23)]),
    ("branch_excluded_by_guard.yaml", [(BRANCH, "/transitions/0/to/0", 17)]),
    # requirements that can never apply
    ("required_never_visible.yaml", [(HIDDEN, "/transitions/1/form/0", 25),
                                     (HIDDEN, "/transitions/1/requires/0", 26)]),
    # must not be reported
    ("required_visible_on_some_path.yaml", []),
    ("unknown_condition_not_reported.yaml", []),
    ("editable_field_is_free.yaml", []),
    ("hidden_field_reads_null.yaml", []),
    ("raised_priority_is_free.yaml", []),
    ("too_many_combinations.yaml", []),
]


@pytest.mark.parametrize(("name", "expected"), CASES, ids=[name for name, _ in CASES])
def test_lint_cases(name: str, expected: Found) -> None:
    assert _issues(name) == expected


def test_every_case_file_is_in_the_table() -> None:
    assert sorted(p.name for p in DATA.glob("*.yaml")) == sorted(name for name, _ in CASES)


# The cases that must not be reported, with the one thing that makes them fine taken
# away: each must then be reported, so none passes for an unrelated reason.
CONTROLS = [
    ("editable_field_is_free.yaml", ", edit: {agent: [fault]}", "",
     [(BRANCH, "/transitions/1/to/0", 24), (HIDDEN, "/transitions/1/requires/0", 26)]),
    ("raised_priority_is_free.yaml", "raise_priority: true", "notify: [supervisor]",
     [(BRANCH, "/transitions/1/to/0", 23)]),
    ("hidden_field_reads_null.yaml", ',\n     visible_when: "kind == \'device\'"', "",
     [(BRANCH, "/transitions/0/to/2", 20)]),
    ("required_visible_on_some_path.yaml", "fault == 'hardware'", "fault == 'software'",
     [(HIDDEN, "/transitions/1/requires/0", 20)]),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), CONTROLS,
                         ids=[name for name, *_ in CONTROLS])
def test_control_cases_are_reported(name: str, old: str, new: str, expected: Found) -> None:
    text = (DATA / name).read_text("utf-8")
    assert old in text
    found = [(i.code, i.pointer, i.line) for i in iter_issues(text.replace(old, new), name)]
    assert found == expected


MESSAGES = [
    ("branch_shadowed.yaml",
     "this branch can never be taken: whenever fault == 'software' holds, the earlier "
     "branch 0 (fault in ['software', 'network']) is taken first"),
    ("branch_covered_by_earlier.yaml",
     "this branch can never be taken: whenever fault != 'network' holds, one of the earlier "
     "branches 0 (fault == 'hardware'), 1 (fault == 'software') is taken first"),
    ("branch_never_on_path.yaml",
     "this branch can never be taken: its condition (fault == 'software') never holds for a "
     "ticket in state 'check'"),
]


@pytest.mark.parametrize(("name", "message"), MESSAGES, ids=[name for name, _ in MESSAGES])
def test_branch_messages_say_why(name: str, message: str) -> None:
    issues = list(iter_issues((DATA / name).read_text("utf-8"), name))
    assert [issue.message for issue in issues] == [message]


def test_required_message_names_field_condition_and_state() -> None:
    with pytest.raises(DefinitionError) as caught:
        load(DATA / "required_never_visible.yaml")
    message = caught.value.issues[1].message
    assert message.startswith("'photos' is required here but can never be visible")
    assert "(fault == 'hardware')" in message
    assert "in state 'remote'" in message


def test_bundled_repair_template_is_clean() -> None:
    assert isinstance(load(REPAIR), TicketType)


DOMAIN_FIELDS = """\
ticket_type: domains
version: 1
name: Domains
number_prefix: DOM
fields:
  - {id: fault, type: choice, options: [software, hardware], required: true}
  - {id: priority, type: choice, options: [normal, urgent]}
  - {id: shown_for_hw, type: choice, options: [a], required: true,
     visible_when: "fault == 'hardware'"}
  - {id: internal, type: choice, options: [a], required: true, visible_to: [agent]}
  - {id: confirmed, type: boolean, required: true}
  - {id: vip, type: boolean}
  - {id: cost, type: number}
  - {id: tags, type: multi_choice, options: [a, b]}
  - {id: escalated, type: boolean, compute: "vip and priority == 'urgent'"}
states:
  - {id: new, initial: true}
  - {id: done, final: true}
transitions:
  - {id: submit, from: new, to: done}
"""

DOMAINS = [
    ("fault", ("hardware", "software")),
    ("priority", ("normal", "urgent", None)),
    ("shown_for_hw", ("a", None)),
    ("internal", ("a", None)),
    ("confirmed", (False, True)),
    ("vip", (False, True, None)),
    ("cost", None),
    ("tags", None),
    ("escalated", None),
]


@pytest.mark.parametrize(("field", "values"), DOMAINS, ids=[field for field, _ in DOMAINS])
def test_finite_domains(field: str, values: tuple[object, ...] | None) -> None:
    assert finite_domains(loads(DOMAIN_FIELDS)).get(field) == values


def test_combination_cap_is_below_the_too_many_case() -> None:
    # too_many_combinations.yaml relies on 5**6 combinations being over the cap.
    assert 5**6 > MAX_COMBINATIONS
