"""The customer portal: choose a ticket type, fill in its form (the same renderer and the
same engine decisions as the workspace), get the ticket number and a secret follow link;
follow the ticket through that link without an account — its progress, the requester's
steps (confirm, reopen...), comments, and the satisfaction survey once it closes.

Anonymous visitors act as their own guest requester (see `runtime.services.portal`);
the browser session remembers the guest until the ticket is sent, and the follow links
it opened (so pictures on the follow page load). A logged-in user gets the same form and
opens the ticket as themselves.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from runtime.context import Request
from runtime.services import forms, portal, requesters, surveys, tickets
from runtime.services.errors import Conflict, Invalid, NotFound, ServiceError
from runtime.web import forminput
from runtime.web.common import (
    SURVEY_NEEDS_RATING,
    answer_survey,
    error_text,
    flash_error,
    store_uploads,
    survey_answer,
    version_from,
    zone,
)
from runtime.web.context import runtime
from runtime.web.i18n import ui_language
from runtime.web.security import SECRET_URL_HEADERS

bp = Blueprint("portal", __name__, url_prefix="/portal")
GUEST_KEY = "portal_guest"
LINKS_KEY = "portal_links"
MAX_REMEMBERED_LINKS = 20


def _logged_in() -> bool:
    return bool(current_user.is_authenticated and not current_user.via_token)


def _creator() -> Request:
    """Who opens the ticket: the logged-in user, else this browser's guest requester."""
    if _logged_in():
        from runtime.web.common import ui_request

        return ui_request()
    service = portal.guest(runtime().db, runtime().clock(), session.get(GUEST_KEY),
                           language=ui_language(), address=request.remote_addr)
    session[GUEST_KEY] = service.actor.user_id
    return service


@bp.get("/")
def types() -> str:
    """The ticket types a customer can open."""
    service = _reader()
    return render_template("portal_types.html",
                           types=forms.creatable_types(runtime().db, service))


def _reader() -> Request:
    """A request for reading public things (ticket types) in the UI's language."""
    from runtime.context import Actor
    from runtime.models import Role

    if _logged_in():
        from runtime.web.common import ui_request

        return ui_request()
    return Request(Actor(0, "", Role.REQUESTER, language=ui_language()), runtime().clock())


def _contact(form: Any) -> requesters.Contact | None:
    """What a guest typed in the contact fields above the form (None when logged in: the
    account says who they are)."""
    if _logged_in():
        return None
    return portal.typed_contact(form.get("portal.name", ""), form.get("portal.email", ""))


def _intake(key: str, service: Request, values: dict[str, Any]) -> forms.FormPreview:
    return forms.intake(runtime().db, service, key, values, contact=_contact(request.form))


def _values(key: str, service: Request, form: Any) -> tuple[dict[str, Any], Any]:
    empty = _intake(key, service, {})
    specs = [state.field for state in empty.fields]
    return forminput.parse(specs, form, zone()), specs


@bp.route("/new/<key>", methods=["GET", "POST"])
def new(key: str) -> Response | tuple[str, int]:
    """The intake form of a ticket type; sending it opens the ticket."""
    if request.method == "GET":
        preview = _intake(key, _reader(), {})
        return _form_page(key, preview, {}, {})
    service = _creator()
    empty = _intake(key, service, {})
    specs = [state.field for state in empty.fields]
    form, refused = store_uploads(service, specs, request.form)
    values = forminput.parse(specs, form, zone())
    # Named apart from the definition's fields (a dot is never in a field id): a ticket
    # type may well have its own `contact_email` field.
    contact = {"contact_name": form.get("portal.name", ""),
               "contact_email": form.get("portal.email", "")}
    try:
        if refused:
            raise Invalid("a file was refused", code="file-refused")
        if _logged_in():
            view = tickets.create(runtime().db, service, key, values)
            flash(_("Ticket %(number)s was opened.", number=view.number))
            return redirect(url_for("ticket.show", number=view.number))
        done = portal.submit(runtime().db, service, key, values,
                             name=contact["contact_name"], email=contact["contact_email"])
    except Invalid as error:
        preview = _intake(key, service, values)
        problems = {d["field"]: d["message"] for d in error.details
                    if d.get("field") in ("contact_name", "contact_email")}
        flash(_("Nothing was sent yet: please correct the marked fields."), "error")
        return _form_page(key, preview, contact, problems, refused, status=422)
    session.pop(GUEST_KEY, None)
    _remember(done.ticket.number, done.token)
    flash(_("Thank you! Your ticket %(number)s was opened.", number=done.ticket.number))
    return render_template("portal_done.html", ticket=done.ticket,
                           follow_url=url_for("portal.follow", number=done.ticket.number,
                                              token=done.token, _external=True)), 201


def _form_page(key: str, preview: forms.FormPreview, contact: dict[str, str],
               problems: dict[str, str], refused: dict[str, str] | None = None,
               status: int = 200) -> tuple[str, int]:
    return render_template("portal_new.html", key=key, preview=preview, contact=contact,
                           contact_problems=problems, refused=refused or {}, zone=zone(),
                           anonymous=not _logged_in()), status


@bp.post("/new/<key>/form")
def live_form(key: str) -> str:
    """The intake form re-rendered for what has been typed so far (htmx)."""
    # Files already chosen belong to this browser's guest: preview as the guest then.
    service = _creator() if _logged_in() or session.get(GUEST_KEY) else _reader()
    values, _specs = _values(key, service, request.form)
    preview = _intake(key, service, values)
    return render_template("_form_fields.html", preview=preview, prefix="intake", live=True,
                           zone=zone(), refused={},
                           action=url_for("portal.live_form", key=key))


@bp.post("/uploads")
def upload() -> Any:
    """A file chosen in the portal's form, stored at once for this browser's guest."""
    from runtime.web.ticket import upload_as

    return upload_as(_creator())


# --- following a ticket --------------------------------------------------------------


def _remember(number: str, token: str) -> None:
    links = dict(session.get(LINKS_KEY) or {})
    links[number] = token
    session[LINKS_KEY] = dict(list(links.items())[-MAX_REMEMBERED_LINKS:])


def _holder(number: str, token: str) -> Request:
    return portal.follow(runtime().db, number, token, now=runtime().clock(),
                         language=ui_language(), address=request.remote_addr)


def portal_requests_for_files() -> list[Request] | None:
    """Without a login: the requesters of the tickets whose follow links this browser
    opened (only their files are reachable). None for a logged-in user."""
    if _logged_in():
        return None
    holders = []
    for number, token in (session.get(LINKS_KEY) or {}).items():
        try:
            holders.append(_holder(number, token))
        except NotFound:
            continue
    return holders


@bp.route("/follow", methods=["GET", "POST"])
def find() -> Response | str:
    """Follow a ticket: paste the link (or its number and secret)."""
    if request.method == "POST":
        number = request.form.get("number", "").strip().upper()
        token = request.form.get("token", "").strip().rsplit("/", 1)[-1]
        if number and token:
            return redirect(url_for("portal.follow", number=number, token=token))
        flash(_("Enter the ticket number and the secret from your link."), "error")
    return render_template("portal_find.html")


@bp.get("/t/<number>/<token>")
def follow(number: str, token: str) -> tuple[str, int]:
    """The customer's view of their ticket."""
    holder = _holder(number, token)
    _remember(number, token)
    return _follow_page(holder, number, token)


def _follow_page(holder: Request, number: str, token: str, *, status: int = 200,
                 typed: forms.FormPreview | None = None, open_form: str | None = None,
                 conflict: str | None = None) -> tuple[str, int]:
    db = runtime().db
    view = tickets.get(db, holder, number)
    previews = [typed if typed is not None and typed.transition is not None
                and typed.transition.id == t["id"] else forms.step(db, holder, number,
                                                                     t["id"], {})
                for t in view.transitions]
    from runtime.web.ticket import _files

    timeline = tickets.timeline(db, holder, number)
    ticket_type = forms.step(db, holder, number, None, {}).ticket_type
    return render_template("portal_follow.html", ticket=view, timeline=timeline,
                           ticket_type=ticket_type,
                           forms=previews, token=token, zone=zone(),
                           files=_files(view, timeline), open_form=open_form,
                           conflict=conflict,
                           survey_waiting=surveys.waiting(db, holder, number)), status


@bp.post("/t/<number>/<token>/fire/<transition>")
def fire(number: str, token: str, transition: str) -> Response | tuple[str, int]:
    """A requester's step (confirm, reopen, reply...) through the follow link."""
    holder = _holder(number, token)
    db = runtime().db
    specs = [state.field for state in forms.step(db, holder, number, transition, {}).fields]
    form, refused = store_uploads(holder, specs, request.form)
    values = forminput.parse(specs, form, zone())
    try:
        if refused:
            raise Invalid("a file was refused", code="file-refused")
        view = tickets.fire(db, holder, number, transition, values,
                            expected_version=version_from(form))
    except Invalid:
        flash(_("Nothing was saved: please correct the marked fields."), "error")
        typed = forms.step(db, holder, number, transition, values)
        return _follow_page(holder, number, token, status=422, typed=typed,
                            open_form=transition)
    except Conflict as error:
        return _follow_page(holder, number, token, status=409, conflict=error_text(error))
    except ServiceError as error:
        flash_error(error)
    else:
        flash(_("Done: the ticket is now %(state)s.", state=view.state_label))
    return redirect(url_for("portal.follow", number=number, token=token))


@bp.post("/t/<number>/<token>/form/<transition>")
def live_step(number: str, token: str, transition: str) -> str:
    """A requester's step form re-rendered for what has been typed so far (htmx)."""
    holder = _holder(number, token)
    db = runtime().db
    specs = [state.field for state in forms.step(db, holder, number, transition, {}).fields]
    values = forminput.parse(specs, request.form, zone())
    preview = forms.step(db, holder, number, transition, values)
    return render_template("_form_fields.html", preview=preview, prefix=transition, live=True,
                           zone=zone(), refused={},
                           action=url_for("portal.live_step", number=number, token=token,
                                          transition=transition))


@bp.post("/t/<number>/<token>/comment")
def comment(number: str, token: str) -> Response:
    """A customer's reply on their ticket."""
    holder = _holder(number, token)
    try:
        tickets.comment(runtime().db, holder, number, request.form.get("body", ""))
        flash(_("Your message was added."))
    except Invalid:
        flash(_("A message needs text (at most 10,000 characters)."), "error")
    except Conflict as error:  # closed meanwhile (a page opened before)
        flash_error(error)
    return redirect(url_for("portal.follow", number=number, token=token) + "#timeline")


@bp.post("/t/<number>/<token>/survey")
def survey(number: str, token: str) -> Response | tuple[str, int]:
    """The satisfaction survey, answered once the ticket is closed."""
    answer_survey(_holder(number, token), number)
    return redirect(url_for("portal.follow", number=number, token=token))


@bp.route("/survey/<token>", methods=["GET", "POST"])
def survey_link(token: str) -> tuple[str, int, dict[str, str]]:
    """The one-time link of the closing e-mail: the survey, answered without an account.
    Only a POST answers: mail scanners open links, and must not answer for anyone."""
    db = runtime().db
    try:
        invitation = surveys.invitation(db, token)
        if request.method == "POST":
            surveys.answer_by_link(db, token, survey_answer(request.form),
                                   now=runtime().clock(), address=request.remote_addr)
            return _survey_page(invitation, answered=True)
    except Invalid:
        return _survey_page(invitation, status=422, error=str(SURVEY_NEEDS_RATING))
    except ServiceError as error:  # an unknown link, or one already answered
        return _survey_page(None, status=error.status, error=error_text(error))
    return _survey_page(invitation)


def _survey_page(invitation: surveys.Invitation | None, *, status: int = 200,
                 answered: bool = False, error: str | None = None
                 ) -> tuple[str, int, dict[str, str]]:
    page = render_template("survey.html", invitation=invitation, answered=answered,
                           error=error)
    return page, status, SECRET_URL_HEADERS


