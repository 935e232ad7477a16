"""Form previews: how a form stands for the values typed so far, decided by the engine.

The browser's live forms post what the user has typed; these functions run the engine's
`decide` on it — the same decision a real submission gets — and say, field by field,
whether it is shown, whether it is required now, and what is wrong with its value.
Nothing is written. Which fields appear and which are required is never worked out
anywhere else (not in JavaScript, not in templates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from engine.flow import creation_transitions
from engine.forms import decide, requester_fields
from engine.model import Field, FieldType, RequesterDetail, TicketType, Transition
from runtime import policy
from runtime.catalog import latest_published
from runtime.context import Request
from runtime.db import Database
from runtime.models import Definition
from runtime.services import attachments, requesters
from runtime.services.errors import NotFound


@dataclass(frozen=True)
class FieldState:
    """One field of a form as it stands now."""

    field: Field
    visible: bool
    required: bool
    value: Any
    problems: tuple[dict[str, Any], ...] = ()

    @property
    def id(self) -> str:
        return self.field.id


@dataclass(frozen=True)
class FormPreview:
    """A form for given values: its fields in order, the problems a submission would
    meet, and where the ticket would go."""

    ticket_type: TicketType
    transition: Transition | None
    fields: tuple[FieldState, ...]
    problems: tuple[dict[str, Any], ...]
    refused: str | None
    target_state: str | None
    version: int | None = None

    @property
    def other_problems(self) -> tuple[dict[str, Any], ...]:
        """Problems that belong to no field of this form (a rule, a refusal...)."""
        shown = {state.id for state in self.fields if state.visible}
        return tuple(p for p in self.problems if p.get("field") not in shown)


def _with_files(session: Any, request: Request, ticket_type: TicketType,
                values: Mapping[str, Any], ticket: Any = None) -> dict[str, Any]:
    """Attachment references replaced by the stored files' descriptors (what the engine
    checks); references the actor may not use are dropped and reported by the real
    submission."""
    resolved = attachments.resolve_field_files(session, request, ticket_type, values, ticket)
    return {**values, **resolved.values}


def _preview(ticket_type: TicketType, submitted: Mapping[str, Any], roles: frozenset[str],
             request: Request, *, current: Mapping[str, Any] | None = None,
             state: str | None = None, transition: str | None = None,
             creating: bool = False, version: int | None = None) -> FormPreview:
    decision = decide(ticket_type, dict(submitted), roles=roles, current=current,
                      state=state, transition=transition, creating=creating,
                      language=request.actor.language)
    spec = ticket_type.transition_by_id.get(transition) if transition else None
    requires = frozenset(spec.requires) if spec is not None else frozenset()
    problems = tuple(problem.to_dict() for problem in decision.problems)
    by_field: dict[str, list[dict[str, Any]]] = {}
    for item in problems:
        by_field.setdefault(str(item.get("field") or ""), []).append(item)
    shown = dict(current or {})
    if creating:
        shown.update({name: ticket_type.field_by_id[name].default for name in decision.form
                      if ticket_type.field_by_id[name].default is not None})
    shown.update(submitted)
    by_id = ticket_type.field_by_id
    # Tables show their computed cells (a row's total) as the engine has them now.
    shown.update({name: decision.values[name] for name in decision.form
                  if by_id[name].column_compute_order and name in decision.values})
    fields = tuple(
        FieldState(
            field=ticket_type.field_by_id[name],
            visible=name in decision.visible,
            # The engine's answer, plus the transition's `requires` (a field it needs to
            # have a value before it can fire), which is not hidden-field-blind.
            required=name in decision.required or (name in requires
                                                    and name in decision.visible),
            value=shown.get(name),
            problems=tuple(by_field.get(name, ())),
        )
        for name in decision.form
    )
    return FormPreview(ticket_type, spec, fields, problems,
                       str(decision.refusal) if decision.refusal else None,
                       decision.target_state, version)


def intake(db: Database, request: Request, ticket_type_key: str,
           values: Mapping[str, Any], *, contact: requesters.Contact | None = None
           ) -> FormPreview:
    """The creation form of a ticket type for the values typed so far (the portal's and
    the workspace's "new ticket" form). Fields a customer has answered already (their
    name, their e-mail: `requesters`) are left out; `contact` is what a portal guest
    typed in the portal's own contact fields."""
    with db.read() as session:
        ticket_type = latest_published(session, ticket_type_key).ticket_type
        roles = policy.creator_roles(request.actor)
        offered = creation_transitions(ticket_type, roles)
        transition = offered[0].id if offered else None
        submitted = _with_files(session, request, ticket_type, values)
        known = requesters.form_part(session, request, ticket_type, contact)
    preview = _preview(ticket_type, {**known.values, **submitted}, roles, request,
                       creating=True, transition=transition)
    if not known.hidden:
        return preview
    # A field left out has the requester's value, or, for a guest whose contact is not
    # typed yet, none: its problems are the portal's contact fields' to report.
    return replace(preview,
                   fields=tuple(state for state in preview.fields if state.id not in known.hidden),
                   problems=tuple(item for item in preview.problems
                                  if item.get("field") not in known.hidden))


CUSTOMER_ROLES = frozenset({"requester"})


def sketch(request: Request, ticket_type: TicketType, values: Mapping[str, Any]
           ) -> FormPreview:
    """The creation form of a ticket type that need not be published yet (the
    designer's preview) for the values typed into it, as a customer opening a ticket
    sees it. Files are left out: a preview stores nothing."""
    offered = creation_transitions(ticket_type, CUSTOMER_ROLES)
    typed = {name: value for name, value in values.items()
             if not (name in ticket_type.field_by_id and is_upload(ticket_type.field_by_id[name]))}
    return _preview(ticket_type, typed, CUSTOMER_ROLES, request, creating=True,
                    transition=offered[0].id if offered else None)


def filled_from_requester(db: Database, ticket_type_key: str) -> dict[str, RequesterDetail]:
    """The intake fields of a ticket type filled from its requester, with the detail
    each takes (`from_requester`)."""
    with db.read() as session:
        ticket_type = latest_published(session, ticket_type_key).ticket_type
    return {spec.id: spec.from_requester for spec in requester_fields(ticket_type)
            if spec.from_requester is not None}


def step(db: Database, request: Request, number: str, transition: str | None,
         values: Mapping[str, Any]) -> FormPreview:
    """The step form of `transition` on a ticket (None: the fields the current state lets
    the actor edit) for the values typed so far."""
    from runtime.services.tickets import _load  # one loader decides who sees a ticket

    with db.read() as session:
        loaded = _load(session, request, number)
        ticket = loaded.ticket
        ticket_type = loaded.ticket_type
        if transition is not None and transition not in ticket_type.transition_by_id:
            raise NotFound(f"there is no transition '{transition}'")
        submitted = _with_files(session, request, ticket_type, values, ticket)
        current = policy.visible_values(ticket_type, ticket.data, loaded.roles)
        return _preview(ticket_type, submitted, loaded.roles, request, current=current,
                        state=ticket.state, transition=transition, version=ticket.version)


def creatable_types(db: Database, request: Request) -> list[tuple[str, str, str | None]]:
    """(key, name, description) of the published ticket types this actor may open, in the
    actor's language."""
    result = []
    with db.read() as session:
        for key in session.scalars(select(Definition.key).order_by(Definition.key)):
            try:
                ticket_type = latest_published(session, key).ticket_type
            except NotFound:
                continue  # only drafts so far
            if not creation_transitions(ticket_type, policy.creator_roles(request.actor)) \
                    and not ticket_type.intake_fields:
                continue
            language = request.actor.language
            description = (ticket_type.description.text(language)
                           if ticket_type.description is not None else None)
            result.append((key, ticket_type.name.text(language), description))
    return result


def is_upload(spec: Field) -> bool:
    """Whether a field takes uploaded files."""
    return spec.type is FieldType.ATTACHMENTS
