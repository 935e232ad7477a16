"""The definition meta-schema and the mapping of JSON Schema errors to located issues.

Schemas never reach outside the process: every validator is built with an explicit
`referencing` registry that holds our own schemas and refuses to retrieve anything else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import re2
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from engine.errors import Issue, IssueCode, did_you_mean
from engine.source import SourceMap, escape_pointer_token

META_SCHEMA_PATH = Path(__file__).parent / "schema" / "definition.schema.json"
META_SCHEMA_ID = "https://ticketflow.invalid/schema/definition.schema.json"
CALENDAR_SCHEMA_PATH = Path(__file__).parent / "schema" / "calendar.schema.json"
CALENDAR_SCHEMA_ID = "https://ticketflow.invalid/schema/calendar.schema.json"

_JSON_TYPES = {
    "string": "text", "integer": "a whole number", "number": "a number", "boolean": "true/false",
    "array": "a list", "object": "a map", "null": "null",
}


def _refuse_retrieval(uri: str) -> Resource:
    raise NoSuchResource(ref=uri)


@cache
def meta_schema() -> Mapping[str, Any]:
    """The definition meta-schema (draft 2020-12), as shipped in engine/schema/."""
    return json.loads(META_SCHEMA_PATH.read_text(encoding="utf-8"))


@cache
def calendar_schema() -> Mapping[str, Any]:
    """The business calendar schema (draft 2020-12), as shipped in engine/schema/."""
    return json.loads(CALENDAR_SCHEMA_PATH.read_text(encoding="utf-8"))


def local_registry() -> Registry:
    """A registry with our schemas only; any other `$ref` target is refused, never fetched."""
    return Registry(retrieve=_refuse_retrieval).with_resources([
        (META_SCHEMA_ID, Resource.from_contents(meta_schema())),
        (CALENDAR_SCHEMA_ID, Resource.from_contents(calendar_schema())),
    ])


def _re2_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    # Linear-time matching: an admin's pattern cannot make a submission hang.
    if not isinstance(instance, str):
        return
    try:
        found = _compiled_pattern(pattern).search(instance) is not None
    except UnicodeEncodeError:
        found = False  # lone surrogates are not text: nothing can match them
    if not found:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _compiled_pattern(pattern: str) -> Any:
    return re2.compile(pattern)


StrictValidator = validators.extend(Draft202012Validator, {"pattern": _re2_pattern})


def make_validator(schema: Mapping[str, Any], format_checker: FormatChecker | None = None) -> Any:
    """A draft 2020-12 validator with format checking on, re2 patterns and no remote refs."""
    return StrictValidator(
        schema,
        registry=local_registry(),
        format_checker=format_checker or Draft202012Validator.FORMAT_CHECKER,
    )


@cache
def _meta_validator() -> Any:
    return make_validator(meta_schema())


def pointer_of(path: Any) -> str:
    """A JSON pointer from a jsonschema error path."""
    return "".join(f"/{escape_pointer_token(token)}" for token in path)


@cache
def _calendar_validator(part: str | None) -> Any:
    schema = ({"$ref": f"{CALENDAR_SCHEMA_ID}#/$defs/{part}"} if part else calendar_schema())
    return make_validator(schema)


def calendar_schema_issues(
    data: Any, source_map: SourceMap, part: str | None = None
) -> list[Issue]:
    """Every place `data` breaks the calendar schema (or its `$defs/<part>`), located."""
    return schema_issues(data, source_map, _calendar_validator(part))


def schema_issues(data: Any, source_map: SourceMap, validator: Any = None) -> list[Issue]:
    """Every place `data` breaks the meta-schema (or `validator`'s schema), located issues
    (deduplicated)."""
    validator = validator or _meta_validator()
    issues: dict[tuple[str, str, str], Issue] = {}
    for error in validator.iter_errors(data):
        for issue in _issues_of(error, source_map, validator):
            issues.setdefault((issue.pointer, issue.code, issue.message), issue)
    return list(issues.values())


def _issues_of(error: ValidationError, source_map: SourceMap, validator: Any) -> Iterator[Issue]:
    pointer = pointer_of(error.absolute_path)
    keyword = error.validator
    if keyword in ("anyOf", "oneOf"):
        yield from _issues_of_alternatives(error, source_map, validator)
    elif keyword in ("additionalProperties", "unevaluatedProperties"):
        yield from _unknown_keys(error, source_map, validator, pointer)
    elif keyword == "required":
        for key in error.validator_value:
            if isinstance(error.instance, dict) and key not in error.instance:
                yield source_map.issue(
                    IssueCode.MISSING_KEY, f"missing required key '{key}'", pointer
                )
    elif keyword == "enum" and "propertyNames" in error.relative_schema_path:
        yield _property_name_issue(error, source_map, pointer)
    elif keyword == "type":
        yield source_map.issue(IssueCode.WRONG_TYPE, _type_message(error), pointer)
    elif keyword in ("enum", "const"):
        allowed = error.validator_value if keyword == "enum" else [error.validator_value]
        shown = ", ".join(str(v) for v in allowed)
        hint = did_you_mean(str(error.instance), [str(v) for v in allowed])
        yield source_map.issue(
            IssueCode.NOT_ALLOWED_VALUE, f"{error.instance!r} is not one of: {shown}{hint}", pointer
        )
    elif keyword == "pattern":
        # Every identifier in the format (ids, ticket type, team, calendar) starts [a-z].
        is_id = str(error.validator_value).startswith("^[a-z][a-z0-9_")
        code = IssueCode.BAD_ID if is_id else IssueCode.BAD_VALUE
        yield source_map.issue(code, _pattern_message(error), pointer)
    else:
        yield source_map.issue(IssueCode.BAD_VALUE, error.message, pointer)


def _issues_of_alternatives(
    error: ValidationError, source_map: SourceMap, validator: Any
) -> Iterator[Issue]:
    """Pick the alternative the author evidently meant (the one whose type fits)."""
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        subs for subs in by_branch.values()
        if not any(s.validator == "type" and not s.relative_path for s in subs)
    ]
    if len(fitting) == 1:
        for sub in fitting[0]:
            yield from _issues_of(sub, source_map, validator)
        return
    best = best_match(error.context or ()) if error.context else error
    yield from _issues_of(best, source_map, validator)


def _allowed_keys(schema: Mapping[str, Any], instance: Any, validator: Any) -> set[str]:
    """Keys a schema evaluates for this instance: properties, plus those of matching
    `if/then` branches and `$ref`/`allOf` parts (how our field types are described)."""
    if "$ref" in schema:
        resolved = validator._resolver.lookup(schema["$ref"]).contents
        return _allowed_keys(resolved, instance, validator)
    keys = set(schema.get("properties", {}))
    for part in schema.get("allOf", ()):
        keys |= _allowed_keys(part, instance, validator)
    if "if" in schema and validator.evolve(schema=schema["if"]).is_valid(instance):
        keys |= _allowed_keys(schema.get("then", {}), instance, validator)
    return keys


def _all_conditional_keys(schema: Mapping[str, Any], validator: Any) -> set[str]:
    if "$ref" in schema:
        return _all_conditional_keys(validator._resolver.lookup(schema["$ref"]).contents, validator)
    keys = set(schema.get("properties", {}))
    for part in schema.get("allOf", ()):
        keys |= _all_conditional_keys(part, validator)
    keys |= _all_conditional_keys(schema.get("then", {}), validator) if "then" in schema else set()
    return keys


def _unknown_keys(
    error: ValidationError, source_map: SourceMap, validator: Any, pointer: str
) -> Iterator[Issue]:
    instance = error.instance
    if not isinstance(instance, dict):
        return
    allowed = _allowed_keys(error.schema, instance, validator)
    anywhere = _all_conditional_keys(error.schema, validator)
    kind = instance.get("type") if isinstance(instance.get("type"), str) else None
    for key in instance:
        if key in allowed:
            continue
        where = f"{pointer}/{escape_pointer_token(key)}"
        if key in anywhere and kind:
            yield source_map.issue(
                IssueCode.KEY_NOT_FOR_TYPE,
                f"'{key}' does not apply to a {kind} field",
                where,
                prefer_key=True,
            )
        else:
            yield source_map.issue(
                IssueCode.UNKNOWN_KEY,
                f"unknown key '{key}'{did_you_mean(key, sorted(allowed))}",
                where,
                prefer_key=True,
            )


def _property_name_issue(error: ValidationError, source_map: SourceMap, pointer: str) -> Issue:
    name = str(error.instance)
    allowed = [str(v) for v in error.validator_value]
    where = f"{pointer}/{escape_pointer_token(name)}"
    if allowed == ["en", "zh"]:
        return source_map.issue(
            IssueCode.UNSUPPORTED_LANGUAGE,
            f"unsupported language '{name}'; labels may use: en, zh",
            where,
            prefer_key=True,
        )
    return source_map.issue(
        IssueCode.NOT_ALLOWED_VALUE, f"{name!r} is not one of: {', '.join(allowed)}", where,
        prefer_key=True,
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "a map"


def _type_message(error: ValidationError) -> str:
    expected = error.validator_value
    expected = expected if isinstance(expected, list) else [expected]
    wanted = " or ".join(_JSON_TYPES.get(t, t) for t in expected)
    got = _json_type(error.instance)
    message = f"expected {wanted}, got {got}"
    if "string" in expected and isinstance(error.instance, bool | int | float):
        message += f"; quote it to keep it as text: '{str(error.instance).lower()}'"
    return message


def _pattern_message(error: ValidationError) -> str:
    description = error.schema.get("description")
    return f"{error.instance!r} is not valid here" + (f": {description}" if description else "")
