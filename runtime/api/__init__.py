"""The REST API, mounted at /api/v1: JSON in and out, bearer tokens, one error shape,
described by the OpenAPI document it serves at /api/v1/openapi.json.

Views parse input, call a service and render the result; the services own every rule
and every transaction, the policy decides who sees what.
"""

from __future__ import annotations

from runtime.api import (
    accounts,
    agents,
    calendars,
    definitions,
    errors,
    files,
    notifications,
    openapi,
    reports,
    surveys,
    templates,
    tickets,
)
from runtime.api.blueprint import api

errors.register(api)

__all__ = ["accounts", "agents", "api", "calendars", "definitions", "files",
           "notifications", "openapi", "reports", "surveys", "templates", "tickets"]
