"""What views need from the running application: the database, the clock, the settings,
and the current actor as a service `Request`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import Response, current_app, request
from flask_login import current_user

from runtime.config import Settings
from runtime.context import Actor, Clock, Request
from runtime.db import Database
from runtime.services.errors import Unauthorized
from runtime.services.exports import TicketExport


@dataclass
class Runtime:
    """Everything the app shares between requests (no per-process state matters for
    correctness: all of it is in the database)."""

    settings: Settings
    db: Database
    clock: Clock


def runtime() -> Runtime:
    return cast(Runtime, current_app.extensions["ticketflow"])


def current_actor() -> Actor | None:
    """The authenticated actor (browser session or API token), or None."""
    if current_user.is_authenticated:
        return cast(Actor, current_user.actor)
    return None


def service_request() -> Request:
    """The service `Request` for this HTTP request; 401 when nobody is logged in."""
    actor = current_actor()
    if actor is None:
        raise Unauthorized("log in or send an API token (Authorization: Bearer ...)")
    return Request(actor, runtime().clock(), request.remote_addr)


def export_download(exported: TicketExport) -> Response:
    """An export sent as it is produced, saved by the browser under its file name."""
    response = Response(exported.chunks, content_type=exported.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    return response
