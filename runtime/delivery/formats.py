"""Webhook requests in each format, and whether the receiver accepted one. Pure: the
instant of sending is passed in (signatures carry it).

* generic — our own JSON document (runtime/services/notify.py `webhook_document`),
  signed: `X-Ticketflow-Signature: sha256=<hex>` is HMAC-SHA256 with the webhook's
  secret over `<timestamp>.<raw body>`, and `X-Ticketflow-Timestamp` carries the
  timestamp (Unix seconds). Signing the timestamp with the body lets a receiver refuse
  a replayed old delivery, not only a forged one.
* dingtalk — a DingTalk group robot's `markdown` message; with a secret, the robot's
  own signature (`timestamp` in ms and `sign` in the URL: Base64 HMAC-SHA256 keyed with
  the secret over "<timestamp>\\n<secret>").
* wecom — a WeCom (企业微信) group robot's `markdown` message (the key is in its URL).
* feishu — a Feishu (飞书) custom bot's `post` (rich text) message; with a secret, its
  `timestamp` (s) and `sign` (Base64 HMAC-SHA256 keyed with "<timestamp>\\n<secret>"
  over nothing) in the body.

Robots answer HTTP 200 even when they refuse a message, with an error code in the JSON
body (`errcode` for DingTalk and WeCom, `code` for Feishu): `accepted` reads it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

from runtime.delivery import messages
from runtime.models import WebhookFormat

SIGNATURE_HEADER = "X-Ticketflow-Signature"
TIMESTAMP_HEADER = "X-Ticketflow-Timestamp"
USER_AGENT = "ticketflow-webhook/1"
MAX_EXCERPT = 300
WECOM_MAX_BYTES = 4096  # WeCom refuses longer markdown content
LINK_WORDS = {"en": "Open the ticket", "zh": "查看工单"}
STATE_WORDS = {"en": "State", "zh": "状态"}


@dataclass(frozen=True)
class HttpRequest:
    url: str
    headers: dict[str, str]
    body: bytes


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The generic format's signature header value."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (and the tests): recompute and compare in constant time."""
    try:
        expected = signature(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, header)


def _dump(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _one_line(text: Any, limit: int = MAX_EXCERPT) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class _Summary:
    headline: str
    title: str
    state: str
    excerpt: str
    url: str


def _summary(document: Mapping[str, Any], language: str, base_url: str) -> _Summary:
    ticket = document.get("ticket") or {}
    number = str(ticket.get("number", ""))
    data = document.get("data") or {}
    headline = messages.headline(str(document.get("event", "")), language, {
        "actor": document.get("actor") or "", "number": number,
        "state": ticket.get("state_label") or ticket.get("state") or ""})
    excerpt = _one_line(data["body"]) if isinstance(data.get("body"), str) else ""
    return _Summary(headline, _one_line(ticket.get("title", ""), 200),
                    str(ticket.get("state_label") or ""), excerpt,
                    messages.ticket_url(base_url, number))


def _markdown(summary: _Summary, language: str) -> str:
    # "ticketflow" in every message: robots guarded by a keyword can be set to it.
    lines = [f"#### {summary.headline}", "", f"**{summary.title}**", "",
             f"{STATE_WORDS[language]}: {summary.state}"]
    if summary.excerpt:
        lines += ["", f"> {summary.excerpt}"]
    lines += ["", f"[{LINK_WORDS[language]}]({summary.url}) · ticketflow"]
    return "\n".join(lines)


def dingtalk_body(document: Mapping[str, Any], language: str, base_url: str) -> dict[str, Any]:
    summary = _summary(document, language, base_url)
    return {"msgtype": "markdown",
            "markdown": {"title": summary.headline, "text": _markdown(summary, language)}}


def wecom_body(document: Mapping[str, Any], language: str, base_url: str) -> dict[str, Any]:
    content = _markdown(_summary(document, language, base_url), language)
    encoded = content.encode()
    if len(encoded) > WECOM_MAX_BYTES:
        content = encoded[: WECOM_MAX_BYTES - 3].decode(errors="ignore") + "…"
    return {"msgtype": "markdown", "markdown": {"content": content}}


def feishu_body(document: Mapping[str, Any], language: str, base_url: str) -> dict[str, Any]:
    summary = _summary(document, language, base_url)
    content: list[list[dict[str, str]]] = [
        [{"tag": "text", "text": summary.title}],
        [{"tag": "text", "text": f"{STATE_WORDS[language]}: {summary.state}"}],
    ]
    if summary.excerpt:
        content.append([{"tag": "text", "text": summary.excerpt}])
    content.append([{"tag": "a", "text": LINK_WORDS[language], "href": summary.url},
                    {"tag": "text", "text": " · ticketflow"}])
    locale = "zh_cn" if language == "zh" else "en_us"
    return {"msg_type": "post",
            "content": {"post": {locale: {"title": summary.headline, "content": content}}}}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp: int) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def build(*, fmt: WebhookFormat | str, url: str, secret: str | None,
          document: Mapping[str, Any], language: str, base_url: str, delivery_id: int,
          now: datetime) -> HttpRequest:
    """The request delivering `document` to a webhook of format `fmt`."""
    seconds = int(now.timestamp())
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               "X-Ticketflow-Event": str(document.get("event", "")),
               "X-Ticketflow-Delivery": str(delivery_id)}
    language = messages.language_of(language)
    fmt = WebhookFormat(fmt)
    if fmt is WebhookFormat.DINGTALK:
        body = _dump(dingtalk_body(document, language, base_url))
        if secret:
            millis = int(now.timestamp() * 1000)
            separator = "&" if "?" in url else "?"
            url = (f"{url}{separator}timestamp={millis}"
                   f"&sign={quote_plus(dingtalk_sign(secret, millis))}")
        return HttpRequest(url, headers, body)
    if fmt is WebhookFormat.WECOM:
        return HttpRequest(url, headers, _dump(wecom_body(document, language, base_url)))
    if fmt is WebhookFormat.FEISHU:
        message = feishu_body(document, language, base_url)
        if secret:
            message = {"timestamp": str(seconds), "sign": feishu_sign(secret, seconds),
                       **message}
        return HttpRequest(url, headers, _dump(message))
    body = _dump(document)
    headers[TIMESTAMP_HEADER] = str(seconds)
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, seconds, body)
    return HttpRequest(url, headers, body)


def accepted(fmt: WebhookFormat | str, status: int, body: bytes) -> str | None:
    """None when the receiver took the message; else why not (one line)."""
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if WebhookFormat(fmt) is WebhookFormat.GENERIC:
        return None
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return None  # a robot always answers JSON; a proxy's empty 200 is taken as sent
    if not isinstance(answer, dict):
        return None
    for key, text in (("errcode", "errmsg"), ("code", "msg"), ("StatusCode", "StatusMessage")):
        code = answer.get(key)
        if code not in (None, 0):
            return f"refused by the robot: {key} {code}: {_one_line(answer.get(text, ''), 200)}"
    return None
