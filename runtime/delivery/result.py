"""The outcome of one attempt to send a message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_ERROR = 1_000


class Verdict(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # a passing failure (timeout, connection refused, 5xx): try again later
    REFUSED = "refused"  # it will never go (a malformed address, a 4xx): dead at once


@dataclass(frozen=True)
class Result:
    verdict: Verdict
    error: str | None = None

    @classmethod
    def sent(cls) -> Result:
        return cls(Verdict.SENT)

    @classmethod
    def retry(cls, error: str) -> Result:
        return cls(Verdict.RETRY, error[:MAX_ERROR])

    @classmethod
    def refused(cls, error: str) -> Result:
        return cls(Verdict.REFUSED, error[:MAX_ERROR])
