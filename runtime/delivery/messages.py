"""What notifications say, in every UI language: the title (inbox entry, e-mail subject),
the e-mail text, and the one-line headline a chat robot posts for a ticket event.

Pure: data in, text out. The recipient's language picks the template (English when we
have none in theirs). The data was filtered for its recipient before it got here
(`runtime.services.notify`), so nothing in this module decides what anyone may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.model import Field
from runtime.models import EventKind, NoticeKind

LANGUAGES = ("en", "zh")
# Pages of the web app (runtime/web): the ticket page, and the survey link's page, which
# needs no account.
TICKET_PATH = "/t/{number}"
SURVEY_PATH = "/portal/survey/{token}"
RESET_PATH = "/account/reset/{token}"
MAX_TITLE = 300


@dataclass(frozen=True)
class Template:
    title: str
    intro: str  # the e-mail's first paragraph; `{detail}` follows when there is one


TEMPLATES: dict[NoticeKind, dict[str, Template]] = {
    NoticeKind.MENTION: {
        "en": Template("{by} mentioned you on {number}: {title}", "{by} mentioned you:"),
        "zh": Template("{by} 在工单 {number}「{title}」中提到了你", "{by} 提到了你："),
    },
    NoticeKind.ASSIGNED: {
        "en": Template("{number} was passed to you: {title}",
                       "{by} passed ticket {number} to you."),
        "zh": Template("工单 {number}「{title}」已转派给你", "{by} 将工单 {number} 转派给了你。"),
    },
    NoticeKind.TEAM_ASSIGNED: {
        "en": Template("{number} was passed to team {team}: {title}",
                       "{by} passed ticket {number} to your team {team}."),
        "zh": Template("工单 {number}「{title}」已转派给 {team} 组",
                       "{by} 将工单 {number} 转派给了你所在的 {team} 组。"),
    },
    NoticeKind.ROUTED: {
        "en": Template("New ticket for you: {number} {title}",
                       "The assignment rules of team {team} gave you ticket {number}."),
        "zh": Template("新工单分派给你：{number}「{title}」",
                       "{team} 组的分派规则将工单 {number} 分派给了你。"),
    },
    NoticeKind.QUEUED: {
        "en": Template("Nobody could take {number}: it waits in team {team}'s queue",
                       "No agent of team {team} qualified for ticket {number} (off shift, "
                       "away, at capacity or without the skills); it waits in the queue."),
        "zh": Template("工单 {number} 无人可接，正在 {team} 组队列中等待",
                       "{team} 组没有符合条件的处理人（不在班、离开、已满负荷或技能不符），"
                       "工单 {number} 在队列中等待分派。"),
    },
    NoticeKind.POOL: {
        "en": Template("{number} is up for grabs in team {team}: {title}",
                       "Ticket {number} is in team {team}'s claim pool; the first claim "
                       "takes it."),
        "zh": Template("抢单：{team} 组有新工单 {number}「{title}」",
                       "工单 {number} 已进入 {team} 组的抢单池，先到先得。"),
    },
    NoticeKind.REPLY: {
        "en": Template("New reply on your ticket {number}: {title}", "{by} replied:"),
        "zh": Template("您的工单 {number}「{title}」有新回复", "{by} 回复：")},
    NoticeKind.CLOSED: {
        "en": Template("Your ticket {number} is closed: {title}",
                       "Your ticket {number} is closed. Thank you for your patience."),
        "zh": Template("您的工单 {number}「{title}」已关闭",
                       "您的工单 {number} 已关闭，感谢您的耐心。"),
    },
    NoticeKind.REMINDER: {
        "en": Template("Reminder: {number} {title}", "You asked to be reminded of {number}."),
        "zh": Template("提醒：工单 {number}「{title}」", "您设置了工单 {number} 的提醒。"),
    },
    NoticeKind.NOTICE: {
        "en": Template("{subject}", "{text}"),
        "zh": Template("{subject}", "{text}"),
    },
    NoticeKind.SLA_WARNING: {
        "en": Template("{number} is close to its {target} deadline ({due})",
                       "Ticket {number} must meet its {target} target by {due}."),
        "zh": Template("工单 {number} 即将超出{target}时限（{due}）",
                       "工单 {number} 须在 {due} 前达到{target}目标。"),
    },
    NoticeKind.SLA_BREACH: {
        "en": Template("{number} breached its {target} deadline",
                       "Ticket {number} missed its {target} target ({due})."),
        "zh": Template("工单 {number} 已超出{target}时限",
                       "工单 {number} 未能在 {due} 前达到{target}目标。"),
    },
    NoticeKind.ESCALATION: {
        "en": Template("{number} was escalated: {title}", "Ticket {number} was escalated to you."),
        "zh": Template("工单 {number}「{title}」已升级", "工单 {number} 已升级给您处理。"),
    },
    NoticeKind.PASSWORD_RESET: {
        "en": Template("Choose a new ticketflow password",
                       "Someone, hopefully you, asked to choose a new password for the "
                       "account {username}. The link below works once, within an hour. If it "
                       "was not you, ignore this e-mail: your password stays as it is."),
        "zh": Template("设置新的 ticketflow 密码",
                       "有人（希望是您本人）申请为账号 {username} 设置新密码。下面的链接只能使用"
                       "一次，一小时内有效。如果不是您本人操作，请忽略此邮件，您的密码不会改变。"),
    },
}

# The fixed words around the templates.
WORDS: dict[str, dict[str, str]] = {
    "en": {"ticket": "Ticket", "type": "Type", "state": "State", "open": "Open the ticket",
           "survey": "How did we do? Rate the service (no login needed)",
           "reset": "Choose a new password",
           "footer": "You receive this because of your work on ticketflow.",
           "yes": "yes", "no": "no", "rows": "{n} rows"},
    "zh": {"ticket": "工单", "type": "类型", "state": "状态", "open": "查看工单",
           "survey": "请为本次服务评分（无需登录）",
           "reset": "设置新密码",
           "footer": "您收到这封邮件，是因为您在 ticketflow 中参与了相关工作。",
           "yes": "是", "no": "否", "rows": "{n} 行"},
}

# What a chat robot posts for a ticket event.
HEADLINES: dict[str, dict[str, str]] = {
    "en": {
        EventKind.CREATED: "{actor} opened {number}",
        EventKind.TRANSITIONED: "{actor} moved {number} to {state}",
        EventKind.UPDATED: "{actor} changed {number}",
        EventKind.COMMENTED: "{actor} commented on {number}",
        EventKind.ATTACHED: "{actor} attached a file to {number}",
        EventKind.CLAIMED: "{actor} took {number}",
        EventKind.TRANSFERRED: "{actor} transferred {number}",
        EventKind.ASSIGNED: "{number} was assigned",
        EventKind.REOPENED: "{actor} reopened {number}",
        EventKind.CLOSED: "{number} was closed",
        "": "{number}: {event}",
    },
    "zh": {
        EventKind.CREATED: "{actor} 创建了工单 {number}",
        EventKind.TRANSITIONED: "{actor} 将工单 {number} 流转到「{state}」",
        EventKind.UPDATED: "{actor} 修改了工单 {number}",
        EventKind.COMMENTED: "{actor} 评论了工单 {number}",
        EventKind.ATTACHED: "{actor} 为工单 {number} 添加了附件",
        EventKind.CLAIMED: "{actor} 领取了工单 {number}",
        EventKind.TRANSFERRED: "{actor} 转派了工单 {number}",
        EventKind.ASSIGNED: "工单 {number} 已分派",
        EventKind.REOPENED: "{actor} 重开了工单 {number}",
        EventKind.CLOSED: "工单 {number} 已关闭",
        "": "工单 {number}：{event}",
    },
}


class _Blank(dict[str, Any]):
    """Format arguments where a missing one renders as nothing instead of raising."""

    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str, values: Mapping[str, Any]) -> str:
    # format_map never interprets braces inside the substituted values (user text is
    # safe); string.Formatter's vformat did the same in pure Python, at several times the
    # cost (one title per notice, on the creation path).
    return template.format_map(_Blank(values))


def language_of(language: str | None) -> str:
    """A language we have templates in (English when not)."""
    return language if language in LANGUAGES else "en"


def localised(value: Any, language: str) -> str:
    """A parameter given as one text per language ({"en": ..., "zh": ...}) in `language`
    (else English, else any); any other value as text. Notices keep such parameters as
    given, so that what they say can be said again in the reader's language."""
    if isinstance(value, Mapping):
        return str(value.get(language) or value.get("en") or next(iter(value.values()), ""))
    return "" if value is None else str(value)


def _flat(params: Mapping[str, Any], language: str) -> dict[str, Any]:
    ticket = params.get("ticket") or {}
    values = {key: localised(value, language) if isinstance(value, dict) else value
              for key, value in params.items() if key != "ticket"}
    return {**values, "number": ticket.get("number", ""), "title": ticket.get("title", ""),
            "state": ticket.get("state_label", ""), "type": ticket.get("type_name", "")}


def title(kind: NoticeKind, language: str, params: Mapping[str, Any]) -> str:
    """The inbox title and e-mail subject (one line)."""
    language = language_of(language)
    template = TEMPLATES[kind][language]
    text = " ".join(_fill(template.title, _flat(params, language)).split())
    return text[:MAX_TITLE]


def inbox_title(kind: str, language: str, data: Mapping[str, Any], sent: str) -> str:
    """An inbox entry's title in the reader's language now, from what the entry keeps
    (`notify` stores the parameters and the ticket's title); `sent`, the title as it was
    written, for an entry that keeps too little to say it again."""
    try:
        notice = NoticeKind(kind)
    except ValueError:
        return sent
    number = data.get("number")
    if number is not None and "ticket_title" not in data:
        return sent  # written before entries kept their ticket's title
    ticket = {"number": number or "", "title": data.get("ticket_title", "")}
    return title(notice, language, {**data, "ticket": ticket})


def ticket_url(base_url: str, number: str) -> str:
    return base_url + TICKET_PATH.format(number=number)


def survey_url(base_url: str, token: str) -> str:
    return base_url + SURVEY_PATH.format(token=token)


def reset_url(base_url: str, token: str) -> str:
    return base_url + RESET_PATH.format(token=token)


def email_text(kind: NoticeKind, language: str, params: Mapping[str, Any], *,
               base_url: str, survey_token: str | None = None,
               reset_token: str | None = None) -> str:
    """The plain-text body of a notification e-mail."""
    language = language_of(language)
    words = WORDS[language]
    values = _flat(params, language)
    parts = [_fill(TEMPLATES[kind][language].intro, values).strip()]
    detail = params.get("detail")
    if detail:
        parts.append("\n".join("> " + line for line in str(detail).splitlines()))
    ticket = params.get("ticket")
    if ticket:
        parts.append(_ticket_block(ticket, words))
        parts.append(f"{words['open']}: {ticket_url(base_url, ticket['number'])}")
    if survey_token:
        parts.append(f"{words['survey']}: {survey_url(base_url, survey_token)}")
    if reset_token:
        parts.append(f"{words['reset']}: {reset_url(base_url, reset_token)}")
    parts.append(f"-- \n{words['footer']}")
    return "\n\n".join(part for part in parts if part) + "\n"


def _ticket_block(ticket: Mapping[str, Any], words: Mapping[str, str]) -> str:
    lines = [f"{words['ticket']} {ticket['number']} — {ticket.get('title', '')}".rstrip(" —")]
    if ticket.get("type_name"):
        lines.append(f"{words['type']}: {ticket['type_name']}")
    if ticket.get("state_label"):
        lines.append(f"{words['state']}: {ticket['state_label']}")
    for label, value in ticket.get("fields") or ():
        lines.append(f"  {label}: {value}")
    return "\n".join(lines)


def headline(event: str, language: str, values: Mapping[str, Any]) -> str:
    """One line saying what happened to a ticket, for chat robots."""
    table = HEADLINES[language_of(language)]
    template = table.get(event, table[""])
    return " ".join(_fill(template, {**values, "event": event}).split())


def option_labels(field: Field, language: str) -> dict[str, str]:
    """A choice field's labels in `language` by stored value (dependent options too)."""
    options = list(field.options)
    for group in (field.dependent_options or {}).values():
        options.extend(group)
    return {option.value: option.label.text(language) for option in options}


def display(value: Any, language: str, option_labels: Mapping[str, str] | None = None) -> str:
    """A field value as one short line of text (choices by their label, files and table
    rows counted)."""
    words = WORDS[language_of(language)]
    labels = option_labels or {}
    if isinstance(value, bool):
        return words["yes"] if value else words["no"]
    if isinstance(value, str):
        return labels.get(value, value)
    if isinstance(value, list):
        if value and all(isinstance(item, dict) and "id" in item for item in value):
            names = [str(item.get("name") or item["id"]) for item in value]
            return ", ".join(names)
        if value and all(isinstance(item, dict) for item in value):
            return words["rows"].format(n=len(value))
        return ", ".join(labels.get(str(item), str(item)) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
