"""Admin-written expressions: an allow-list at compile time, bounded at run time."""

from __future__ import annotations

import pytest

from engine.errors import EvaluationError
from engine.expressions import ExpressionIssue, compile_expression

FIELDS = ["fault", "qty", "price", "vip", "tags", "parts", "start", "end", "name"]

# (expression, expected code) — refused when the definition is compiled
REFUSED = [
    ("9**9**9", "forbidden-construct"),
    ("'a'*10**9", "forbidden-construct"),
    ("'a' * 1000000000", "forbidden-construct"),
    ("[1] * 100000000", "forbidden-construct"),
    ("name.__class__", "forbidden-construct"),
    ("name.upper()", "forbidden-construct"),
    ("__import__('os')", "unknown-function"),
    ("_secret == 1", "forbidden-construct"),
    ("[x for x in tags]", "forbidden-construct"),
    ("(lambda: 1)()", "forbidden-construct"),
    ("tags[0] == 'a'", "forbidden-construct"),
    ("{'a': 1}", "forbidden-construct"),
    ("{1, 2}", "forbidden-construct"),
    ("f'{name}'", "forbidden-construct"),
    ("(x := 1)", "forbidden-construct"),
    ("qty is None", "forbidden-construct"),
    ("qty << 2", "forbidden-construct"),
    ("~qty", "forbidden-construct"),
    ("len", "forbidden-construct"),
    ("open('/etc/passwd')", "unknown-function"),
    ("eval('1')", "unknown-function"),
    ("len(name, name)", "bad-arguments"),
    ("round(qty, digits=2)", "bad-arguments"),
    ("fualt == 'x'", "unknown-name"),
    ("10 ** 2", "forbidden-construct"),
    ("123456789012345678 > qty", "forbidden-construct"),
    ("fault == '" + "x" * 600 + "'", "expression-too-long"),
    ("qty + " * 100 + "1", "expression-too-long"),
    ("not " * 40 + "vip", "expression-too-deep"),
    ("-" * 40 + "qty", "expression-too-deep"),
    ("qty ==", "expression-syntax"),
    ("import os", "expression-syntax"),
    ("qty = 1", "expression-syntax"),
    ("", "expression-syntax"),
    ("qty in [" + ",".join(["1"] * 230) + "]", "expression-too-complex"),
]


@pytest.mark.parametrize(("source", "code"), REFUSED, ids=[r[0][:30] for r in REFUSED])
def test_refused_at_compile_time(source: str, code: str):
    with pytest.raises(ExpressionIssue) as raised:
        compile_expression(source, FIELDS)
    assert raised.value.code == code


def test_unknown_name_suggests_the_close_field():
    with pytest.raises(ExpressionIssue) as raised:
        compile_expression("fualt == 'x'", FIELDS)
    assert raised.value.message == "unknown field 'fualt'; did you mean 'fault'?"


# (expression, field values, expected result)
EVALUATED = [
    ("fault == 'hardware'", {"fault": "hardware"}, True),
    ("fault != 'hardware'", {}, True),
    ("qty > 3", {}, False),  # an unfilled field makes an ordering comparison false
    ("qty > 3 or vip", {"vip": True}, True),
    ("qty >= 3 and qty <= 5", {"qty": 4}, True),
    ("1 < qty < 5", {"qty": 7}, False),
    ("fault in ['hardware', 'network']", {"fault": "network"}, True),
    ("fault not in ('hardware', 'network')", {"fault": "software"}, True),
    ("'urgent' in tags", {"tags": ["urgent", "vip"]}, True),
    ("tags in ['urgent']", {"tags": ["other", "urgent"]}, True),  # any selected value
    ("'x' in name", {"name": "max"}, True),
    ("'x' in tags", {}, False),
    ("qty * price", {"qty": 3, "price": 2.5}, 7.5),
    ("qty // 2 + qty % 2 - 1", {"qty": 7}, 3),
    ("-qty", {"qty": 2}, -2),
    ("name + '!'", {"name": "hi"}, "hi!"),
    ("'big' if qty > 10 else 'small'", {"qty": 11}, "big"),
    ("len(name)", {"name": "abc"}, 3),
    ("len(tags)", {}, 0),
    ("empty(name)", {"name": ""}, True),
    ("lower(name) == 'abc'", {"name": "ABC"}, True),
    ("upper(name)", {"name": "abc"}, "ABC"),
    ("contains(tags, 'vip')", {"tags": ["vip"]}, True),
    ("startswith(name, 'PRN')", {"name": "PRN-1"}, True),
    ("min(qty, price)", {"qty": 3, "price": 2}, 2),
    ("max(qty, price)", {"qty": 3}, 3),
    ("abs(qty)", {"qty": -3}, 3),
    ("round(price, 1)", {"price": 2.345}, 2.3),
    ("sum(parts, 'qty')", {"parts": [{"qty": 2}, {"qty": 3}, {"qty": None}]}, 5),
    ("count(parts)", {"parts": [{}, {}]}, 2),
    ("count(parts, 'kind', 'screen')", {"parts": [{"kind": "screen"}, {"kind": "x"}]}, 1),
    ("days_between(start, end)", {"start": "2024-05-01", "end": "2024-05-03"}, 2.0),
    ("hours_between(start, end)",
     {"start": "2024-05-01T08:00:00+08:00", "end": "2024-05-01T10:30:00+08:00"}, 2.5),
    ("days_between(start, end) == null", {"start": "2024-05-01"}, True),
    ("vip == true and fault == null", {"vip": True}, True),
]


@pytest.mark.parametrize(("source", "values", "expected"), EVALUATED,
                         ids=[e[0][:40] for e in EVALUATED])
def test_evaluation(source: str, values: dict, expected: object):
    assert compile_expression(source, FIELDS).evaluate(values) == expected


# (expression, values): failures at run time are clean EvaluationErrors, never raw exceptions
FAILING = [
    ("qty / price", {"qty": 1, "price": 0}),
    ("qty * 1000000", {"qty": "text"}),
    ("name * qty", {"name": "a", "qty": 1000000000}),
    ("qty * qty * qty * qty * qty", {"qty": 10**15}),
    ("name + name", {"name": "x" * 15000}),
    ("qty < name", {"qty": 1, "name": "a"}),
    ("len(qty)", {"qty": 3}),
    ("sum(name, 'x')", {"name": "abc"}),
    ("days_between(start, end)", {"start": "soon", "end": "2024-01-01"}),
    ("round(qty, price)", {"qty": 1.5, "price": 99}),
    ("price * 1e300 * 1e300", {"price": 1.0}),
]


@pytest.mark.parametrize(("source", "values"), FAILING, ids=[f[0] for f in FAILING])
def test_runtime_failures_are_clean(source: str, values: dict):
    expression = compile_expression(source, FIELDS)
    with pytest.raises(EvaluationError) as raised:
        expression.evaluate(values)
    assert raised.value.expression == source


def test_names_are_collected_and_constants_are_not_fields():
    expression = compile_expression("fault == 'x' and (vip or qty > null) and true", FIELDS)
    assert expression.names == {"fault", "vip", "qty"}


def test_parsed_once_and_reused_across_threads():
    import threading

    expression = compile_expression("qty * 2", FIELDS)
    results: list[object] = []

    def work(n: int) -> None:
        results.extend(expression.evaluate({"qty": n}) == n * 2 for _ in range(2000))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16000
    assert all(results)
