"""What the page blueprints share: the service request in the UI's language, the UI's
clock, uploads from a form post, service errors in the UI's language, and htmx helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Flask, abort, flash, g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.datastructures import MultiDict

from engine.model import Field, FieldType
from runtime.context import Request
from runtime.models import Role
from runtime.services import attachments, surveys
from runtime.services.errors import Invalid, ServiceError
from runtime.web.context import runtime, service_request
from runtime.web.i18n import ui_language, ui_locale

# Service error codes whose message the UI shows in its own language; others (rare,
# developer-facing) keep the service's English text.
ERROR_TEXTS = {
    "stale": lazy_gettext("Someone else changed this ticket while you were looking at it. "
                          "Nothing was saved; below is the ticket as it is now."),
    "already-taken": lazy_gettext("Someone else has already taken this ticket."),
    "closed": lazy_gettext("This ticket is closed."),
    "no-transition": lazy_gettext("No step you may take leads from this column to that one."),
    "needs-form": lazy_gettext("This step has a form to fill in: open the ticket to do it."),
    "branch-elsewhere": lazy_gettext("The rules of this ticket type send it to another "
                                     "column from here."),
    "same-state": lazy_gettext("The ticket is already in that column."),
    "not-from-this-state": lazy_gettext("This step is not possible in the ticket's current "
                                        "state; the page shows the state it is in now."),
    "condition-not-met": lazy_gettext("This step is not possible for this ticket now."),
    "role-not-allowed": lazy_gettext("You may not take this step on this ticket."),
    "forbidden": lazy_gettext("You may not do this."),
    "not-found": lazy_gettext("There is nothing here, or you may not see it."),
    "file-too-large": lazy_gettext("The file is larger than the limit of %(mb)s MB."),
    "forbidden-file-type": lazy_gettext("This type of file is not accepted (images, PDF, "
                                        "office documents, archives and plain text are)."),
    "bad-file-name": lazy_gettext("The file name is not allowed: use a plain name."),
    "already-answered": lazy_gettext("This survey was already answered. Thank you!"),
    "not-closed": lazy_gettext("The survey opens when the ticket is closed."),
    "unknown-user": lazy_gettext("There is no such active agent."),
    "not-in-team": lazy_gettext("That agent is not a member of the team."),
    "csrf": lazy_gettext("The page had expired (its CSRF token is missing or old): reload it "
                         "and try again."),
}


def ui_request() -> Request:
    """The logged-in user's service request, labels in the UI's language."""
    service = service_request()
    language = ui_language()
    if service.actor.language == language:
        return service
    return replace(service, actor=replace(service.actor, language=language))


def zone() -> ZoneInfo:
    """The clock pages show and read times on."""
    return ZoneInfo(runtime().settings.timezone)


ROLE_LABELS = {
    Role.ADMIN: lazy_gettext("Administrator"), Role.SUPERVISOR: lazy_gettext("Supervisor"),
    Role.AGENT: lazy_gettext("Agent"), Role.REQUESTER: lazy_gettext("Customer"),
}


def error_text(error: ServiceError) -> str:
    """A service error in the UI's language."""
    text = ERROR_TEXTS.get(error.code)
    if text is None:
        return error.message
    if error.code == "file-too-large":
        return str(text) % {"mb": runtime().settings.max_upload_bytes // (1024 * 1024)}
    return str(text)


def problems_text(error: Invalid, words: Mapping[str, object]) -> str:
    """Each problem of a refused change, once, in the UI's language where `words` (by
    field) has it, else as the service said it."""
    said = [str(words.get(item.get("field", ""), item.get("message", "")))
            for item in error.details] or [error.message]
    return " ".join(dict.fromkeys(said))


def flash_error(error: ServiceError) -> None:
    flash(error_text(error), "error")


def is_htmx() -> bool:
    """Whether htmx sent the request (it then wants a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def upload_fields(fields: list[Field] | tuple[Field, ...]) -> list[Field]:
    return [spec for spec in fields if spec.type is FieldType.ATTACHMENTS]


def store_uploads(service: Request, fields: list[Field] | tuple[Field, ...],
                  form: MultiDict[str, str]) -> tuple[MultiDict[str, str], dict[str, str]]:
    """Keep the files posted in the form's upload inputs (the no-JavaScript path; with
    JavaScript, files are uploaded as soon as they are chosen). Returns the form with the
    stored files' ids added under their field, and a message per field whose file was
    refused — the rest of the form is kept either way."""
    merged = MultiDict(form)
    refused: dict[str, str] = {}
    settings = runtime().settings
    for spec in upload_fields(fields):
        for upload in request.files.getlist(spec.id):
            if not upload or not upload.filename:
                continue
            content = upload.read(settings.max_upload_bytes + 1)
            try:
                info = attachments.upload(runtime().db, service, settings.attachment_dir,
                                          content, upload.filename,
                                          max_size=settings.max_upload_bytes)
            except ServiceError as error:
                refused[spec.id] = f"{upload.filename}: {error_text(error)}"
                continue
            merged.add(spec.id, info.id)
            merged.setdefault(f"present.{spec.id}", "1")
    return merged, refused


def file_names(service: Request, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Descriptors of uploaded files the actor may use, by id (to show what was kept)."""
    found: dict[str, dict[str, Any]] = {}
    for public_id in ids:
        try:
            _path, info = attachments.open_file(runtime().db, service,
                                                runtime().settings.attachment_dir, public_id)
        except ServiceError:
            continue
        found[public_id] = info.descriptor()
    return found


def when(instant: datetime | None, style: str = "medium") -> str:
    """An instant on the UI's clock, in the UI's language. Babel directly, with the
    instant already on the UI's clock: flask-babel's wrapper looked the locale, the zone
    and the formats up again on every call, and a ticket page formats one instant per
    timeline entry (55 → 24 µs each)."""
    if instant is None:
        return ""
    return format_datetime(instant.astimezone(zone()), style, locale=ui_locale())


def version_from(form: MultiDict[str, str]) -> int | None:
    """The ticket version a form was rendered at (a stale one is then a clear conflict)."""
    raw = form.get("version", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        abort(400)
    return int(raw)


SURVEY_NEEDS_RATING = lazy_gettext("Choose how satisfied you are, from 1 to 5.")


def survey_answer(form: MultiDict[str, str]) -> surveys.Answer:
    """The survey form's answer, checked by the service (`Invalid` when it has problems)."""
    return surveys.parse_answer(_small_number(form.get("csat")), _small_number(form.get("nps")),
                                form.get("comment") or None)


def answer_survey(service: Request, number: str) -> None:
    """The requester's answer from the survey form of their ticket page or follow page,
    and a flash that says how it went."""
    try:
        surveys.answer_as_requester(runtime().db, service, number, survey_answer(request.form))
        flash(_("Thank you for your feedback!"))
    except Invalid:
        flash(str(SURVEY_NEEDS_RATING), "error")
    except ServiceError as error:
        flash_error(error)


def _small_number(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 4 else None


def upload_limit(spec: Field) -> int:
    """The largest file a field takes: its own `max_size`, at most the server's limit."""
    limit = runtime().settings.max_upload_bytes
    own = spec.attachment.max_size if spec.attachment is not None else None
    return min(own, limit) if own else limit


def size_text(size: int) -> str:
    """A file size for people (1.5 MB, 320 KB)."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".0 ", " ")
    if size >= 1024:
        return f"{size // 1024} KB"
    return f"{size} B"


def shown_value(spec: Field, value: Any, lang: str) -> str:
    """A stored value as text for reading (labels of options, yes/no, local times)."""
    if value is None or value == "" or value == []:
        return ""
    kind = spec.type
    if kind is FieldType.CHOICE:
        return _option_label(spec, value, lang)
    if kind is FieldType.MULTI_CHOICE and isinstance(value, list):
        return ", ".join(_option_label(spec, item, lang) for item in value)
    if kind is FieldType.BOOLEAN:
        return _("Yes") if value else _("No")
    if kind is FieldType.DATETIME and isinstance(value, str):
        try:
            return when(datetime.fromisoformat(value.replace("Z", "+00:00")), "short")
        except ValueError:
            return value
    if kind is FieldType.ATTACHMENTS and isinstance(value, list):
        return ", ".join(str(item.get("name", "")) for item in value if isinstance(item, dict))
    if kind is FieldType.TABLE and isinstance(value, list):
        return _("%(count)d rows", count=len(value))
    if kind is FieldType.NUMBER and isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(spec, value)
    return str(value)


def number_text(spec: Field, value: float) -> str:
    """A number as pages show it: with the field's `decimals` when it has them (12.50),
    else without a trailing .0 (25, not 25.0)."""
    if spec.decimals is not None:
        return f"{value:.{spec.decimals}f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _option_label(spec: Field, value: Any, lang: str) -> str:
    options = spec.options
    if spec.dependent_options is not None:
        options = tuple(o for group in spec.dependent_options.values() for o in group)
    for option in options:
        if option.value == value:
            return option.label.text(lang)
    return str(value)


@dataclass(frozen=True)
class Labels:
    """A ticket type's names in one language, for the timeline and lists."""

    states: dict[str, str]
    transitions: dict[str, str]
    fields: dict[str, Field]


def labels_for(ticket_type: Any, lang: str) -> Labels:
    return Labels({s.id: s.label.text(lang) for s in ticket_type.states},
                  {t.id: t.label.text(lang) for t in ticket_type.transitions},
                  dict(ticket_type.field_by_id))


def _per_request(name: str, load: Callable[[], dict[str, str]]) -> dict[str, str]:
    """A lookup table loaded once per request (kept on `g`)."""
    table = g.get(name)
    if table is None:
        table = load()
        setattr(g, name, table)
    return table


def person(username: str | None) -> str:
    """A user name as pages show it: the user's display name (looked up once per
    request), and "the customer" for a portal guest's generated name."""
    from runtime.services import directory
    from runtime.services.portal import GUEST_PREFIX

    if not username:
        return ""
    if username.startswith(GUEST_PREFIX):
        return _("the customer")
    # Staff first: they are most of the names a page shows.
    names = _per_request("_display_names", lambda: directory.display_names(runtime().db))
    if username not in names:
        names.update(directory.display_names(runtime().db, [username]))
        names.setdefault(username, username)  # gone: asked once
    return names[username]


def team_name(key: str | None) -> str:
    """A team key as pages show it: the team's name (looked up once per request)."""
    from runtime.services import directory

    if not key:
        return ""
    return _per_request("_team_names", lambda: directory.team_names(runtime().db)).get(key, key)


def init_app(app: Flask) -> None:
    """Helpers every page template may call."""
    from engine.formschema import default_widget
    from runtime.web.forminput import display

    app.jinja_env.filters["person"] = person
    app.jinja_env.filters["team"] = team_name
    app.jinja_env.globals.update(
        when=when, default_widget=default_widget, upload_limit=upload_limit,
        size_text=size_text, input_value=display, labels_for=labels_for,
        shown_value=lambda spec, value, zone, lang: shown_value(spec, value, lang))

