from __future__ import annotations

from typing import Any

import pytest

from reconciler.run import expressions

SCOPE: dict[str, Any] = {
    "steps": {
        "check-usage": {
            "outputs": {"exitCode": 0, "json": {"items": [1, 2, 3]}},
            "status": "succeeded",
        }
    },
    "vars": {"env": "prod", "limit": 2},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps.check-usage.outputs.exitCode == 0", True),
        ("len(steps.check-usage.outputs.json.items) > vars.limit", True),
        ("vars.env in ['prod', 'staging'] and not vars.limit < 1", True),
        ("vars.env not in ('dev',)", True),
        ('steps["check-usage"].status', "succeeded"),
        ("steps.check-usage.outputs.json.items[-1]", 3),
        ("1 < vars.limit <= 2", True),
        ("false or null", None),
        ("-vars.limit", -2),
    ],
)
def test_evaluates_the_language(text: str, expected: Any) -> None:
    assert expressions.evaluate(text, SCOPE) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "__import__('os').system('touch pwned')",
            "expression \"__import__('os').system('touch pwned')\": only len(x) may be called",
        ),
        ("vars.__class__", "expression 'vars.__class__': no key '__class__'"),
        ("(lambda: 1)()", "expression '(lambda: 1)()': only len(x) may be called"),
        ("(lambda: 1)", "expression '(lambda: 1)': Lambda is not allowed"),
        ("vars.limit + 1", "expression 'vars.limit + 1': BinOp is not allowed"),
        ("[x for x in vars]", "expression '[x for x in vars]': ListComp is not allowed"),
        ("secrets.token", "expression 'secrets.token': unknown name 'secrets'"),
        ("vars.env ==", "expression 'vars.env ==': syntax error: invalid syntax"),
        (
            "vars.env < 3",
            "expression 'vars.env < 3': '<' not supported between instances of 'str' and 'int'",
        ),
    ],
)
def test_refuses_what_is_outside_the_language(text: str, message: str) -> None:
    with pytest.raises(expressions.ExpressionError) as caught:
        expressions.evaluate(text, SCOPE)
    assert str(caught.value) == message


def test_bounds_the_length() -> None:
    with pytest.raises(expressions.ExpressionError) as caught:
        expressions.parse("1 == 1 and " * 300 + "true")
    assert (
        str(caught.value) == "expression '1 == 1 and 1 == 1 and 1 == 1 and 1 == 1 ...': "
        "longer than 2000 characters"
    )
