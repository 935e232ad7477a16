"""The compiled, immutable model of a ticket type.

Everything here is resolved: state and field references are checked, expressions are
parsed, option lists are tuples. The runtime never compares raw strings against a
definition that was not compiled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.duplicates import DuplicateCheck
    from engine.durations import Duration
    from engine.expressions import Expression

LANGUAGES = ("en", "zh")
BUILTIN_ROLES = ("requester", "agent", "supervisor", "admin", "assignee")


class FieldType(StrEnum):
    STRING = "string"
    TEXT = "text"
    NUMBER = "number"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    EMAIL = "email"
    PHONE = "phone"
    USER = "user"
    ATTACHMENTS = "attachments"
    TABLE = "table"


class RequesterDetail(StrEnum):
    """What a field may be filled with from the ticket's requester (`from_requester`)."""

    NAME = "name"
    EMAIL = "email"


class SlaMode(StrEnum):
    RUN = "run"
    PAUSE = "pause"  # every SLA clock stops while the ticket is here
    STOP = "stop"  # the resolution target is met here (final states stop it too)


@dataclass(frozen=True, slots=True)
class Label:
    """Text in one or more languages; `text(lang)` falls back sensibly."""

    texts: Mapping[str, str]

    def text(self, language: str = "en") -> str:
        """The text in `language`, else English, else any language present."""
        if language in self.texts:
            return self.texts[language]
        if "en" in self.texts:
            return self.texts["en"]
        return next(iter(self.texts.values()))

    def to_data(self) -> str | dict[str, str]:
        """Back to definition form: a plain string when only one untagged text exists."""
        return dict(self.texts)

    @staticmethod
    def of(value: str | Mapping[str, str] | None, fallback: str) -> Label:
        """A label from definition data: a plain string applies to every language."""
        if value is None:
            return Label(MappingProxyType({"en": fallback}))
        if isinstance(value, str):
            return Label(MappingProxyType({"en": value, "zh": value}))
        return Label(MappingProxyType(dict(value)))


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: Label


@dataclass(frozen=True, slots=True)
class Attachment:
    """Limits of an attachments field: accepted types, count and single-file size."""

    accept: tuple[str, ...] = ()
    max_files: int | None = None
    max_size: int | None = None  # bytes

    def accepts(self, name: str, content_type: str) -> bool:
        """Whether a file with this name and type matches `accept` (empty accept: anything)."""
        if not self.accept:
            return True
        lowered_name, lowered_type = name.lower(), content_type.lower()
        for pattern in self.accept:
            if pattern.startswith("."):
                if lowered_name.endswith(pattern.lower()):
                    return True
            elif pattern.endswith("/*"):
                if lowered_type.startswith(pattern[:-1]):
                    return True
            elif lowered_type == pattern.lower():
                return True
        return False


@dataclass(frozen=True, slots=True)
class Field:
    """A field of the form, or a column of a table field."""

    id: str
    type: FieldType
    label: Label
    pointer: str
    help: Label | None = None
    placeholder: Label | None = None
    required: bool = False
    required_when: Expression | None = None
    visible_when: Expression | None = None
    visible_to: frozenset[str] | None = None
    default: Any = None
    widget: str | None = None
    compute: Expression | None = None
    from_requester: RequesterDetail | None = None
    # string / text
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    # number
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    decimals: int | None = None
    # choice / multi_choice
    options: tuple[Option, ...] = ()
    depends_on: str | None = None
    dependent_options: Mapping[str, tuple[Option, ...]] | None = None
    min_selected: int | None = None
    max_selected: int | None = None
    # user
    user_roles: frozenset[str] | None = None
    # attachments
    attachment: Attachment | None = None
    # table
    columns: tuple[Field, ...] = ()
    column_compute_order: tuple[str, ...] = ()
    min_rows: int | None = None
    max_rows: int | None = None

    @property
    def computed(self) -> bool:
        return self.compute is not None

    # Every value the field may take (for a dependent list: under any parent value);
    # derived once here because value checks ask on every submission.
    option_values: frozenset[str] = field(init=False, default=frozenset(), compare=False)

    def __post_init__(self) -> None:
        if self.dependent_options is not None:
            values = frozenset(o.value for opts in self.dependent_options.values() for o in opts)
        else:
            values = frozenset(o.value for o in self.options)
        object.__setattr__(self, "option_values", values)

    def options_for(self, parent_value: Any) -> tuple[Option, ...]:
        """The options offered given the parent's value (dependent lists), else all options."""
        if self.dependent_options is None:
            return self.options
        return self.dependent_options.get(parent_value, ()) if isinstance(parent_value, str) else ()


@dataclass(frozen=True, slots=True)
class State:
    id: str
    label: Label
    pointer: str
    initial: bool = False
    final: bool = False
    sla: SlaMode = SlaMode.RUN
    edit: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Branch:
    state: str
    pointer: str
    when: Expression | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    id: str
    label: Label
    pointer: str
    sources: frozenset[str]
    branches: tuple[Branch, ...]
    roles: frozenset[str] | None = None  # None: any role that may act on the ticket
    form: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    available_when: Expression | None = None
    reopens: bool = False

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(branch.state for branch in self.branches)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    check: Expression
    message: Label
    field: str
    pointer: str
    when: Expression | None = None


class Strategy(StrEnum):
    """How an assignment rule picks one agent of its team."""

    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"
    SKILL_MATCH = "skill_match"
    CLAIM_POOL = "claim_pool"


@dataclass(frozen=True, slots=True)
class AssignmentRule:
    """One entry of the `assignment` block; the first whose `when` holds routes a ticket."""

    index: int
    pointer: str
    team: str
    strategy: Strategy = Strategy.ROUND_ROBIN
    when: Expression | None = None
    match_skills: tuple[str, ...] = ()
    weight_by_priority: bool = False
    # priority value → weight of one open ticket (resolved: defaults filled in)
    priority_weights: Mapping[str, float] = field(default_factory=dict)
    capacity: int | None = None  # open tickets per agent, unless the agent has their own


class EscalationTrigger(StrEnum):
    """The `on` of an escalation step."""

    FIRST_RESPONSE_BREACH = "first_response_breach"
    RESOLUTION_BREACH = "resolution_breach"
    NEXT_RESPONSE_BREACH = "next_response_breach"
    WARNING = "warning"
    STUCK = "stuck"


@dataclass(frozen=True, slots=True)
class SlaTarget:
    """One entry of `sla.targets`; the first whose `when` holds applies."""

    index: int
    pointer: str
    when: Expression | None = None
    first_response: Duration | None = None
    next_response: Duration | None = None
    resolution: Duration | None = None


@dataclass(frozen=True, slots=True)
class Escalation:
    """One entry of `sla.escalate`: when it fires and what it does."""

    index: int
    pointer: str
    on: EscalationTrigger
    in_state: str | None = None  # stuck: this state only (None: any non-final state)
    after: Duration | None = None  # stuck: time in the state; others: delay after the trigger
    notify: tuple[str, ...] = ()
    copy: tuple[str, ...] = ()
    reassign_to: str | None = None
    raise_priority: bool = False
    transition: str | None = None


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """The compiled `sla` block."""

    calendar: str
    targets: tuple[SlaTarget, ...]
    warn_before: Duration | None = None
    escalations: tuple[Escalation, ...] = ()


@dataclass(frozen=True)
class TicketType:
    """A compiled ticket type. Immutable: share it freely between threads and requests."""

    id: str
    version: int
    name: Label
    number_prefix: str
    fields: tuple[Field, ...]
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    rules: tuple[Rule, ...]
    roles: frozenset[str]
    description: Label | None = None
    assignment: tuple[Mapping[str, Any], ...] = ()
    sla: Mapping[str, Any] | None = None
    duplicate_check: DuplicateCheck | None = None
    source: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    file: str | None = None
    compute_order: tuple[str, ...] = ()
    visibility_order: tuple[str, ...] = ()
    intake_fields: tuple[str, ...] = ()
    # Typed forms of `assignment` and `sla` (the raw mappings above stay for readers of
    # the definition as written).
    assignment_rules: tuple[AssignmentRule, ...] = ()
    sla_policy: SlaPolicy | None = None
    priority_field: str | None = None  # a choice field, ordered from low to high
    title_field: str | None = None  # the intake text field that titles a ticket

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_by_id", MappingProxyType({f.id: f for f in self.fields}))
        object.__setattr__(self, "state_by_id", MappingProxyType({s.id: s for s in self.states}))
        object.__setattr__(
            self, "transition_by_id", MappingProxyType({t.id: t for t in self.transitions})
        )

    field_by_id: Mapping[str, Field] = field(init=False, repr=False, compare=False)
    # Derived answers that depend only on the immutable model (e.g. which fields a form
    # has for a state, transition and set of roles), filled in on first use.
    memo: dict[Any, Any] = field(init=False, repr=False, compare=False, default_factory=dict)
    state_by_id: Mapping[str, State] = field(init=False, repr=False, compare=False)
    transition_by_id: Mapping[str, Transition] = field(init=False, repr=False, compare=False)

    @property
    def initial_state(self) -> State:
        return next(state for state in self.states if state.initial)
