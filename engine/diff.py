"""Semantic diff of two definitions: what an admin added, removed or changed.

Items with ids (fields, table columns, states, transitions, rules, roles) are matched by
id, so moving a field is not a change and renaming one is a removal plus an addition.
Branches are matched by their condition, assignment rules and SLA targets by theirs
(`default` for the one without), escalations by their trigger and state. Option lists
say which values came and went. Pure: data in, a list of `Change` out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.canonical import inline
from engine.model import TicketType


class Action(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


_MARK = {Action.ADDED: "+", Action.REMOVED: "-", Action.CHANGED: "~"}


@dataclass(frozen=True)
class Change:
    """One difference: `area` (field, state, branch, sla target, ...) and the item's key;
    for a change, which attribute went from `before` to `after`."""

    action: Action
    area: str
    key: str
    attribute: str | None = None
    before: Any = None
    after: Any = None

    def render(self) -> str:
        """`+ field vip`, `~ field priority: default: normal → urgent`."""
        head = f"{_MARK[self.action]} {self.area} {self.key}".rstrip()
        if self.action is not Action.CHANGED:
            shown = self.after if self.action is Action.ADDED else self.before
            return head + (f" {_show(shown)}" if shown is not None else "")
        return f"{head}: {self.attribute}: {_show(self.before)} → {_show(self.after)}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the API returns."""
        return {"action": str(self.action), "area": self.area, "key": self.key,
                "attribute": self.attribute, "before": self.before, "after": self.after}


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) and value.strip() else inline(value)


def _option_values(options: Any) -> list[str] | None:
    if not isinstance(options, list):
        return None
    return [o["value"] if isinstance(o, Mapping) else str(o) for o in options]


def _attributes(area: str, key: str, before: Mapping[str, Any], after: Mapping[str, Any],
                nested: Mapping[str, str]) -> Iterator[Change]:
    """Changed attributes of one item; lists of sub-items with ids recurse (`nested`
    maps the attribute to the sub-items' area name, e.g. columns → column)."""
    for name in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if name in nested:
            yield from _by_id(f"{area} {key} {nested[name]}", old or [], new or [])
        elif name == "options" and _option_values(old) is not None \
                and _option_values(new) is not None:
            yield from _options(area, key, old, new)
        else:
            yield Change(Action.CHANGED, area, key, name, old, new)


def _options(area: str, key: str, old: list[Any], new: list[Any]) -> Iterator[Change]:
    old_values, new_values = _option_values(old) or [], _option_values(new) or []
    added = [v for v in new_values if v not in old_values]
    removed = [v for v in old_values if v not in new_values]
    for value in added:
        yield Change(Action.ADDED, f"{area} {key} option", value)
    for value in removed:
        yield Change(Action.REMOVED, f"{area} {key} option", value)
    if not added and not removed:
        yield Change(Action.CHANGED, area, key, "options", old, new)


def _keyed(items: Sequence[Any], key: Callable[[Any], str]) -> dict[str, Any]:
    return {key(item): item for item in items if isinstance(item, Mapping)}


def _matched(area: str, before: Sequence[Any], after: Sequence[Any],
             key: Callable[[Any], str], nested: Mapping[str, str] | None = None
             ) -> Iterator[Change]:
    old, new = _keyed(before, key), _keyed(after, key)
    for name in old:
        if name not in new:
            yield Change(Action.REMOVED, area, name)
    for name, item in new.items():
        if name not in old:
            yield Change(Action.ADDED, area, name)
        else:
            yield from _attributes(area, name, old[name], item, nested or {})


def _by_id(area: str, before: Sequence[Any], after: Sequence[Any],
           nested: Mapping[str, str] | None = None) -> Iterator[Change]:
    return _matched(area, before, after, lambda item: str(item.get("id")), nested)


def _when(item: Mapping[str, Any]) -> str:
    return f'when "{item["when"]}"' if "when" in item else "default"


def _branches(to: Any) -> list[dict[str, Any]]:
    return [{"state": to}] if isinstance(to, str) else [dict(b) for b in to or ()]


def _transitions(before: Sequence[Any], after: Sequence[Any]) -> Iterator[Change]:
    old, new = _keyed(before, lambda t: t["id"]), _keyed(after, lambda t: t["id"])
    for name in old:
        if name not in new:
            yield Change(Action.REMOVED, "transition", name)
    for name, item in new.items():
        if name not in old:
            yield Change(Action.ADDED, "transition", name)
            continue
        others = {k: v for k, v in item.items() if k != "to"}
        yield from _attributes("transition", name, {k: v for k, v in old[name].items()
                                                    if k != "to"}, others, {})
        yield from _branch_changes(name, _branches(old[name].get("to")),
                                   _branches(item.get("to")))


def _branch_changes(transition: str, old: list[dict[str, Any]], new: list[dict[str, Any]]
                    ) -> Iterator[Change]:
    area = f"branch {transition}"
    before, after = _keyed(old, _when), _keyed(new, _when)
    for name, branch in before.items():
        if name not in after:
            yield Change(Action.REMOVED, area, name, before=f"→ {branch['state']}")
    for name, branch in after.items():
        if name not in before:
            yield Change(Action.ADDED, area, name, after=f"→ {branch['state']}")
        elif before[name]["state"] != branch["state"]:
            yield Change(Action.CHANGED, area, name, "state", before[name]["state"],
                         branch["state"])
    kept_old = [_when(b) for b in old if _when(b) in after]
    kept_new = [_when(b) for b in new if _when(b) in before]
    if kept_old != kept_new:
        yield Change(Action.CHANGED, f"transition {transition}", "", "branch order",
                     kept_old, kept_new)


def _sla(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterator[Change]:
    for name in ("calendar", "warn_before"):
        if before.get(name) != after.get(name):
            yield Change(Action.CHANGED, "sla", "", name, before.get(name), after.get(name))
    yield from _matched("sla target", before.get("targets", ()), after.get("targets", ()),
                        _when)
    yield from _matched("escalation", before.get("escalate", ()), after.get("escalate", ()),
                        lambda e: e["on"] + (f" in {e['in_state']}" if "in_state" in e else ""))
    for name in sorted(set(before) | set(after)):
        if name not in ("calendar", "warn_before", "targets", "escalate") \
                and before.get(name) != after.get(name):
            yield Change(Action.CHANGED, "sla", "", name, before.get(name), after.get(name))


_TOP = ("name", "description", "number_prefix", "version", "title_field", "priority_field")
_LISTS = ("roles", "fields", "states", "transitions", "rules", "assignment", "sla",
          "duplicate_check")


def diff_data(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """The changes from one definition's data to another's."""
    changes: list[Change] = []
    for name in ("ticket_type", *_TOP):
        if before.get(name) != after.get(name):
            changes.append(Change(Action.CHANGED, "definition", "", name, before.get(name),
                                  after.get(name)))
    changes += _by_id("role", before.get("roles", ()), after.get("roles", ()))
    changes += _by_id("field", before.get("fields", ()), after.get("fields", ()),
                      {"columns": "column"})
    changes += _by_id("state", before.get("states", ()), after.get("states", ()))
    changes += _transitions(before.get("transitions", ()), after.get("transitions", ()))
    changes += _by_id("rule", before.get("rules", ()), after.get("rules", ()))
    changes += _matched("assignment", before.get("assignment", ()),
                        after.get("assignment", ()), _when)
    changes += _sla(before.get("sla") or {}, after.get("sla") or {})
    if before.get("duplicate_check") != after.get("duplicate_check"):
        changes += _attributes("duplicate check", "", before.get("duplicate_check") or {},
                               after.get("duplicate_check") or {}, {})
    known = {"$schema", "ticket_type", *_TOP, *_LISTS}
    for name in sorted((set(before) | set(after)) - known):
        if before.get(name) != after.get(name):
            changes.append(Change(Action.CHANGED, "definition", "", name, before.get(name),
                                  after.get(name)))
    return changes


def diff(before: TicketType, after: TicketType) -> list[Change]:
    """The changes from one compiled definition to another."""
    return diff_data(before.source, after.source)


def render(changes: Sequence[Change]) -> str:
    """One line per change; "no differences" when there are none."""
    if not changes:
        return "no differences"
    return "\n".join(change.render() for change in changes)
