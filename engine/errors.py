"""Errors as data: located definition issues and per-field submission problems.

Rules *yield* issues; the walker that calls them adds locations; one
`DefinitionError` carries every issue found, so an admin fixes a file in one
round instead of one error at a time.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class IssueCode(StrEnum):
    """Stable codes of definition issues; tools and tests match on these, never on messages."""

    # reading the source text
    TOO_LARGE = "too-large"
    TOO_DEEP = "too-deep"
    YAML_SYNTAX = "yaml-syntax"
    JSON_SYNTAX = "json-syntax"
    UNSUPPORTED_TAG = "unsupported-tag"
    YAML_ALIAS = "yaml-alias"
    DUPLICATE_KEY = "duplicate-key"
    NON_STRING_KEY = "non-string-key"
    EMPTY_DOCUMENT = "empty-document"
    # shape (meta-schema)
    UNKNOWN_KEY = "unknown-key"
    MISSING_KEY = "missing-key"
    WRONG_TYPE = "wrong-type"
    NOT_ALLOWED_VALUE = "not-allowed-value"
    BAD_ID = "bad-id"
    BAD_VALUE = "bad-value"
    UNSUPPORTED_LANGUAGE = "unsupported-language"
    # references and meaning
    DUPLICATE_ID = "duplicate-id"
    UNKNOWN_STATE = "unknown-state"
    # found by the runtime when publishing: a team key this installation does not have,
    # a version number not above the one published
    UNKNOWN_TEAM = "unknown-team"
    VERSION_NOT_NEWER = "version-not-newer"
    UNKNOWN_FIELD = "unknown-field"
    UNKNOWN_ROLE = "unknown-role"
    RESERVED_ID = "reserved-id"
    NO_INITIAL_STATE = "no-initial-state"
    MANY_INITIAL_STATES = "many-initial-states"
    NO_FINAL_STATE = "no-final-state"
    MISSING_DEFAULT_BRANCH = "missing-default-branch"
    DEFAULT_BRANCH_NOT_LAST = "default-branch-not-last"
    KEY_NOT_FOR_TYPE = "key-not-for-type"
    BAD_DEFAULT = "bad-default"
    BAD_PATTERN = "bad-pattern"
    BAD_SIZE = "bad-size"
    BAD_RANGE = "bad-range"
    BAD_DEPENDENCY = "bad-dependency"
    COMPUTE_CYCLE = "compute-cycle"
    COMPUTED_NOT_EDITABLE = "computed-not-editable"
    # routing, SLA and calendars
    UNKNOWN_TRANSITION = "unknown-transition"
    BAD_DURATION = "bad-duration"
    TRANSITION_NOT_FROM_STATE = "transition-not-from-state"
    NO_PRIORITY_FIELD = "no-priority-field"
    UNKNOWN_TIME_ZONE = "unknown-time-zone"
    UNKNOWN_COUNTRY = "unknown-country"
    BAD_DATE = "bad-date"
    NO_WORKING_TIME = "no-working-time"
    # expressions
    EXPRESSION_SYNTAX = "expression-syntax"
    EXPRESSION_TOO_LONG = "expression-too-long"
    EXPRESSION_TOO_DEEP = "expression-too-deep"
    EXPRESSION_TOO_COMPLEX = "expression-too-complex"
    FORBIDDEN_CONSTRUCT = "forbidden-construct"
    UNKNOWN_NAME = "unknown-name"
    UNKNOWN_FUNCTION = "unknown-function"
    BAD_ARGUMENTS = "bad-arguments"
    # flow analysis (the linter)
    UNREACHABLE_STATE = "unreachable-state"
    DEAD_END = "dead-end"
    TRANSITION_FROM_FINAL = "transition-from-final"
    BRANCH_NEVER_MATCHES = "branch-never-matches"
    REQUIRED_NEVER_VISIBLE = "required-never-visible"
    # golden cases and folders of definitions
    CASE_FAILED = "case-failed"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a definition, located as precisely as the source allows."""

    code: IssueCode
    message: str
    pointer: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def render(self) -> str:
        """`file:line:col: /pointer: message [code]` — the form editors and CI logs understand."""
        where = self.file or "<definition>"
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        return f"{where}: {self.pointer or '/'}: {self.message} [{self.code}]"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the API and the designer use."""
        return {
            "code": str(self.code),
            "message": self.message,
            "pointer": self.pointer,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }

    def at(self, **changes: Any) -> Issue:
        """A copy with location fields changed (used by walkers that learn the location late)."""
        return replace(self, **changes)


class DefinitionError(Exception):
    """Every issue that stops a definition from compiling, in source order."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(
            sorted(issues, key=lambda i: (i.file or "", i.line or 0, i.column or 0, i.pointer))
        )
        super().__init__("\n".join(issue.render() for issue in self.issues))

    @property
    def codes(self) -> list[str]:
        """The codes of all issues, in order (handy in tests and logs)."""
        return [str(issue.code) for issue in self.issues]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a submission, tied to a field (or a row cell of a table field).

    `path` is a JSON pointer into the submitted data (`/parts/2/qty`); `field` is the
    top-level field id the problem belongs to, so a form can show it next to that input.
    """

    field: str
    code: str
    message: str
    path: str = ""
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the API returns in `error.details`."""
        return {"field": self.field, "path": self.path, "code": self.code, "message": self.message}


class EvaluationError(Exception):
    """A condition could not be evaluated on the given data (never a raw Python exception)."""

    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        super().__init__(f"cannot evaluate {expression!r}: {reason}")


def did_you_mean(word: str, candidates: Sequence[str] | Iterable[str]) -> str:
    """A `; did you mean 'x'?` suffix when a close candidate exists, else an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""
