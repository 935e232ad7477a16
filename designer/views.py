"""The designer's pages (see the package's docstring). Administrators only: anyone else
gets the 404 of a page that is not there, as with the administration pages."""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from engine.canonical import with_list_item
from engine.errors import DefinitionError
from engine.model import FieldType, SlaMode
from engine.schema import META_SCHEMA_PATH
from runtime import policy
from runtime.services import definitions, forms, templates
from runtime.services.definitions import DraftCheck
from runtime.services.errors import Conflict, Invalid, NotFound, ServiceError
from runtime.web import forminput
from runtime.web.common import flash_error, is_htmx, zone
from runtime.web.context import runtime, service_request

bp = Blueprint("designer", __name__, url_prefix="/design", template_folder="templates")

FORMATS = ("yaml", "json")
MAX_SOURCE = 512 * 1024  # characters: far above any real definition (the engine refuses more)
# The preview form's own inputs: a dot keeps them apart from any field id.
SOURCE, FORMAT = "designer.source", "designer.format"
# The field types "Add a field" offers, in the order shown (tables and user pickers are
# written in the text).
FIELD_TYPES = {str(kind): label for kind, label in (
    (FieldType.STRING, lazy_gettext("Short text")), (FieldType.TEXT, lazy_gettext("Long text")),
    (FieldType.NUMBER, lazy_gettext("Number")), (FieldType.DATE, lazy_gettext("Date")),
    (FieldType.DATETIME, lazy_gettext("Date and time")),
    (FieldType.CHOICE, lazy_gettext("One choice")),
    (FieldType.MULTI_CHOICE, lazy_gettext("Several choices")),
    (FieldType.BOOLEAN, lazy_gettext("Yes or no")),
    (FieldType.EMAIL, lazy_gettext("E-mail address")),
    (FieldType.PHONE, lazy_gettext("Phone number")),
    (FieldType.ATTACHMENTS, lazy_gettext("Files")),
)}
CHOICES = (str(FieldType.CHOICE), str(FieldType.MULTI_CHOICE))
SLA_MODES = {str(SlaMode.RUN): lazy_gettext("SLA clocks run"),
             str(SlaMode.PAUSE): lazy_gettext("SLA clocks pause (waiting on the customer)"),
             str(SlaMode.STOP): lazy_gettext("SLA clocks stop (resolved)")}
INSTALLED = {
    "installed": lazy_gettext("Template %(name)s is installed as version %(version)s."),
    "upgraded": lazy_gettext("Template %(name)s is upgraded to version %(version)s."),
    "unchanged": lazy_gettext("Template %(name)s was installed already: version %(version)s."),
}


@bp.before_request
@login_required
def _administrators_only() -> None:
    if current_user.via_token or not policy.can_manage_definitions(current_user.actor):
        abort(404)


@bp.get("/definition.schema.json")
def schema() -> Response:
    """The definitions' JSON Schema, for editors that check YAML as it is typed."""
    return send_file(META_SCHEMA_PATH, mimetype="application/schema+json")


# --- the list ------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    """The ticket types, the bundled templates, and a new ticket type."""
    return _index({"key": "", "name": "", "prefix": ""})[0]


def _index(entered: dict[str, str], error: str | None = None,
           status: int = 200) -> tuple[str, int]:
    db, service = runtime().db, service_request()
    return render_template("designer/index.html",
                           types=definitions.list_definitions(db, service),
                           templates=templates.list_templates(db, service),
                           form=entered, error=error), status


@bp.post("/new")
def new() -> Response | tuple[str, int]:
    """Start a ticket type from the smallest useful definition, as a draft."""
    entered = {name: request.form.get(name, "").strip()[:200] for name in ("key", "name",
                                                                          "prefix")}
    try:
        definitions.start(runtime().db, service_request(), entered["key"], entered["name"],
                          entered["prefix"])
    except Conflict:
        return _index(entered, _("The ticket type %(key)s exists.", key=entered["key"]), 409)
    except Invalid as problem:
        said = [str(item.get("message", "")) for item in problem.details] or [problem.message]
        return _index(entered, "; ".join(said), 422)
    flash(_("Ticket type %(key)s was started as a draft.", key=entered["key"]))
    return redirect(url_for("designer.edit", key=entered["key"]))


@bp.post("/templates/<name>/install")
def install(name: str) -> Response:
    """Install a bundled template, or upgrade it to the bundled version."""
    try:
        outcome = templates.install(runtime().db, service_request(), name,
                                    upgrade=request.form.get("upgrade") == "1")
    except ServiceError as error:
        flash_error(error)
    else:
        said = INSTALLED.get(outcome.action, INSTALLED["unchanged"])
        flash(str(said) % {"name": name, "version": outcome.version})
    return redirect(url_for("designer.index"))


@bp.post("/templates/<name>/clone")
def clone(name: str) -> Response:
    """Publish an editable copy of a template under a key of one's own, and open it."""
    key = request.form.get("key", "").strip()[:64]
    prefix = request.form.get("prefix", "").strip()[:16] or None
    try:
        templates.clone(runtime().db, service_request(), name, key, prefix=prefix)
    except ServiceError as error:
        flash_error(error)
        return redirect(url_for("designer.index"))
    flash(_("Template %(name)s was copied as %(key)s.", name=name, key=key))
    return redirect(url_for("designer.edit", key=key))


# --- one ticket type -----------------------------------------------------------------


@bp.get("/<key>")
def edit(key: str) -> tuple[str, int]:
    """The definition of `key` to edit: its draft, or its published text ready to become
    the next version; checked as it stands."""
    db, service = runtime().db, service_request()
    wanted = request.args.get("from", "")
    try:
        opened = definitions.editable_source(
            db, service, key, int(wanted) if wanted.isdigit() and len(wanted) < 10 else None)
    except NotFound:
        abort(404)
    check = definitions.check_draft(db, service, key, opened.source, opened.source_format)
    return _editor(key, opened.source, opened.source_format, opened.origin, check,
                   based_on=opened.based_on)


@bp.post("/<key>")
def act(key: str) -> Response | tuple[str, int]:
    """Check, save as the draft, or publish the text in the editor. Whatever happens,
    the text comes back as it was typed."""
    db, service = runtime().db, service_request()
    source, source_format = _typed(request.form.get("source"), request.form.get("format"))
    action = request.form.get("action", "check")
    if action == "save":
        origin = "typed"
        try:
            definitions.save_draft(db, service, source, source_format, key=key)
        except Invalid:
            pass  # the check below lists why it cannot be filed; the text stays
        else:
            origin = "draft"
            flash(_("The draft is saved."))
        return _checked(key, source, source_format, origin)
    if action == "publish":
        return _publish(key, source, source_format)
    if action in ADDING:
        list_key, describe = ADDING[action]
        item, error = describe()
        return _add(key, source, source_format, list_key, item, error, action)
    check = definitions.check_draft(db, service, key, source, source_format)
    if is_htmx():
        return _check_fragment(key, source, source_format, check), 200
    return _editor(key, source, source_format, "typed", check)


def _add(key: str, source: str, source_format: str, list_key: str,
         item: dict[str, object] | None, error: str | None, action: str) -> tuple[str, int]:
    # The item joins the end of its list as one line; the engine then checks the whole
    # text as it checks anything typed (a duplicate id, an unknown state...).
    if item is not None:
        try:
            source = with_list_item(source, list_key, item, f"definition.{source_format}")
            source_format = "yaml"  # a JSON text comes back as YAML
        except DefinitionError:
            error = _("The definition cannot be read: fix its problems first.")
    return _editor(key, source, source_format, "typed", _check(key, source, source_format),
                   status=422 if error else 200,
                   adding=action if error else None, adding_error=error)


def _named(prefix: str) -> tuple[str, dict[str, str], str | None]:
    """The id and label a "add" form gives (`prefix_label`, `prefix_label_zh`,
    `prefix_id`), or what is missing."""
    form = request.form
    label = form.get(f"{prefix}_label", "").strip()[:200]
    label_zh = form.get(f"{prefix}_label_zh", "").strip()[:200]
    item_id = form.get(f"{prefix}_id", "").strip()[:64] or _identifier(label)
    texts = {"en": label or label_zh, **({"zh": label_zh} if label_zh else {})}
    if not (label or label_zh):
        return "", texts, _("Give it a label.")
    if not item_id:
        return "", texts, _("Give it an id: lower-case letters, digits and '_'.")
    return item_id, texts, None


def _new_state() -> tuple[dict[str, object] | None, str | None]:
    """The step "Add a step" describes, as a definition writes it; or what is missing."""
    state_id, label, error = _named("state")
    if error:
        return None, error
    item: dict[str, object] = {"id": state_id, "label": label}
    if request.form.get("state_final") == "1":
        item["final"] = True
    mode = request.form.get("state_sla", str(SlaMode.RUN))
    if mode not in SLA_MODES:
        abort(400)
    if mode != SlaMode.RUN and "final" not in item:
        item["sla"] = mode
    return item, None


def _new_transition() -> tuple[dict[str, object] | None, str | None]:
    """The way from step to step "Add a way on" describes; or what is missing."""
    transition_id, label, error = _named("transition")
    if error:
        return None, error
    sources = [state[:64] for state in request.form.getlist("transition_from")][:100]
    target = request.form.get("transition_to", "")[:64]
    if not sources or not target:
        return None, _("Say which steps it leaves from and where it leads.")
    item: dict[str, object] = {"id": transition_id, "label": label,
                               "from": sources[0] if len(sources) == 1 else sources,
                               "to": target}
    roles = [role[:64] for role in request.form.getlist("transition_roles")][:20]
    if roles:
        item["roles"] = roles
    return item, None


def _new_field() -> tuple[dict[str, object] | None, str | None]:
    """The field "Add a field" describes, as a definition writes it; or what is missing."""
    form = request.form
    field_id, label, error = _named("field")
    if error:
        return None, error
    field_type = form.get("field_type", str(FieldType.STRING))
    if field_type not in FIELD_TYPES:
        abort(400)  # only a hand-made form sends another type
    item: dict[str, object] = {"id": field_id, "type": field_type, "label": label}
    if form.get("field_required") == "1":
        item["required"] = True
    if field_type in CHOICES:
        lines = [line.strip() for line in form.get("field_options", "").splitlines()]
        labels = [line[:200] for line in lines if line][:100]
        if not labels:
            return None, _("A choice needs its options, one per line.")
        item["options"] = [{"value": _identifier(text) or f"option_{number}",
                            "label": {"en": text}} for number, text in enumerate(labels, 1)]
    return item, None


def _identifier(label: str) -> str:
    """An id made from a label: `Serial number` → `serial_number` (none from a label
    without Latin letters or digits)."""
    words = re.findall(r"[a-z0-9]+", label.lower())
    identifier = "_".join(words)[:63]
    return identifier if identifier[:1].isalpha() else ""


# What each "add" button adds to which list of the definition, described by which form.
ADDING = {"add_field": ("fields", _new_field), "add_state": ("states", _new_state),
          "add_transition": ("transitions", _new_transition)}


@bp.post("/<key>/discard")
def discard(key: str) -> Response:
    """Throw the draft away; the published version stays (a type never published goes)."""
    try:
        remains = definitions.discard_draft(runtime().db, service_request(), key)
    except NotFound:
        abort(404)
    flash(_("The draft of %(key)s is discarded.", key=key))
    return redirect(url_for("designer.edit", key=key) if remains else url_for("designer.index"))


def _publish(key: str, source: str, source_format: str) -> Response | tuple[str, int]:
    try:
        check, info = definitions.publish_source(runtime().db, service_request(), key,
                                                 source, source_format)
    except Conflict as error:  # saved as the draft, but its number prefix is taken
        flash(error.message, "error")
        return _editor(key, source, source_format, "draft", _check(key, source, source_format),
                       status=409)
    if info is None:
        flash(_("Not published: the definition has problems. It is saved as the draft."),
              "error")
        return _editor(key, source, source_format, "draft", check, status=422)
    flash(_("Version %(version)s of %(key)s is published; new tickets use it.",
            version=info.version, key=key))
    return redirect(url_for("designer.edit", key=key))


def _check(key: str, source: str, source_format: str) -> DraftCheck:
    return definitions.check_draft(runtime().db, service_request(), key, source, source_format)


def _checked(key: str, source: str, source_format: str, origin: str) -> tuple[str, int]:
    return _editor(key, source, source_format, origin, _check(key, source, source_format))


@bp.post("/<key>/preview")
def preview(key: str) -> str:
    """The intake form of the text in the editor, re-rendered for the values typed into
    the preview (htmx): conditions, required fields and checks as a customer meets
    them."""
    source, source_format = _typed(request.form.get(SOURCE), request.form.get(FORMAT))
    check = _check(key, source, source_format)
    if check.ticket_type is None:
        return render_template("designer/_no_preview.html")
    empty = forms.sketch(service_request(), check.ticket_type, {})
    values = forminput.parse([state.field for state in empty.fields], request.form, zone())
    sketch = forms.sketch(service_request(), check.ticket_type, values)
    return render_template("_form_fields.html", preview=sketch, prefix="preview", live=True,
                           zone=zone(), refused={},
                           action=url_for("designer.preview", key=key))


def _typed(source: str | None, source_format: str | None) -> tuple[str, str]:
    if source is None or len(source) > MAX_SOURCE or source_format not in FORMATS:
        abort(400)  # only a hand-made form sends these
    # Browsers send text areas with CRLF line ends; the definition keeps LF.
    return source.replace("\r\n", "\n"), str(source_format)


def _editor(key: str, source: str, source_format: str, origin: str, check: DraftCheck,
            status: int = 200, based_on: int | None = None,
            adding: str | None = None, adding_error: str | None = None) -> tuple[str, int]:
    history = definitions.version_history(runtime().db, service_request(), key)
    return render_template("designer/editor.html", key=key, source=source,
                           source_format=source_format, origin=origin, based_on=based_on,
                           check=check, sketch=_sketch(check), zone=zone(), history=history,
                           field_types=FIELD_TYPES, sla_modes=SLA_MODES, adding=adding,
                           choices=(check.steps(service_request().actor.language),
                                    check.roles()),
                           adding_error=adding_error,
                           source_name=SOURCE, format_name=FORMAT), status


def _check_fragment(key: str, source: str, source_format: str, check: DraftCheck) -> str:
    return render_template("designer/_check.html", key=key, source=source,
                           source_format=source_format, check=check, sketch=_sketch(check),
                           zone=zone(), source_name=SOURCE, format_name=FORMAT)


def _sketch(check: DraftCheck) -> forms.FormPreview | None:
    if check.ticket_type is None:
        return None
    return forms.sketch(service_request(), check.ticket_type, {})
