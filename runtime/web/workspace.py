"""The agent workspace: queues (mine, my teams', the claim pool, everything I may see),
to-dos, the kanban board, and the supervisor's view (breaches, agents' load, bulk
reassign). Lists filter, search, sort and page with a keyset cursor; htmx swaps just the
list when a filter changes, and the same URLs render whole pages without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from runtime import policy
from runtime.context import instant_or_day
from runtime.services import (
    definitions,
    directory,
    exports,
    periods,
    satisfaction,
    service_levels,
    sla,
    tickets,
    workspace,
)
from runtime.services.errors import Conflict, Invalid, ServiceError
from runtime.web.common import (
    error_text,
    flash_error,
    is_htmx,
    ui_request,
    version_from,
    zone,
)
from runtime.web.context import export_download, runtime

bp = Blueprint("workspace", __name__)
PAGE_SIZE = 25
PERIOD_DAYS = (7, 30, 90)  # the periods the supervisor's reports offer; 30 by default


@dataclass(frozen=True)
class Tab:
    key: str
    label: Any
    empty: Any  # what to do next when the list is empty
    filters: dict[str, Any]


TABS = (
    Tab("mine", lazy_gettext("My queue"),
        lazy_gettext("Nothing is assigned to you. Take a ticket from the claim pool."),
        {"assignee": "me", "open": True}),
    Tab("team", lazy_gettext("My teams"),
        lazy_gettext("Your teams have no open tickets. Enjoy the calm, or check the board."),
        {"team": "mine", "open": True}),
    Tab("pool", lazy_gettext("Claim pool"),
        lazy_gettext("No ticket is waiting to be claimed. New tickets appear here."),
        {"assignee": "none", "open": True}),
    Tab("all", lazy_gettext("All I can see"),
        lazy_gettext("No ticket matches. Clear the filters to see more."), {}),
)
TAB_BY_KEY = {tab.key: tab for tab in TABS}
ORDERS = (("newest", lazy_gettext("Newest first")), ("oldest", lazy_gettext("Oldest first")),
          ("updated", lazy_gettext("Recently changed")))


def _staff_only() -> None:
    if not policy.can_use_workspace(current_user.actor):
        abort(404)


def _filters(tab: Tab) -> tickets.Filters:
    """The tab's own filters, narrowed by what the user chose (never widened)."""
    args = request.args
    chosen: dict[str, Any] = dict(tab.filters)
    for name, key in (("ticket_type", "type"), ("state", "state"), ("text", "q")):
        value = args.get(key, "").strip()[:200]
        if value:
            chosen[name] = value
    if tab.key == "all" and args.get("open") in ("1", "0"):
        chosen["open"] = args["open"] == "1"
    # Dates on the installation's clock; "to" includes its whole day.
    if (start := _day(args.get("from"))) is not None:
        chosen["created_from"] = start
    if (end := _day(args.get("to"))) is not None:
        chosen["created_before"] = end + timedelta(days=1)
    return tickets.Filters(**chosen)


def _day(raw: str | None) -> datetime | None:
    """The midnight starting a YYYY-MM-DD day (None for anything else: a filter that
    cannot be read is left out, as a browser without date inputs may send text)."""
    text = (raw or "").strip()
    try:
        return instant_or_day(text, zone()) if len(text) == 10 else None
    except ValueError:
        return None


def _order() -> tickets.Order:
    try:
        return tickets.Order(request.args.get("sort", "newest"))
    except ValueError:
        return tickets.Order.NEWEST


@bp.get("/work")
@bp.get("/work/<tab>")
@login_required
def queue(tab: str = "mine") -> str:
    """A queue; htmx asks for just the list when filters change or more is loaded."""
    _staff_only()
    chosen = TAB_BY_KEY.get(tab)
    if chosen is None:
        abort(404)
    service = ui_request()
    try:
        page = tickets.list_tickets(runtime().db, service, _filters(chosen),
                                    cursor=request.args.get("cursor") or None,
                                    limit=PAGE_SIZE, order=_order())
    except ServiceError as error:  # a stale or tampered cursor: start again
        flash_error(error)
        page = tickets.Page([], None)
    context = {"tab": chosen, "tabs": TABS, "page": page, "orders": ORDERS,
               "args": request.args, "types": _types(service),
               "next_url": _next_url(page.next_cursor),
               "export_url": _export_url(chosen) if policy.can_export_tickets(
                   service.actor) else None}
    if is_htmx() and request.headers.get("HX-Target") == "queue-list":
        return render_template("_queue_list.html", **context)
    return render_template("workspace.html", **context)


@bp.get("/work/<tab>/export.csv")
@login_required
def export(tab: str) -> Response:
    """The list as it is filtered, every page of it, as a CSV file (supervisors and
    administrators)."""
    _staff_only()
    chosen = TAB_BY_KEY.get(tab)
    service = ui_request()
    if chosen is None or not policy.can_export_tickets(service.actor):
        abort(404)
    return export_download(exports.export_tickets(
        runtime().db, service, _filters(chosen), exports.ExportFormat.CSV, zone=zone()))


def _types(service: Any) -> list[dict[str, Any]]:
    return [entry for entry in definitions.list_definitions(runtime().db, service)
            if "version" in entry]


def _export_url(tab: Tab) -> str:
    """The export of what the list shows now (its filters, not its page or order)."""
    args = {key: value for key, value in request.args.items()
            if key not in ("cursor", "sort") and value}
    return url_for("workspace.export", tab=tab.key, **args)


def _next_url(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    args = request.args.to_dict()
    args["cursor"] = cursor
    return url_for(request.endpoint or "workspace.queue", **(request.view_args or {}), **args)


@bp.get("/work/todos")
@login_required
def todos() -> str:
    """Open to-dos: mentions and other things to look at."""
    return render_template("todos.html",
                           todos=workspace.open_todos(runtime().db, ui_request()))


@bp.post("/work/todos/<int:todo_id>/done")
@login_required
def todo_done(todo_id: int) -> Response:
    try:
        workspace.finish_todo(runtime().db, ui_request(), todo_id)
        flash(_("Marked as done."))
    except ServiceError as error:
        flash_error(error)
    return redirect(url_for("workspace.todos"))


# --- the kanban board ------------------------------------------------------------------


@bp.get("/work/board")
@login_required
def board() -> str:
    """Open tickets of one type by state; dragging a card fires the step leading there."""
    _staff_only()
    service = ui_request()
    types = _types(service)
    if not types:
        return render_template("board.html", board=None, types=types, args=request.args)
    recent = None if request.args.get("type") else workspace.recent_type(runtime().db, service)
    key = request.args.get("type") or (
        recent if recent in {entry["key"] for entry in types} else types[0]["key"])
    mine = request.args.get("mine") == "1"
    filters = tickets.Filters(assignee="me" if mine else None, open=True,
                              text=request.args.get("q", "").strip()[:200] or None)
    data = workspace.board(runtime().db, service, key, filters)
    template = "_board.html" if is_htmx() else "board.html"
    return render_template(template, board=data, types=types, args=request.args)


@bp.post("/work/board/move")
@login_required
def move() -> Response | str:
    """A card dropped on a column (or moved with the keyboard menu)."""
    _staff_only()
    number = request.form.get("number", "")
    to_state = request.form.get("to_state", "")
    try:
        view = workspace.move(runtime().db, ui_request(), number, to_state,
                              expected_version=version_from(request.form))
        flash(_("%(number)s is now %(state)s.", number=number, state=view.state_label))
    except (Conflict, Invalid) as error:
        flash(_("%(number)s was not moved: %(reason)s", number=number,
                reason=error_text(error)), "error")
    except ServiceError as error:
        flash_error(error)
    back = url_for("workspace.board", type=request.form.get("type") or None,
                   mine=request.form.get("mine") or None)
    if is_htmx():
        # The board is re-rendered with the flash message and the fresh columns.
        return redirect(back, code=303)
    return redirect(back)


# --- supervisors -----------------------------------------------------------------------


@bp.get("/supervise")
@login_required
def supervise() -> str:
    """Breaches and near-breaches, a period's service levels and survey results, agents'
    open load, and bulk reassign."""
    service = ui_request()
    if not policy.can_supervise(service.actor):
        abort(404)
    db = runtime().db
    breaches = sla.at_risk(db, service)
    page = tickets.list_tickets(db, service, tickets.Filters(open=True), limit=50,
                                order=tickets.Order.OLDEST)
    days = request.args.get("days", type=int)
    days = days if days in PERIOD_DAYS else PERIOD_DAYS[1]
    period = periods.last_days(service.now, days)
    return render_template("supervise.html", loads=workspace.agent_load(db, service),
                           breaches=breaches, tickets=page.items,
                           staff=directory.list_users(db, service),
                           results=satisfaction.summary(db, service, period),
                           levels=service_levels.service_levels(db, service, period),
                           days=days, day_choices=PERIOD_DAYS)


@bp.post("/supervise/reassign")
@login_required
def reassign() -> Response:
    """Reassign the chosen tickets to one agent, each on its own."""
    form = request.form
    try:
        outcomes = workspace.bulk_reassign(runtime().db, ui_request(), form.getlist("numbers"),
                                           to_user=form.get("to_user", ""),
                                           reason=form.get("reason", ""))
    except Invalid as error:
        flash(error_text(error) if error.code != "invalid"
              else _("Choose tickets, an agent and give a reason."), "error")
        return redirect(url_for("workspace.supervise"))
    except ServiceError as error:
        flash_error(error)
        return redirect(url_for("workspace.supervise"))
    moved = [o for o in outcomes if o.ok]
    if moved:
        flash(_("%(count)d tickets were reassigned.", count=len(moved)))
    for outcome in outcomes:
        if not outcome.ok:
            flash(_("%(number)s was not reassigned: %(reason)s", number=outcome.number,
                    reason=outcome.message), "error")
    return redirect(url_for("workspace.supervise"))
