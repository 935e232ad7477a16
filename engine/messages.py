"""Submission problem codes and their messages in every supported language.

Codes are stable (clients match on them); messages are for people and may improve.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from engine.errors import Problem


class ProblemCode(StrEnum):
    NOT_AN_OBJECT = "not-an-object"
    UNKNOWN_FIELD = "unknown-field"
    NOT_EDITABLE = "not-editable"
    REQUIRED = "required"
    REQUIRED_FOR_TRANSITION = "required-for-transition"
    WRONG_TYPE = "wrong-type"
    TOO_SHORT = "too-short"
    TOO_LONG = "too-long"
    PATTERN_MISMATCH = "pattern-mismatch"
    TOO_SMALL = "too-small"
    TOO_LARGE = "too-large"
    NOT_INTEGER = "not-integer"
    TOO_MANY_DECIMALS = "too-many-decimals"
    NOT_AN_OPTION = "not-an-option"
    DUPLICATE_CHOICE = "duplicate-choice"
    TOO_FEW_SELECTED = "too-few-selected"
    TOO_MANY_SELECTED = "too-many-selected"
    BAD_DATE = "bad-date"
    BAD_DATETIME = "bad-datetime"
    BAD_EMAIL = "bad-email"
    BAD_PHONE = "bad-phone"
    BAD_USER = "bad-user"
    BAD_ATTACHMENT = "bad-attachment"
    TOO_MANY_FILES = "too-many-files"
    FILE_TOO_LARGE = "file-too-large"
    FILE_TYPE_NOT_ACCEPTED = "file-type-not-accepted"
    TOO_FEW_ROWS = "too-few-rows"
    TOO_MANY_ROWS = "too-many-rows"
    RULE_FAILED = "rule-failed"
    CONDITION_FAILED = "condition-failed"


_TEXTS: dict[ProblemCode, dict[str, str]] = {
    ProblemCode.NOT_AN_OBJECT: {
        "en": "the submission must be an object of field values",
        "zh": "提交的内容必须是字段值的对象",
    },
    ProblemCode.UNKNOWN_FIELD: {"en": "there is no field '{name}'", "zh": "不存在字段“{name}”"},
    ProblemCode.NOT_EDITABLE: {
        "en": "{label} cannot be changed here", "zh": "此处不能修改{label}",
    },
    ProblemCode.REQUIRED: {"en": "{label} is required", "zh": "{label}为必填项"},
    ProblemCode.REQUIRED_FOR_TRANSITION: {
        "en": "{label} is needed before '{transition}'",
        "zh": "执行“{transition}”之前需要填写{label}",
    },
    ProblemCode.WRONG_TYPE: {
        "en": "{label} must be {expected}", "zh": "{label}必须是{expected_zh}",
    },
    ProblemCode.TOO_SHORT: {
        "en": "{label} must have at least {limit} characters",
        "zh": "{label}至少需要{limit}个字符",
    },
    ProblemCode.TOO_LONG: {
        "en": "{label} must have at most {limit} characters", "zh": "{label}最多{limit}个字符",
    },
    ProblemCode.PATTERN_MISMATCH: {
        "en": "{label} is not in the expected format", "zh": "{label}格式不正确",
    },
    ProblemCode.TOO_SMALL: {
        "en": "{label} must be at least {limit}", "zh": "{label}不能小于{limit}",
    },
    ProblemCode.TOO_LARGE: {
        "en": "{label} must be at most {limit}", "zh": "{label}不能大于{limit}",
    },
    ProblemCode.NOT_INTEGER: {"en": "{label} must be a whole number", "zh": "{label}必须是整数"},
    ProblemCode.TOO_MANY_DECIMALS: {
        "en": "{label} may have at most {limit} decimal places",
        "zh": "{label}最多保留{limit}位小数",
    },
    ProblemCode.NOT_AN_OPTION: {
        "en": "{value!r} is not a choice of {label}", "zh": "“{value}”不是{label}的可选项",
    },
    ProblemCode.DUPLICATE_CHOICE: {
        "en": "{label} lists {value!r} twice", "zh": "{label}重复选择了“{value}”",
    },
    ProblemCode.TOO_FEW_SELECTED: {
        "en": "choose at least {limit} for {label}", "zh": "{label}至少选择{limit}项",
    },
    ProblemCode.TOO_MANY_SELECTED: {
        "en": "choose at most {limit} for {label}", "zh": "{label}最多选择{limit}项",
    },
    ProblemCode.BAD_DATE: {
        "en": "{label} must be a date like 2024-05-31", "zh": "{label}必须是日期，例如 2024-05-31",
    },
    ProblemCode.BAD_DATETIME: {
        "en": "{label} must be a date and time with a time zone, like 2024-05-31T14:30:00+08:00",
        "zh": "{label}必须是带时区的日期时间，例如 2024-05-31T14:30:00+08:00",
    },
    ProblemCode.BAD_EMAIL: {
        "en": "{label} must be an e-mail address", "zh": "{label}必须是有效的电子邮件地址",
    },
    ProblemCode.BAD_PHONE: {
        "en": "{label} must be a phone number", "zh": "{label}必须是有效的电话号码",
    },
    ProblemCode.BAD_USER: {
        "en": "{label} must be a user name", "zh": "{label}必须是用户名",
    },
    ProblemCode.BAD_ATTACHMENT: {
        "en": "{label}: each file needs a name, a size and a type",
        "zh": "{label}：每个文件都需要名称、大小和类型",
    },
    ProblemCode.TOO_MANY_FILES: {
        "en": "{label} takes at most {limit} files", "zh": "{label}最多上传{limit}个文件",
    },
    ProblemCode.FILE_TOO_LARGE: {
        "en": "{name} is larger than {limit_text}", "zh": "{name}超过了{limit_text}",
    },
    ProblemCode.FILE_TYPE_NOT_ACCEPTED: {
        "en": "{name}: this type of file is not accepted for {label} (allowed: {accept})",
        "zh": "{name}：{label}不接受此类文件（允许：{accept}）",
    },
    ProblemCode.TOO_FEW_ROWS: {
        "en": "{label} needs at least {limit} rows", "zh": "{label}至少需要{limit}行",
    },
    ProblemCode.TOO_MANY_ROWS: {
        "en": "{label} takes at most {limit} rows", "zh": "{label}最多{limit}行",
    },
    ProblemCode.RULE_FAILED: {"en": "{rule_message}", "zh": "{rule_message}"},
    ProblemCode.CONDITION_FAILED: {
        "en": "a condition of this form could not be checked ({reason})",
        "zh": "无法检查此表单的条件（{reason}）",
    },
}

_EXPECTED_ZH = {
    "text": "文本", "a number": "数字", "true or false": "是或否", "a list": "列表",
    "a list of rows": "行的列表", "a list of files": "文件列表",
}


def render(code: ProblemCode, language: str, params: dict[str, Any]) -> str:
    """The message for a problem code in `language` (English when not translated)."""
    texts = _TEXTS[code]
    template = texts.get(language) or texts["en"]
    if "expected" in params:
        params = {**params, "expected_zh": _EXPECTED_ZH.get(params["expected"], params["expected"])}
    return template.format(**params)


def problem(
    code: ProblemCode, field: str, path: str, language: str, **params: Any
) -> Problem:
    """A located, localised problem."""
    params.setdefault("label", field)
    return Problem(field, str(code), render(code, language, params), path, params)
