"""The Flask application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from runtime.config import Settings
from runtime.context import Clock, system_clock
from runtime.db import Database
from runtime.web.context import Runtime

PACKAGE = Path(__file__).parent
STATIC = PACKAGE.parent / "static"


def create_app(settings: Settings | None = None, *, clock: Clock = system_clock,
               database: Database | None = None) -> Flask:
    """Build the app. Tests pass settings, a frozen clock and their own database."""
    settings = settings or Settings.from_env()
    app = Flask("runtime", instance_path=str(settings.instance_path),
                template_folder=str(PACKAGE / "templates"), static_folder=str(STATIC))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        TESTING=settings.testing,
        JSON_SORT_KEYS=False,
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
    )
    if settings.proxy_hops > 0:
        # Behind a TLS-terminating proxy: the client's address (login throttling, events)
        # and scheme (the session cookie's Secure flag) come from the proxy's headers.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops,  # type: ignore[method-assign]
                                x_host=hops)
    db = database or Database(settings.database_url)
    app.extensions["ticketflow"] = Runtime(settings, db, clock)

    from runtime.api import api
    from runtime.web import (
        admin,
        auth,
        common,
        i18n,
        identity,
        inbox,
        json_provider,
        pages,
        portal,
        security,
        ticket,
        workspace,
    )

    json_provider.init_app(app)
    identity.init_app(app)
    security.init_app(app)
    i18n.init_app(app, settings.instance_path)
    common.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(workspace.bp)
    app.register_blueprint(ticket.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(admin.bp)
    # The composition root: the designer is a client of the services, wired in here.
    from designer import bp as designer

    app.register_blueprint(designer)
    app.register_blueprint(api, url_prefix="/api/v1")
    return app
