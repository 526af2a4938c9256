"""The built-in action formats: ``json``, ``hermes``, ``llama3``, ``pythonic`` and ``auto``.

Every parser takes raw model text and returns a :class:`ToolCall`, a :class:`Message` or a :class:`Malformed`;
none raises, whatever the text (this is fuzzed in the tests). Text that does not even try to call a tool is a
message to the user. Text that tries and fails (broken JSON, positional arguments, …) is :class:`Malformed`, so
the agent gets an error observation saying what to fix.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from toolgym.actions.base import ActionFormat, Malformed, Message, Parsed, ToolCall, register_format

_DECODER = json.JSONDecoder()
_PYTHON_TAG = "<|python_tag|>"
_HERMES_OPEN = "<tool_call>"
_BARE_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*\(.*\)\s*", re.DOTALL)
_CALL_LIST = re.compile(r"\[\s*[A-Za-z_][A-Za-z0-9_]*\s*\(", re.DOTALL)


def _unfence(text: str) -> str:
    """Strip surrounding whitespace, a leading Markdown code fence line and Llama's python tag."""
    s = text.strip()
    if s.startswith("```"):
        newline = s.find("\n")
        s = s[newline + 1 :] if newline >= 0 else s[3:]
        if s.rstrip().endswith("```"):
            s = s.rstrip()[:-3]
        s = s.strip()
    if s.startswith(_PYTHON_TAG):
        s = s[len(_PYTHON_TAG) :].lstrip()
    return s


def call_from_object(obj: Any, ignored: int = 0) -> Parsed:
    """Read a decoded JSON value as a tool call.

    Accepts ``{"name", "arguments"}``, Llama's ``{"name", "parameters"}`` and OpenAI's ``{"function": {…}}``, with
    arguments as an object or a JSON string.

    Args:
        obj: The decoded value.
        ignored: How many further calls the turn contained.

    Returns:
        The call, or :class:`Malformed` saying what is missing.
    """
    if not isinstance(obj, dict):
        return Malformed(f"a tool call must be a JSON object, got {type(obj).__name__}")
    if "name" not in obj and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return Malformed('a tool call needs a "name" string naming the tool')
    args: Any = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # OpenAI's wire format carries arguments as a JSON string
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError as exc:
            return Malformed(f"the arguments of {name} are not valid JSON: {exc}")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return Malformed(f"the arguments of {name} must be a JSON object, got {type(args).__name__}")
    return ToolCall(name=name, arguments=args, ignored=ignored)


def _decode_json_call(s: str) -> Parsed:
    """Decode the JSON value that ``s`` starts with as one call or a list of calls."""
    try:
        value, _ = _DECODER.raw_decode(s)
    except (ValueError, RecursionError) as exc:
        return Malformed(f"the tool call is not valid JSON: {exc}")
    if isinstance(value, list):
        if not value:
            return Malformed("the list of tool calls is empty")
        return call_from_object(value[0], ignored=len(value) - 1)
    return call_from_object(value)


def parse_json(text: str) -> Parsed:
    """Parse an OpenAI-style JSON call, ``{"name": …, "arguments": {…}}``, optionally in a code fence.

    Args:
        text: The model's turn.

    Returns:
        The parsed action; text not starting with ``{`` or ``[`` is a message.
    """
    s = _unfence(text)
    if s.startswith(("{", "[")):
        return _decode_json_call(s)
    return Message(text)


def parse_hermes(text: str) -> Parsed:
    """Parse Hermes/Qwen calls, ``<tool_call>{"name": …, "arguments": {…}}</tool_call>``.

    The JSON after the first ``<tool_call>`` tag is decoded on its own, so a missing closing tag or a closing tag
    inside an argument string does no harm. Further ``<tool_call>`` blocks are counted and ignored.

    Args:
        text: The model's turn.

    Returns:
        The parsed action; text without a ``<tool_call>`` tag is a message.
    """
    start = text.find(_HERMES_OPEN)
    if start < 0:
        return Message(text)
    body = text[start + len(_HERMES_OPEN) :].lstrip()
    try:
        value, end = _DECODER.raw_decode(body)
    except (ValueError, RecursionError) as exc:
        return Malformed(f"the JSON inside <tool_call> is not valid: {exc}")
    ignored = body[end:].count(_HERMES_OPEN)
    return call_from_object(value, ignored=ignored)


def _literal(node: ast.expr, where: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as exc:
        raise _PythonicError(f"{where} must be a literal value ({exc})") from None


class _PythonicError(Exception):
    pass


def _call_from_ast(node: ast.expr) -> ToolCall:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise _PythonicError("each entry must be a call like tool_name(arg=value)")
    name = node.func.id
    if node.args:
        raise _PythonicError(f"{name}: pass arguments by keyword, e.g. {name}(order_id='#W0000001')")
    args: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise _PythonicError(f"{name}: **kwargs are not allowed; write each argument by keyword")
        args[kw.arg] = _literal(kw.value, f"{name}: argument {kw.arg!r}")
    return ToolCall(name=name, arguments=args)


def parse_pythonic(text: str) -> Parsed:
    """Parse Llama 3.2's pythonic calls, ``[tool_name(arg=value, …), …]`` (a bare single call is accepted too).

    Arguments must be keyword arguments with literal values; only the first call of a list is executed.

    Args:
        text: The model's turn.

    Returns:
        The parsed action; text that is not shaped like a call is a message.
    """
    s = _unfence(text)
    looks_like_list = _CALL_LIST.match(s) is not None
    looks_like_call = _BARE_CALL.fullmatch(s) is not None
    if not (looks_like_list or looks_like_call):
        return Message(text)
    try:
        tree = ast.parse(s, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        if looks_like_list:
            return Malformed(f"the tool call list is not valid Python: {exc}")
        return Message(text)
    body = tree.body
    try:
        if isinstance(body, ast.List):
            if not body.elts:
                return Malformed("the list of tool calls is empty")
            first = _call_from_ast(body.elts[0])
            return ToolCall(first.name, first.arguments, ignored=len(body.elts) - 1)
        if isinstance(body, ast.Call):
            return _call_from_ast(body)
    except _PythonicError as exc:
        return Malformed(str(exc))
    return Message(text) if not looks_like_list else Malformed("write tool calls as [tool_name(arg=value)]")


def parse_auto(text: str) -> Parsed:
    """Recognise whichever of the formats the text uses: hermes tags, then JSON, then pythonic.

    Args:
        text: The model's turn.

    Returns:
        The parsed action.
    """
    if _HERMES_OPEN in text:
        return parse_hermes(text)
    s = _unfence(text)
    if s.startswith("{"):
        return _decode_json_call(s)
    if s.startswith("["):
        as_json = _decode_json_call(s)
        if not isinstance(as_json, Malformed):
            return as_json
    return parse_pythonic(text)


def render_json(call: ToolCall) -> str:
    """Write ``call`` as ``{"name": …, "arguments": {…}}``.

    Args:
        call: The call.

    Returns:
        The text.
    """
    return json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)


def render_hermes(call: ToolCall) -> str:
    """Write ``call`` inside ``<tool_call>`` tags.

    Args:
        call: The call.

    Returns:
        The text.
    """
    return f"{_HERMES_OPEN}\n{render_json(call)}\n</tool_call>"


def render_llama3(call: ToolCall) -> str:
    """Write ``call`` as Llama 3.1's ``{"name": …, "parameters": {…}}``.

    Args:
        call: The call.

    Returns:
        The text.
    """
    return json.dumps({"name": call.name, "parameters": call.arguments}, ensure_ascii=False)


def render_pythonic(call: ToolCall) -> str:
    """Write ``call`` as ``[tool_name(arg=value)]``.

    Args:
        call: The call.

    Returns:
        The text.
    """
    args = ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
    return f"[{call.name}({args})]"


_ONE_CALL = "Call at most one tool per turn, and do not mix a tool call with a message to the user."
_MESSAGE = "Anything else you write is sent to the user as a message."

JSON_FORMAT = register_format(
    ActionFormat(
        name="json",
        parse=parse_json,
        render=render_json,
        instructions=(
            'To call a tool, reply with only a JSON object: {"name": "<tool name>", "arguments": {<arguments>}}. '
            f"{_ONE_CALL} {_MESSAGE}"
        ),
    )
)
HERMES_FORMAT = register_format(
    ActionFormat(
        name="hermes",
        parse=parse_hermes,
        render=render_hermes,
        instructions=(
            "To call a tool, reply with a JSON object inside tags: "
            '<tool_call>{"name": "<tool name>", "arguments": {<arguments>}}</tool_call>. '
            f"{_ONE_CALL} {_MESSAGE}"
        ),
    )
)
LLAMA3_FORMAT = register_format(
    ActionFormat(
        name="llama3",
        parse=parse_json,
        render=render_llama3,
        instructions=(
            'To call a tool, reply with only a JSON object: {"name": "<tool name>", "parameters": {<arguments>}}. '
            f"{_ONE_CALL} {_MESSAGE}"
        ),
    )
)
PYTHONIC_FORMAT = register_format(
    ActionFormat(
        name="pythonic",
        parse=parse_pythonic,
        render=render_pythonic,
        instructions=(
            "To call a tool, reply with only a Python list holding one call with keyword arguments: "
            f"[tool_name(arg1=value1, arg2=value2)]. {_ONE_CALL} {_MESSAGE}"
        ),
    )
)
AUTO_FORMAT = register_format(
    ActionFormat(
        name="auto",
        parse=parse_auto,
        render=render_json,
        instructions=JSON_FORMAT.instructions,
    )
)
