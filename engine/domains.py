"""Finite-domain reasoning about conditions (placeholder replaced below)."""

from __future__ import annotations

from engine.errors import Issue
from engine.model import TicketType


def condition_issues(ticket_type: TicketType) -> list[Issue]:
    return []
