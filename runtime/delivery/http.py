"""Posting a webhook request: short timeouts, no redirects, a bounded answer.

The timeout bounds every socket operation (connecting, each read), so a receiver that
is down or hangs costs one worker a few seconds, never a ticket's transaction (the
message was committed long before). Redirects are not followed: a webhook's URL is
exactly what the administrator configured.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from runtime.delivery.formats import HttpRequest, accepted
from runtime.delivery.result import Result
from runtime.models import WebhookFormat

MAX_ANSWER = 64 * 1024


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirects())


def post(request: HttpRequest, *, fmt: WebhookFormat | str, timeout: float) -> Result:
    """POST the request; SENT, RETRY (unreachable, slow, 5xx, 408, 429, a robot's
    refusal) or REFUSED (any other 3xx/4xx: the receiver will not take it)."""
    outgoing = urllib.request.Request(request.url, data=request.body, headers=request.headers,
                                      method="POST")
    try:
        with _OPENER.open(outgoing, timeout=timeout) as response:
            status, answer = response.status, response.read(MAX_ANSWER)
    except urllib.error.HTTPError as error:
        status, answer = error.code, b""
        error.close()
    except TimeoutError:
        return Result.retry(f"no answer within {timeout:g} s")
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            return Result.retry(f"no answer within {timeout:g} s")
        return Result.retry(f"cannot reach the receiver: {reason}")
    except (OSError, ValueError) as error:  # a reset connection; a URL urllib cannot use
        return Result.retry(f"cannot reach the receiver: {error}")
    problem = accepted(fmt, status, answer)
    if problem is None:
        return Result.sent()
    if 300 <= status < 500 and status not in (408, 425, 429):
        return Result.refused(problem)
    return Result.retry(problem)
