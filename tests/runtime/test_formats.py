"""What notifications say and the shapes robots expect: titles in every language, the
e-mail text, and the DingTalk / WeCom / Feishu / generic bodies and signatures (pure: no
database, no network)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from runtime.delivery import formats, messages
from runtime.models import NoticeKind

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DOCUMENT: dict[str, Any] = {
    "event": "commented", "event_id": 7, "occurred_at": NOW.isoformat(), "actor": "wang",
    "ticket": {"number": "REP-000042", "type": "repair", "type_name": "维修工单",
               "state": "repairing", "state_label": "维修中", "title": "PRN-0042 卡纸",
               "values": {"device": "PRN-0042"}},
    "data": {"body": "已更换搓纸轮\n请确认", "internal": False},
}
PARAMS = {"by": "wang", "detail": "see the photo", "team": "repair", "note": "call back",
          "username": "wang",
          "subject": "Quarterly check", "text": "Please check the printer.",
          "target": "resolution", "due": "2026-11-23 17:00 UTC",
          "ticket": {"number": "REP-000042", "title": "PRN-0042", "type_name": "Repair order",
                     "state_label": "Repairing", "fields": [["Device number", "PRN-0042"]]}}


@pytest.mark.parametrize("kind", list(NoticeKind))
@pytest.mark.parametrize("language", messages.LANGUAGES)
def test_every_kind_has_a_title_and_text_in_every_language(kind: NoticeKind, language: str):
    title = messages.title(kind, language, PARAMS)
    assert title
    assert "{" not in title
    text = messages.email_text(kind, language, PARAMS, base_url="https://desk.example.com")
    assert "https://desk.example.com/t/REP-000042" in text
    assert "  Device number: PRN-0042" in text


@pytest.mark.parametrize(("language", "expected"), [
    ("zh", "wang 在工单 REP-000042「PRN-0042」中提到了你"),
    ("en", "wang mentioned you on REP-000042: PRN-0042"),
    ("fr", "wang mentioned you on REP-000042: PRN-0042"),  # no French yet: English
], ids=["zh", "en", "unknown-language"])
def test_the_recipients_language_picks_the_template(language: str, expected: str):
    assert messages.title(NoticeKind.MENTION, language, PARAMS) == expected


def test_user_text_with_braces_is_never_a_template():
    params = {**PARAMS, "by": "{number}", "detail": "{ticket} {0} {__class__}"}
    assert messages.title(NoticeKind.MENTION, "en", params).startswith("{number} mentioned")
    assert "> {ticket} {0} {__class__}" in messages.email_text(
        NoticeKind.MENTION, "en", params, base_url="")


def test_the_survey_link_follows_the_closing_text():
    text = messages.email_text(NoticeKind.CLOSED, "zh", PARAMS,
                               base_url="https://desk.example.com", survey_token="tok")
    assert "请为本次服务评分（无需登录）: https://desk.example.com/portal/survey/tok" in text


@pytest.mark.parametrize(("value", "labels", "shown"), [
    (True, None, "yes"), ("printer", {"printer": "Printer"}, "Printer"),
    (["a", "b"], {"a": "A"}, "A, b"), (3.0, None, "3"), (2.5, None, "2.5"),
    ([{"id": "att_1", "name": "jam.png"}], None, "jam.png"),
    ([{"part_no": "R-1", "qty": 2}, {"part_no": "R-2", "qty": 1}], None, "2 rows"),
], ids=["boolean", "choice", "multi-choice", "whole-number", "number", "files", "table"])
def test_field_values_as_one_line(value: Any, labels: dict[str, str] | None, shown: str):
    assert messages.display(value, "en", labels) == shown


# --- robots and the generic format -----------------------------------------------------


def build(fmt: str, secret: str | None = "SEC123",
          url: str = "https://robot.example/send?access_token=t") -> formats.HttpRequest:
    return formats.build(fmt=fmt, url=url, secret=secret, document=DOCUMENT, language="zh",
                         base_url="https://desk.example.com", delivery_id=99, now=NOW)


def test_dingtalk_markdown_and_its_signature_in_the_url():
    request = build("dingtalk")
    body = json.loads(request.body)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "wang 评论了工单 REP-000042"
    assert body["markdown"]["text"].splitlines() == [
        "#### wang 评论了工单 REP-000042", "", "**PRN-0042 卡纸**", "", "状态: 维修中", "",
        "> 已更换搓纸轮 请确认", "",
        "[查看工单](https://desk.example.com/t/REP-000042) · ticketflow"]
    query = parse_qs(urlsplit(request.url).query)
    millis = int(NOW.timestamp() * 1000)
    assert query["access_token"] == ["t"]
    assert query["timestamp"] == [str(millis)]
    expected = base64.b64encode(hmac.new(b"SEC123", f"{millis}\nSEC123".encode(),
                                         hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected]


def test_dingtalk_without_a_secret_keeps_its_url():
    assert build("dingtalk", secret=None).url == "https://robot.example/send?access_token=t"


def test_wecom_markdown_fits_its_size_limit():
    body = json.loads(build("wecom").body)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["content"].startswith("#### wang 评论了工单 REP-000042")
    long = {**DOCUMENT, "data": {"body": "长" * 5000}}
    request = formats.build(fmt="wecom", url="https://x", secret=None, document=long,
                            language="zh", base_url="", delivery_id=1, now=NOW)
    assert len(json.loads(request.body)["markdown"]["content"].encode()) <= 4096


def test_feishu_post_with_its_signature_in_the_body():
    body = json.loads(build("feishu").body)
    seconds = int(NOW.timestamp())
    assert body["timestamp"] == str(seconds)
    expected = base64.b64encode(hmac.new(f"{seconds}\nSEC123".encode(), b"",
                                         hashlib.sha256).digest()).decode()
    assert body["sign"] == expected
    assert body["msg_type"] == "post"
    post = body["content"]["post"]["zh_cn"]
    assert post["title"] == "wang 评论了工单 REP-000042"
    assert post["content"][-1][0] == {"tag": "a", "text": "查看工单",
                                      "href": "https://desk.example.com/t/REP-000042"}


def test_the_generic_body_is_the_document_signed_with_its_timestamp():
    request = build("generic", url="https://erp.example/in")
    assert json.loads(request.body) == DOCUMENT
    headers = request.headers
    assert headers["X-Ticketflow-Timestamp"] == str(int(NOW.timestamp()))
    assert headers["X-Ticketflow-Delivery"] == "99"
    assert headers["X-Ticketflow-Event"] == "commented"
    expected = hmac.new(b"SEC123", f"{int(NOW.timestamp())}.".encode() + request.body,
                        hashlib.sha256).hexdigest()
    assert headers["X-Ticketflow-Signature"] == f"sha256={expected}"


@pytest.mark.parametrize(("fmt", "status", "answer", "problem"), [
    ("generic", 204, b"", None),
    ("generic", 500, b"", "HTTP 500"),
    ("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}', None),
    ("dingtalk", 200, b'{"errcode":130101,"errmsg":"send too fast"}',
     "refused by the robot: errcode 130101: send too fast"),
    ("wecom", 200, b'{"errcode":93000,"errmsg":"invalid webhook url"}',
     "refused by the robot: errcode 93000: invalid webhook url"),
    ("feishu", 200, b'{"code":0,"msg":"success","data":{}}', None),
    ("feishu", 200, b'{"StatusCode":0,"StatusMessage":"success"}', None),
    ("feishu", 200, b'{"code":9499,"msg":"Bad Request"}',
     "refused by the robot: code 9499: Bad Request"),
    ("feishu", 200, b"not json", None),
], ids=["generic-2xx", "generic-5xx", "dingtalk-ok", "dingtalk-throttled", "wecom-bad-url",
        "feishu-ok", "feishu-old-ok", "feishu-refused", "not-json"])
def test_whether_a_receiver_accepted(fmt: str, status: int, answer: bytes,
                                     problem: str | None):
    assert formats.accepted(fmt, status, answer) == problem
