"""The RestrictedPython layer: what model-written code may name, and the read-only view of state it receives.

Compilation rejects names and attributes starting with ``_``, frame and generator internals, ``exec``/``eval``
and the other constructs RestrictedPython forbids. At run time the code sees a small, fixed set of builtins and
guard hooks. Only single functions are ever exposed — never a module, since a module's public attributes lead back
to ``sys`` and ``builtins`` (e.g. ``json.codecs.sys``). This layer confines *what* code can reach; the worker
process (:mod:`toolgym.sandbox.worker`) bounds *how much* CPU, memory and output it may use.
"""

from __future__ import annotations

import ast
import builtins
import operator
import types
from collections.abc import Callable, Mapping
from typing import Any

from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr_raise,
)
from RestrictedPython.Limits import limited_builtins
from RestrictedPython.PrintCollector import PrintCollector


class ToolError(Exception):
    """Raised inside sandboxed code when a tool call fails; its message is the tool's error text."""


class CompileError(ValueError):
    """Model-written code that RestrictedPython refuses to compile.

    Attributes:
        errors: The compiler's messages, each naming the offending line.
    """

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    return _INPLACE[op](x, y)


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


# RestrictedPython 9 dropped sorted/tuple/zip (and never had min/max/…) because they iterate in C without calling
# _getiter_. Our _getiter_ is a pass-through that enforces nothing, so adding them back opens nothing new.
_ITERATING = ("all", "any", "dict", "enumerate", "filter", "frozenset", "list", "map", "max", "min")
_ITERATING_MORE = ("reversed", "set", "sorted", "sum", "tuple", "zip")

BUILTINS: dict[str, Any] = {
    **{k: v for k, v in safe_builtins.items() if k not in {"__build_class__", "_getattr_"}},
    **{name: getattr(builtins, name) for name in _ITERATING + _ITERATING_MORE},
    "range": limited_builtins["range"],  # at most 1000 items
    "getattr": safer_getattr_raise,  # the raw builtin would bypass the `_` rule
    "ToolError": ToolError,
}
"""The builtins sandboxed code sees. No ``__import__``, ``open``, ``type``, ``object``, ``eval`` or classes."""


class CappedPrintCollector(PrintCollector):
    """Collects everything the code prints, keeping at most ``limit`` characters and counting the rest.

    Args:
        limit: Characters to keep.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(safer_getattr_raise)  # type: ignore[no-untyped-call]
        self.limit = limit
        self.kept = 0
        self.dropped = 0

    def write(self, text: str) -> None:
        """Keep ``text`` while within the limit; count what does not fit."""
        text = str(text)
        room = self.limit - self.kept
        if room <= 0:
            self.dropped += len(text)
            return
        if len(text) > room:
            self.dropped += len(text) - room
            text = text[:room]
        self.txt.append(text)
        self.kept += len(text)


def restricted_globals(
    printed: CappedPrintCollector, names: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the global namespace for one run.

    Args:
        printed: Receives everything ``print`` writes during the run.
        names: Extra functions to expose (tools, helpers). Each must be a plain function, never a module.

    Returns:
        A fresh globals dict.
    """
    glb: dict[str, Any] = {
        "__builtins__": BUILTINS,
        "__name__": "sandbox",
        "_getattr_": safer_getattr_raise,  # plain safer_getattr would return None for missing attributes
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
        "_apply_": _apply,
        "_print_": lambda _getattr_=None: printed,  # one collector for the whole run, not one per function
    }
    for name, value in (names or {}).items():
        if isinstance(value, types.ModuleType):
            raise TypeError(f"refusing to expose module {name!r} to sandboxed code")
        glb[name] = value
    return glb


def compile_source(source: str, filename: str = "<sandbox>") -> types.CodeType:
    """Compile model-written code under RestrictedPython's policy.

    Args:
        source: Python source.
        filename: Name shown in tracebacks and error messages.

    Returns:
        The code object.

    Raises:
        CompileError: If the source is not valid Python or breaks the policy; messages name the line.
    """
    if not isinstance(source, str):
        raise CompileError([f"code must be a string, got {type(source).__name__}"])
    try:
        result = compile_restricted_exec(source, filename=filename)
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. NUL bytes, absurd nesting
        raise CompileError([f"{type(exc).__name__}: {exc}"]) from None
    if result.errors:
        raise CompileError(list(result.errors))
    # RestrictedPython compiles imports and lets them fail at run time; refusing them here means no earlier line
    # (a tool call, say) has run before the code is turned down.
    imports = [
        node.lineno for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    if imports:
        raise CompileError(
            [
                f"Line {n}: imports are not allowed; the tools are already defined as functions"
                for n in imports
            ]
        )
    assert result.code is not None
    return result.code


class FrozenList(tuple):  # type: ignore[type-arg]
    """A read-only list: a tuple that compares equal to a list with the same items and prints like one."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            return tuple(self) == tuple(other)
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        return repr(list(self))


def freeze(value: Any) -> Any:
    """Deep read-only copy of JSON data: dicts become read-only mappings, lists :class:`FrozenList`.

    Args:
        value: JSON data.

    Returns:
        The frozen copy.

    Raises:
        TypeError: For values that are not JSON data.
    """
    if isinstance(value, dict):
        return types.MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList(freeze(v) for v in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"{type(value).__name__} values cannot be shown to sandboxed code")


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`: plain dicts and lists again (e.g. before JSON encoding).

    Args:
        value: A value made of read-only mappings, tuples and JSON scalars.

    Returns:
        Plain JSON data.
    """
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value
