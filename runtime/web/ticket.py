"""The ticket page: values, timeline, SLA clocks, the step form of every transition the
user may fire (live: the engine decides what shows and what is required as they type),
comments with @mentions, attachments, claim, transfer, reassign and reopen.

Views parse the post, call one service, and render; a refusal is shown next to the form
that caused it with everything the user typed kept, and a stale page (the ticket moved on
while it was open) shows the conflict together with the ticket's fresh state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from engine.model import FieldType
from runtime import policy
from runtime.services import attachments, directory, forms, surveys, tickets
from runtime.services.errors import Conflict, Invalid, NotFound, ServiceError
from runtime.services.forms import FormPreview
from runtime.web import forminput
from runtime.web.common import (
    answer_survey,
    error_text,
    flash_error,
    store_uploads,
    ui_request,
    version_from,
    zone,
)
from runtime.web.context import runtime

bp = Blueprint("ticket", __name__)
EDIT = "_edit"  # the "transition" name of the state's own edit form
PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass
class Page:
    """Everything the ticket page shows, gathered from the services."""

    ticket: tickets.TicketView
    timeline: list[tickets.TimelineEntry]
    forms: list[FormPreview]
    edit_form: FormPreview | None
    can_claim: bool
    can_transfer: bool
    can_supervise: bool
    is_staff: bool
    survey_waiting: bool
    takes_comments: bool  # public ones; False on a closed ticket
    takes_notes: bool  # internal ones (staff, closed or not)
    files: list[dict[str, Any]]
    ticket_type: Any = None
    staff: list[Any] = field(default_factory=list)
    teams: list[Any] = field(default_factory=list)
    open_form: str | None = None
    conflict: str | None = None
    refused: dict[str, str] = field(default_factory=dict)
    sla: Any = None  # the SLA clocks (staff only; the view leaves them empty otherwise)


def _files(ticket: tickets.TicketView, timeline: list[tickets.TimelineEntry]
           ) -> list[dict[str, Any]]:
    """Every file of the ticket the user may see: in fields and attached to the timeline."""
    seen: dict[str, dict[str, Any]] = {}
    for value in ticket.values.values():
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    seen.setdefault(item["id"], item)
    for entry in timeline:
        item = entry.data.get("file")
        if entry.kind == "attached" and isinstance(item, dict) and item.get("id"):
            seen.setdefault(item["id"], item)
    return [{**item, "image": item.get("content_type") in PREVIEW_TYPES}
            for item in seen.values()]


def gather(number: str, *, open_form: str | None = None,
           typed: dict[str, FormPreview] | None = None) -> Page:
    """The page's data; `typed` replaces the empty preview of a form with one for what
    the user typed (after a refused submission)."""
    service = ui_request()
    db = runtime().db
    view = tickets.get(db, service, number)
    timeline = tickets.timeline(db, service, number)
    roles = frozenset(view.roles)
    closed = view.closed_at is not None
    typed = typed or {}
    previews = [typed.get(t["id"]) or forms.step(db, service, number, t["id"], {})
                for t in view.transitions]
    edit = typed.get(EDIT) or forms.step(db, service, number, None, {})
    actor = service.actor
    page = Page(
        ticket=view, timeline=timeline, forms=previews,
        edit_form=edit if edit.fields else None,
        can_claim=view.assignee is None and not closed and policy.can_claim(actor, roles),
        can_transfer=policy.can_transfer(actor, roles) and not closed,
        can_supervise=policy.can_supervise(actor), is_staff=actor.is_staff,
        survey_waiting=surveys.waiting(db, service, number),
        takes_comments=policy.takes_additions(closed, roles, internal=False),
        takes_notes=policy.takes_additions(closed, roles, internal=True),
        files=_files(view, timeline), open_form=open_form,
        sla=view.sla, ticket_type=edit.ticket_type,
    )
    if page.can_transfer:
        page.staff = directory.list_users(db, service)
        page.teams = directory.list_teams(db, service)
    return page


def render_page(page: Page, status: int = 200) -> tuple[str, int]:
    return render_template("ticket.html", page=page, ticket=page.ticket, zone=zone(),
                           EDIT=EDIT), status


@bp.get("/t/<number>")
@login_required
def show(number: str) -> tuple[str, int]:
    """The ticket page."""
    return render_page(gather(number))


@bp.post("/t/<number>/survey")
@login_required
def survey(number: str) -> Response:
    """The requester rates the service of their closed ticket."""
    answer_survey(ui_request(), number)
    return redirect(url_for("ticket.show", number=number))


def _form_fields(number: str, transition: str | None) -> tuple:
    # The fields a form may post: those of the empty form (the engine's list for this
    # state, transition and role), whatever is visible right now.
    return forms.step(runtime().db, ui_request(), number, transition, {}).fields


def _posted_values(number: str, transition: str | None, form: MultiDict[str, str]
                   ) -> dict[str, Any]:
    specs = [state.field for state in _form_fields(number, transition)]
    values = forminput.parse(specs, form, zone())
    _add_row(specs, form, values)
    return values


def _add_row(specs: list[Any], form: MultiDict[str, str], values: dict[str, Any]) -> None:
    """The "add a row" button of a table: an empty row to fill in (not a value yet)."""
    wanted = form.get("add_row")
    for spec in specs:
        if spec.type is FieldType.TABLE and spec.id == wanted:
            values.setdefault(spec.id, None)
            values[spec.id] = [*(values[spec.id] or []), {}]


def _transition_name(transition: str) -> str | None:
    return None if transition == EDIT else transition


@bp.post("/t/<number>/form/<transition>")
@login_required
def live_form(number: str, transition: str) -> str:
    """The step form re-rendered for what has been typed so far (htmx, as the user types)."""
    name = _transition_name(transition)
    values = _posted_values(number, name, request.form)
    preview = forms.step(runtime().db, ui_request(), number, name, values)
    return render_template("_form_fields.html", preview=preview, prefix=transition,
                           live=True, zone=zone(), refused={},
                           action=url_for("ticket.live_form", number=number,
                                          transition=transition))


@bp.post("/t/<number>/fire/<transition>")
@login_required
def fire(number: str, transition: str) -> Response | tuple[str, int]:
    """Fire a transition (or save the state's edit form) with the posted step form."""
    service = ui_request()
    name = _transition_name(transition)
    specs = [state.field for state in _form_fields(number, name)]
    form, refused = store_uploads(service, specs, request.form)
    values = forminput.parse(specs, form, zone())
    version = version_from(form)
    db = runtime().db
    try:
        if refused:
            raise Invalid("a file was refused", code="file-refused")
        if name is None:
            tickets.update_fields(db, service, number, values, expected_version=version)
            flash(_("Your changes were saved."))
        else:
            view = tickets.fire(db, service, number, name, values, expected_version=version)
            flash(_("Done: the ticket is now %(state)s.", state=view.state_label))
    except Invalid as error:
        preview = forms.step(db, service, number, name, values)
        page = gather(number, open_form=transition, typed={transition: preview})
        page.refused = refused
        if error.code != "file-refused":
            flash(_("Nothing was saved: please correct the marked fields."), "error")
        else:
            flash(_("Nothing was saved: a file was refused."), "error")
        return render_page(page, 422)
    except Conflict as error:
        return _conflict(number, error)
    return redirect(url_for("ticket.show", number=number))


def _conflict(number: str, error: ServiceError) -> Response | tuple[str, int]:
    """A refusal because the ticket moved on: the message and the fresh ticket."""
    if error.code in ("stale", "not-from-this-state", "condition-not-met"):
        page = gather(number)
        page.conflict = error_text(error)
        return render_page(page, 409)
    flash_error(error)
    return redirect(url_for("ticket.show", number=number))


@bp.post("/t/<number>/comment")
@login_required
def comment(number: str) -> Response:
    """Add a comment (staff may make it internal); @mentions give a to-do."""
    body = request.form.get("body", "")
    service = ui_request()
    try:
        entry = tickets.comment(runtime().db, service, number, body,
                                internal=request.form.get("internal") == "on")
        flash(_("Your comment was added."))
        missed = tickets.unreached_mentions(service, body, entry)
        if missed:  # rather than let the writer think they were told
            flash(_("Not told, as they cannot read this comment or have no account: "
                    "%(names)s", names=", ".join(f"@{name}" for name in missed)), "error")
    except Invalid:
        flash(_("A comment needs text (at most 10,000 characters)."), "error")
    except ServiceError as error:
        flash_error(error)
    return redirect(url_for("ticket.show", number=number) + "#timeline")


@bp.post("/t/<number>/claim")
@login_required
def claim(number: str) -> Response | tuple[str, int]:
    """Take the ticket (first claim wins)."""
    try:
        tickets.claim(runtime().db, ui_request(), number,
                      expected_version=version_from(request.form))
        flash(_("You have taken %(number)s.", number=number))
    except Conflict as error:
        return _conflict(number, error)
    except ServiceError as error:
        flash_error(error)
    target = request.form.get("back")
    if target == "pool":
        return redirect(url_for("workspace.queue", tab="pool"))
    return redirect(url_for("ticket.show", number=number))


@bp.post("/t/<number>/transfer")
@login_required
def transfer(number: str) -> Response | tuple[str, int]:
    """Pass the ticket on (the assignee) or reassign it (a supervisor), with a reason."""
    form = request.form
    try:
        tickets.transfer(runtime().db, ui_request(), number, reason=form.get("reason", ""),
                         to_user=form.get("to_user") or None, to_team=form.get("to_team") or None,
                         expected_version=version_from(form))
        try:
            tickets.get(runtime().db, ui_request(), number)
        except NotFound:  # passed to a team of others: its page is theirs now
            flash(_("%(number)s was passed on to a team you are not in, so it has left "
                    "your lists.", number=number))
            return redirect(url_for("workspace.queue", tab="mine"))
        flash(_("The ticket was passed on."))
    except Invalid as error:
        flash(error_text(error) if error.code != "invalid" else
              _("Say whom to pass it to, and why."), "error")
    except Conflict as error:
        return _conflict(number, error)
    except ServiceError as error:
        flash_error(error)
    return redirect(url_for("ticket.show", number=number))


@bp.post("/t/<number>/attach")
@login_required
def attach(number: str) -> Response:
    """Attach a file to the ticket itself (it joins the timeline)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file first."), "error")
        return redirect(url_for("ticket.show", number=number))
    settings = runtime().settings
    try:
        attachments.attach(runtime().db, ui_request(), settings.attachment_dir, number,
                           upload.read(settings.max_upload_bytes + 1), upload.filename,
                           max_size=settings.max_upload_bytes)
        flash(_("The file was attached."))
    except ServiceError as error:
        flash_error(error)
    return redirect(url_for("ticket.show", number=number) + "#files")


@bp.post("/t/<number>/link")
@login_required
def follow_link(number: str) -> tuple[str, int]:
    """A new secret follow link for the customer (staff, e.g. for a caller)."""
    from runtime.services import portal

    token = portal.issue_link(runtime().db, ui_request(), number)
    page = gather(number)
    flash(_("A new follow link was made; give it to the customer."))
    return render_template("ticket.html", page=page, ticket=page.ticket, zone=zone(),
                           EDIT=EDIT, follow_url=url_for("portal.follow", number=number,
                                                         token=token, _external=True)), 200


# --- files ---------------------------------------------------------------------------


@bp.post("/uploads")
@login_required
def upload() -> tuple[Response, int]:
    """A file chosen in a form, stored at once (the page shows its progress); the form
    then sends only its id. Errors are JSON the page shows next to the field."""
    return upload_as(ui_request())


def upload_as(service: Any) -> tuple[Response, int]:
    """Store the posted file for `service`'s actor; JSON for the page's script."""
    settings = runtime().settings
    chosen = request.files.get("file")
    if chosen is None or not chosen.filename:
        return jsonify({"error": {"code": "required", "message": _("Choose a file first."),
                                  "details": []}}), 422
    try:
        info = attachments.upload(runtime().db, service, settings.attachment_dir,
                                  chosen.read(settings.max_upload_bytes + 1), chosen.filename,
                                  max_size=settings.max_upload_bytes)
    except ServiceError as error:
        return jsonify({"error": {"code": error.code, "message": error_text(error),
                                  "details": []}}), error.status
    return jsonify({"file": info.descriptor()}), 201


def _open(public_id: str) -> tuple[Any, attachments.FileInfo]:
    """The file, if the logged-in user may see it — or, without a login, the requester of
    one of the tickets whose follow link this browser opened (the portal remembers them)."""
    from runtime.web.portal import portal_requests_for_files

    settings = runtime().settings
    readers = portal_requests_for_files()
    for reader in readers if readers is not None else [ui_request()]:
        try:
            path, info = attachments.open_file(runtime().db, reader, settings.attachment_dir,
                                               public_id)
        except NotFound:
            continue
        if not path.is_file():
            raise NotFound("the file's content is no longer stored")
        return path, info
    raise NotFound("there is no such file")


@bp.get("/files/<public_id>")
def download(public_id: str) -> Response:
    """A file as a download, under its original name, with its sniffed type."""
    from flask import send_file

    path, info = _open(public_id)
    response = send_file(path, mimetype=info.content_type, as_attachment=True,
                         download_name=info.name, conditional=False, etag=False, max_age=None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/files/<public_id>/preview")
def preview(public_id: str) -> Response:
    """An image shown inline (PNG, JPEG, GIF, WebP only: types sniffed from the content on
    upload, none of which can run script); everything else is a 404 here."""
    from flask import send_file

    path, info = _open(public_id)
    if info.content_type not in PREVIEW_TYPES:
        abort(404)
    response = send_file(path, mimetype=info.content_type, as_attachment=False,
                         conditional=False, etag=False, max_age=None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/people")
@login_required
def people() -> Response:
    """Colleagues whose user name or name starts with `q` (the @mention completion); with
    `ticket`, only those who may see that ticket, whom a mention there can reach."""
    service = ui_request()
    if not policy.can_list_users(service.actor):
        return jsonify({"items": []})
    prefix = request.args.get("q", "")[:50].lower()
    number = request.args.get("ticket")
    if number:
        return jsonify({"items": [
            {"username": username, "name": name} for username, name in
            tickets.mention_candidates(runtime().db, service, number, prefix)]})
    found = [{"username": user.username, "name": user.display_name}
             for user in directory.list_users(runtime().db, service)
             if user.username.lower().startswith(prefix)
             or user.display_name.lower().startswith(prefix)]
    return jsonify({"items": found[:8]})
