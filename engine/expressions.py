"""The only place that evaluates admin-written conditions and formulas.

An expression is checked once, at compile time, against an allow-list of syntax
(comparisons, boolean logic, arithmetic, literal lists, calls of a few documented
functions) and against the names that exist (the ticket's fields). It is then
evaluated by simpleeval with a node table that holds exactly that allow-list, our own
bounded operators and our own functions. Anything not listed is refused — there is no
deny-list to forget something on.

Limits keep every condition cheap: source length, syntax depth and size, the size of
literals, and, at run time, the size of any text or number produced.
"""

from __future__ import annotations

import ast
import math
import operator
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from simpleeval import InvalidExpression, SimpleEval

from engine.errors import EvaluationError, IssueCode, did_you_mean

MAX_LENGTH = 500
MAX_DEPTH = 32
MAX_NODES = 200
MAX_LITERAL_TEXT = 500
MAX_LITERAL_INT = 10**15
MAX_RESULT_TEXT = 20_000
MAX_RESULT_INT = 2**63

CONSTANTS: Mapping[str, Any] = {
    "true": True, "false": False, "null": None, "True": True, "False": False, "None": None,
}


class ExpressionIssue(Exception):
    """Compile-time refusal of an expression; the compiler turns it into a located Issue."""

    def __init__(self, code: IssueCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


# --- run-time helpers: every function an expression may call -------------------------


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    return value


def _fn_len(value: Any) -> int:
    if value is None:
        return 0
    if not isinstance(value, str | list):
        raise TypeError("len() needs text or a list")
    return len(value)


def _fn_sum(rows: Any, column: Any) -> float | int:
    """Total of one column over the rows of a table field (empty cells count as 0)."""
    if rows is None:
        return 0
    if not isinstance(rows, list) or not isinstance(column, str):
        raise TypeError("sum() needs a table field and a column name in quotes")
    total: float | int = 0
    for row in rows:
        cell = row.get(column) if isinstance(row, dict) else None
        if cell is not None:
            total += _number(cell)
    return _bounded(total)


def _fn_count(rows: Any, column: Any = None, value: Any = None) -> int:
    """Rows of a table (or items of a list); with a column and value, only matching rows."""
    if rows is None:
        return 0
    if not isinstance(rows, list):
        raise TypeError("count() needs a table field or a list")
    if column is None:
        return len(rows)
    return sum(1 for row in rows if isinstance(row, dict) and row.get(column) == value)


def _fn_contains(container: Any, item: Any) -> bool:
    if container is None:
        return False
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, list):
        return item in container
    raise TypeError("contains() needs text or a list")


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{name}() needs text")
    return value


def _parse_instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise TypeError(f"{value!r} is not a date") from None
        return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed
    raise TypeError("expected a date")


def _between(start: Any, end: Any, unit_seconds: int) -> float | None:
    if start is None or end is None:
        return None
    first, second = _parse_instant(start), _parse_instant(end)
    if (first.tzinfo is None) != (second.tzinfo is None):
        first, second = first.replace(tzinfo=None), second.replace(tzinfo=None)
    return (second - first).total_seconds() / unit_seconds


def _fn_round(value: Any, digits: Any = 0) -> float | int:
    if value is None:
        return 0
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 10:
        raise TypeError("round() takes 0 to 10 digits")
    return round(_number(value), digits)


def _fn_min_max(pick: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*values: Any) -> Any:
        present = [_number(v) for v in values if v is not None]
        return pick(present) if present else None

    return apply


@dataclass(frozen=True, slots=True)
class Function:
    call: Callable[..., Any]
    min_args: int
    max_args: int
    doc: str


FUNCTIONS: Mapping[str, Function] = {
    "len": Function(_fn_len, 1, 1, "len(x): characters of text, or items of a list"),
    "empty": Function(_is_empty, 1, 1, "empty(x): true when x has no value"),
    "lower": Function(lambda v: _text(v, "lower").lower(), 1, 1, "lower(text)"),
    "upper": Function(lambda v: _text(v, "upper").upper(), 1, 1, "upper(text)"),
    "contains": Function(_fn_contains, 2, 2, "contains(text_or_list, item)"),
    "startswith": Function(
        lambda v, p: _text(v, "startswith").startswith(_text(p, "startswith")), 2, 2,
        "startswith(text, prefix)",
    ),
    "min": Function(_fn_min_max(min), 1, 10, "min(a, b, ...): smallest number given"),
    "max": Function(_fn_min_max(max), 1, 10, "max(a, b, ...): largest number given"),
    "abs": Function(lambda v: abs(_number(v)), 1, 1, "abs(number)"),
    "round": Function(_fn_round, 1, 2, "round(number, digits=0)"),
    "sum": Function(_fn_sum, 2, 2, "sum(table, 'column'): total of a column over a table"),
    "count": Function(
        _fn_count, 1, 3, "count(table) or count(table, 'column', value): rows (matching)"
    ),
    "days_between": Function(
        lambda a, b: _between(a, b, 86400), 2, 2, "days_between(start, end): days, fractional"
    ),
    "hours_between": Function(
        lambda a, b: _between(a, b, 3600), 2, 2, "hours_between(start, end): hours, fractional"
    ),
}


# --- bounded operators -----------------------------------------------------------------


def _bounded(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > MAX_RESULT_INT:
        raise OverflowError("number too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise OverflowError("number too large")
    if isinstance(value, str) and len(value) > MAX_RESULT_TEXT:
        raise OverflowError("text too long")
    return value


def _arithmetic(op: Callable[[Any, Any], Any], *, text_ok: bool = False) -> Callable[..., Any]:
    def apply(left: Any, right: Any) -> Any:
        if text_ok and isinstance(left, str) and isinstance(right, str):
            return _bounded(op(left, right))
        return _bounded(op(_number(left), _number(right)))

    return apply


def _ordering(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    # A condition on a field nobody filled in yet is simply false, not an error:
    # `qty > 3` must not break a form before qty is typed.
    def apply(left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False
        return op(left, right)

    return apply


def _membership(left: Any, right: Any) -> bool:
    if right is None:
        return False
    if isinstance(right, str):
        return isinstance(left, str) and left in right
    if isinstance(left, list):  # multi-choice: any of the selected values is in the list
        return any(item in right for item in left)
    return left in right


OPERATORS: Mapping[type, Callable[..., Any]] = {
    ast.Add: _arithmetic(operator.add, text_ok=True),
    ast.Sub: _arithmetic(operator.sub),
    ast.Mult: _arithmetic(operator.mul),
    ast.Div: _arithmetic(operator.truediv),
    ast.FloorDiv: _arithmetic(operator.floordiv),
    ast.Mod: _arithmetic(operator.mod),
    ast.USub: lambda v: -_number(v),
    ast.UAdd: lambda v: +_number(v),
    ast.Not: operator.not_,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: _ordering(operator.lt),
    ast.LtE: _ordering(operator.le),
    ast.Gt: _ordering(operator.gt),
    ast.GtE: _ordering(operator.ge),
    ast.In: _membership,
    ast.NotIn: lambda left, right: not _membership(left, right),
}

_ALLOWED_SYNTAX: dict[type, str] = {
    ast.Expression: "", ast.Expr: "", ast.BoolOp: "", ast.And: "", ast.Or: "",
    ast.Compare: "", ast.BinOp: "", ast.UnaryOp: "", ast.IfExp: "", ast.Name: "",
    ast.Load: "", ast.Constant: "", ast.Call: "", ast.List: "", ast.Tuple: "",
    **{op: "" for op in OPERATORS},
}

_CONSTRUCT_NAMES: dict[type, str] = {
    ast.Attribute: "attribute access (x.y)",
    ast.Subscript: "indexing (x[i])",
    ast.Pow: "the power operator (**)",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.NamedExpr: "assignment (:=)",
    ast.JoinedStr: "f-strings",
    ast.Dict: "dict literals",
    ast.Set: "set literals",
    ast.Starred: "star arguments",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.BitAnd: "bit operators",
    ast.BitOr: "bit operators",
    ast.BitXor: "bit operators",
    ast.LShift: "bit operators",
    ast.RShift: "bit operators",
    ast.Invert: "bit operators",
    ast.Is: "'is' (use ==)",
    ast.IsNot: "'is not' (use !=)",
    ast.MatMult: "the @ operator",
}


class _Evaluator(SimpleEval):
    """simpleeval restricted to the allow-listed node types, operators and functions."""

    def __init__(self) -> None:
        super().__init__(
            operators=dict(OPERATORS),
            functions={name: fn.call for name, fn in FUNCTIONS.items()},
            names={},
        )
        self.nodes = {
            ast.Expr: self._eval_expr,
            ast.Name: self._eval_name,
            ast.UnaryOp: self._eval_unaryop,
            ast.BinOp: self._eval_binop,
            ast.BoolOp: self._eval_boolop,
            ast.Compare: self._eval_compare,
            ast.IfExp: self._eval_ifexp,
            ast.Call: self._eval_call,
            ast.Constant: self._eval_constant,
            ast.List: self._eval_sequence,
            ast.Tuple: self._eval_sequence,
        }

    def _eval_sequence(self, node: ast.List | ast.Tuple) -> list[Any]:
        return [self._eval(item) for item in node.elts]

    def _eval(self, node: ast.AST) -> Any:
        # Every node type was allow-listed at compile time, names only hold ticket data
        # (text, numbers, booleans, lists, dicts) and every function is ours, so the
        # generic per-result scan simpleeval does for untrusted names is not needed.
        return self.nodes[type(node)](node)

    def _eval_name(self, node: ast.Name) -> Any:
        # A field nobody filled in reads as null.
        return self.names.get(node.id)

    def _eval_compare(self, node: ast.Compare) -> Any:
        # Nearly every condition compares once (`fault == 'hardware'`): skip the chain loop.
        if len(node.ops) == 1:
            return self.operators[type(node.ops[0])](
                self._eval(node.left), self._eval(node.comparators[0])
            )
        return super()._eval_compare(node)

    @staticmethod
    def _eval_constant(node: ast.Constant) -> Any:
        # simpleeval measures every literal against its own size limit on each run; ours
        # were bounded once, at compile time (MAX_LITERAL_TEXT is far below that limit).
        return node.value


_local = threading.local()


def _evaluator() -> _Evaluator:
    evaluator = getattr(_local, "evaluator", None)
    if evaluator is None:
        evaluator = _local.evaluator = _Evaluator()
    return evaluator


@dataclass(frozen=True, slots=True, eq=False)
class Expression:
    """A checked, parsed expression. `evaluate(values)` never raises anything but
    `EvaluationError`."""

    source: str
    names: frozenset[str]
    node: ast.AST

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """Evaluate against field values (missing fields count as null)."""
        evaluator = _evaluator()
        evaluator.names = values
        # What SimpleEval.eval does for a parsed tree, minus one call: note the source
        # (for simpleeval's messages), then walk the tree with our own `_eval`.
        evaluator.expr = self.source
        try:
            return evaluator._eval(self.node)
        except EvaluationError:
            raise
        except (InvalidExpression, ArithmeticError, TypeError, ValueError) as error:
            raise EvaluationError(self.source, str(error) or type(error).__name__) from None
        except RecursionError:
            raise EvaluationError(self.source, "too deeply nested") from None
        finally:
            evaluator.names = {}

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Evaluate as a condition."""
        return bool(self.evaluate(values))

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


class _Constants(ast.NodeTransformer):
    """Turns the names true/false/null into literals, so a name always means a field."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in CONSTANTS:
            return ast.copy_location(ast.Constant(CONSTANTS[node.id]), node)
        return node


def compile_expression(source: str, known_names: Iterable[str]) -> Expression:
    """Check and parse an expression once; raise `ExpressionIssue` when it is refused."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionIssue(IssueCode.EXPRESSION_SYNTAX, "the expression is empty")
    text = source.strip()
    if len(text) > MAX_LENGTH:
        raise ExpressionIssue(
            IssueCode.EXPRESSION_TOO_LONG,
            f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}",
        )
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ExpressionIssue(
            IssueCode.EXPRESSION_SYNTAX,
            f"invalid expression: {error.msg} (at character {error.offset or 1})",
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionIssue(
            IssueCode.EXPRESSION_TOO_DEEP, "the expression is nested too deeply"
        ) from None
    known = frozenset(known_names)
    names = _check_tree(tree, known)
    tree = _Constants().visit(tree)
    return Expression(text, frozenset(names), tree.body)


def _check_tree(tree: ast.Expression, known: frozenset[str]) -> set[str]:
    names: set[str] = set()
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionIssue(
                IssueCode.EXPRESSION_TOO_COMPLEX,
                f"the expression has more than {MAX_NODES} parts; split it into simpler rules",
            )
        if depth > MAX_DEPTH:
            raise ExpressionIssue(
                IssueCode.EXPRESSION_TOO_DEEP,
                f"the expression is nested more than {MAX_DEPTH} levels deep",
            )
        _check_node(node, known, names)
        # A call's function name was checked by _check_call; only its arguments are data.
        children = node.args if isinstance(node, ast.Call) else ast.iter_child_nodes(node)
        stack.extend((child, depth + 1) for child in children)
    return names


def _check_node(node: ast.AST, known: frozenset[str], names: set[str]) -> None:
    kind = type(node)
    if kind not in _ALLOWED_SYNTAX:
        what = _CONSTRUCT_NAMES.get(kind, kind.__name__)
        raise ExpressionIssue(IssueCode.FORBIDDEN_CONSTRUCT, f"{what} is not allowed here")
    if isinstance(node, ast.Name):
        _check_name(node.id, known, names)
    elif isinstance(node, ast.Constant):
        _check_constant(node.value)
    elif isinstance(node, ast.Call):
        _check_call(node)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        if any(_is_sequence_literal(side) for side in (node.left, node.right)):
            raise ExpressionIssue(
                IssueCode.FORBIDDEN_CONSTRUCT, "repeating text or lists with * is not allowed"
            )


def _is_sequence_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.List | ast.Tuple):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _check_name(name: str, known: frozenset[str], names: set[str]) -> None:
    if name.startswith("_"):
        raise ExpressionIssue(IssueCode.FORBIDDEN_CONSTRUCT, f"the name '{name}' is not allowed")
    if name in CONSTANTS:
        return
    if name in FUNCTIONS:
        raise ExpressionIssue(
            IssueCode.FORBIDDEN_CONSTRUCT, f"'{name}' is a function; call it like {name}(...)"
        )
    if name not in known:
        raise ExpressionIssue(
            IssueCode.UNKNOWN_NAME,
            f"unknown field '{name}'{did_you_mean(name, sorted(known))}",
        )
    names.add(name)


def _check_constant(value: Any) -> None:
    if isinstance(value, str) and len(value) > MAX_LITERAL_TEXT:
        raise ExpressionIssue(
            IssueCode.EXPRESSION_TOO_LONG,
            f"a text literal is longer than {MAX_LITERAL_TEXT} characters",
        )
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_LITERAL_INT:
        raise ExpressionIssue(
            IssueCode.FORBIDDEN_CONSTRUCT, f"numbers larger than {MAX_LITERAL_INT} are not allowed"
        )
    if not isinstance(value, str | int | float | bool | type(None)):
        raise ExpressionIssue(
            IssueCode.FORBIDDEN_CONSTRUCT,
            f"literals of type {type(value).__name__} are not allowed",
        )


def _check_call(node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        raise ExpressionIssue(
            IssueCode.FORBIDDEN_CONSTRUCT, "only the documented functions may be called"
        )
    name = node.func.id
    function = FUNCTIONS.get(name)
    if function is None:
        raise ExpressionIssue(
            IssueCode.UNKNOWN_FUNCTION,
            f"unknown function '{name}'{did_you_mean(name, FUNCTIONS)}; "
            f"available: {', '.join(sorted(FUNCTIONS))}",
        )
    if node.keywords:
        raise ExpressionIssue(IssueCode.BAD_ARGUMENTS, f"{name}() takes no keyword arguments")
    if not function.min_args <= len(node.args) <= function.max_args:
        raise ExpressionIssue(IssueCode.BAD_ARGUMENTS, f"wrong number of arguments: {function.doc}")
