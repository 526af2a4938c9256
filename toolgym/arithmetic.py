"""Evaluating arithmetic written by a model, without ``eval``.

Domains offer a ``calculate`` tool; τ-bench implements it with ``eval`` on a character whitelist, which can still
be made to hang (``9**9**9``). This evaluator walks the syntax tree instead, computes exactly what Python would
for the same expression, and refuses powers whose result would be astronomically large.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
MAX_POWER_DIGITS = 1_000_000
"""Largest number of decimal digits a power may produce (such a power still takes only milliseconds)."""


def _power(base: Any, exponent: Any) -> Any:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        digits = exponent * math.log10(abs(base))
        if digits > MAX_POWER_DIGITS:
            raise OverflowError(f"result of the power has about {digits:.0f} digits; too large")
    return operator.pow(base, exponent)


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, type(Ellipsis)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.Tuple) and not node.elts:
        return ()
    if isinstance(node, ast.Call) and not node.keywords:
        # Only "(1)(2)"-like text gets here: Python evaluates callee and arguments, then fails to call a number.
        callee = _evaluate(node.func)
        for arg in node.args:
            if isinstance(arg, ast.Starred):  # "0(*0)": Python unpacks the argument before calling
                value = _evaluate(arg.value)
                if not isinstance(value, tuple):
                    raise TypeError(
                        f"{callee!r} argument after * must be an iterable, not {type(value).__name__}"
                    )
            else:
                _evaluate(arg)
        raise TypeError(f"'{type(callee).__name__}' object is not callable")
    raise ValueError(f"unsupported expression element: {type(node).__name__}")


def evaluate_arithmetic(expression: str) -> Any:
    """Evaluate an arithmetic expression over numbers, ``+ - * / // % **`` and parentheses.

    Errors are the ones Python raises for the same expression (``SyntaxError``, ``ZeroDivisionError``, …), so
    callers that report ``str(error)`` read as if the expression had been evaluated by Python.

    Args:
        expression: The expression.

    Returns:
        The value (an ``int`` or ``float``; other objects only for degenerate input such as ``()``).

    Raises:
        SyntaxError: If the text is not a Python expression.
        ValueError: If it uses anything but numbers and arithmetic.
        OverflowError: If a power's result would be too large.
        ZeroDivisionError: On division by zero.
    """
    tree = compile(expression.lstrip(" \t"), "<string>", "eval", flags=ast.PyCF_ONLY_AST)
    return _evaluate(tree)
