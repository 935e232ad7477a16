"""Sending an e-mail over SMTP (smtplib), with STARTTLS and login when configured.

A malformed address or a permanent refusal (5xx) is REFUSED: recorded on the message,
never retried, never fatal to the worker. Connection trouble and temporary refusals
(4xx) are RETRY.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from runtime.config import DeliverySettings
from runtime.delivery.result import Result

# Deliberately plain: one @, no spaces or angle brackets, a dot in the domain. Servers
# accept more exotic forms, but an address like that in a user profile is a typo.
ADDRESS = re.compile(r"[^@\s<>\",;]+@[^@\s<>\",;]+\.[^@\s<>\",;]+")


def well_formed(address: str) -> bool:
    return bool(ADDRESS.fullmatch(address)) and len(address) <= 254


def compose(settings: DeliverySettings, *, to: str, subject: str, text: str,
            delivery_id: int, now: datetime) -> EmailMessage:
    """The message: UTF-8 text, marked as automatic (RFC 3834) so auto-responders stay
    quiet, with a Message-ID derived from the outbox row."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    domain = settings.smtp_from.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring=f"tf{delivery_id}", domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Ticketflow-Delivery"] = str(delivery_id)
    message.set_content(text, charset="utf-8")
    return message


def _classify(code: int, text: str) -> Result:
    return (Result.refused if code >= 500 else Result.retry)(f"SMTP {code}: {text}")


def _decoded(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def send(settings: DeliverySettings, message: EmailMessage) -> Result:
    """Hand the message to the configured SMTP server."""
    to = str(message["To"])
    if not well_formed(to):
        return Result.refused(f"malformed e-mail address: {to!r}")
    if not settings.smtp_host:
        return Result.retry("no SMTP server is configured (TICKETFLOW_SMTP_HOST)")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                          timeout=settings.smtp_timeout) as server:
            if settings.smtp_starttls:
                server.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                server.login(settings.smtp_user, settings.smtp_password or "")
            server.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        code, text = next(iter(error.recipients.values()))
        return _classify(code, _decoded(text))
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
        return _classify(error.smtp_code, _decoded(error.smtp_error))
    except smtplib.SMTPNotSupportedError as error:
        return Result.refused(f"the SMTP server cannot take this message: {error}")
    except smtplib.SMTPResponseException as error:  # e.g. authentication failed
        return Result.retry(f"SMTP {error.smtp_code}: {_decoded(error.smtp_error)}")
    except (smtplib.SMTPException, OSError) as error:  # refused, reset, timed out
        return Result.retry(f"cannot reach the SMTP server: {error or type(error).__name__}")
    return Result.sent()
