"""Server-rendered pages: the home page, and the few UI strings every template uses in
English and Chinese (a small table until the full translation catalogue arrives)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request
from flask_login import current_user, login_required

from runtime.services import tickets
from runtime.web.context import runtime, service_request

LANGUAGES = ("en", "zh")
HOME_LIMIT = 25

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "app": "ticketflow",
        "log_in": "Log in",
        "log_out": "Log out",
        "username": "User name",
        "password": "Password",
        "missing_credentials": "enter your user name and password",
        "bad_credentials": "the user name or password is wrong",
        "throttled": "too many failed attempts; wait a few minutes and try again",
        "logged_out": "You are logged out.",
        "signed_in_as": "Signed in as",
        "home": "Tickets",
        "newest": "The newest tickets you can see",
        "number": "Number",
        "title": "Title",
        "state": "State",
        "assignee": "Assignee",
        "unassigned": "unassigned",
        "no_tickets": "There are no tickets for you yet.",
        "change_password": "Change password",
        "current_password": "Current password",
        "new_password": "New password",
        "confirm_password": "New password again",
        "save": "Save",
        "passwords_differ": "the two new passwords differ",
        "wrong_current_password": "the current password is wrong",
        "password_changed": "Your password was changed; your other sessions were logged out.",
        "error": "Error",
        "back_home": "Back to the start page",
    },
    "zh": {
        "app": "ticketflow",
        "log_in": "登录",
        "log_out": "退出登录",
        "username": "用户名",
        "password": "密码",
        "missing_credentials": "请输入用户名和密码",
        "bad_credentials": "用户名或密码错误",
        "throttled": "失败次数过多，请几分钟后再试",
        "logged_out": "您已退出登录。",
        "signed_in_as": "当前用户",
        "home": "工单",
        "newest": "您可查看的最新工单",
        "number": "编号",
        "title": "标题",
        "state": "状态",
        "assignee": "处理人",
        "unassigned": "未分配",
        "no_tickets": "暂无工单。",
        "change_password": "修改密码",
        "current_password": "当前密码",
        "new_password": "新密码",
        "confirm_password": "再次输入新密码",
        "save": "保存",
        "passwords_differ": "两次输入的新密码不一致",
        "wrong_current_password": "当前密码错误",
        "password_changed": "密码已修改，您的其他会话均已退出。",
        "error": "错误",
        "back_home": "返回首页",
    },
}

bp = Blueprint("pages", __name__)


def ui_language() -> str:
    """The language of this response: the user's own, else the browser's preference."""
    # Only a user this request already loaded: loading one here would query the database,
    # and an error page must render even when the database is down.
    user = g.get("_login_user")  # where flask-login keeps the user it loaded
    if user is not None and user.is_authenticated:
        language = str(user.actor.language or "en").split("-")[0].lower()
        return language if language in LANGUAGES else "en"
    return request.accept_languages.best_match(LANGUAGES) or "en"


def translate(key: str) -> str:
    """The UI string `key` in the response's language (English when it has no entry)."""
    return STRINGS[ui_language()].get(key) or STRINGS["en"][key]


@bp.app_context_processor
def _ui_strings() -> dict[str, Any]:
    # Every template (the error page included) gets `t(...)` and the page's language.
    return {"t": translate, "ui_language": ui_language()}


@bp.get("/")
@login_required
def home() -> str:
    """The newest tickets the user may see, with their name and a logout button."""
    page = tickets.list_tickets(runtime().db, service_request(), tickets.Filters(),
                                limit=HOME_LIMIT)
    return render_template("home.html", account=current_user, tickets=page.items)
